"""POSTing JSON with urllib: redirects refused (a POST must not turn into a GET elsewhere), any
status but 2xx an error, and nothing of the URL's path or query in a message."""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.request
from collections.abc import Mapping
from email.message import Message
from typing import IO, Any

from alerts.config import redacted
from alerts.errors import DeliveryError

USER_AGENT = "fillstream-alerts/0.1"
_SNIPPET = 200


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> None:
        return None


def post_json(
    channel: str,
    url: str,
    body: Any,
    *,
    headers: Mapping[str, str],
    timeout: float,
    ca_file: str | None = None,
) -> None:
    """POST ``body`` as JSON; ``DeliveryError`` naming the status (or the network error)."""
    request = urllib.request.Request(
        url,
        data=json.dumps(body, ensure_ascii=False).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT, **headers},
    )
    context = ssl.create_default_context(cafile=ca_file)
    opener = urllib.request.build_opener(_NoRedirects, urllib.request.HTTPSHandler(context=context))
    where = redacted(url)
    try:
        with opener.open(request, timeout=timeout) as response:
            response.read()
    except urllib.error.HTTPError as e:
        snippet = e.read(_SNIPPET).decode(errors="replace").strip()
        detail = f": {' '.join(snippet.split())}" if snippet else ""
        raise DeliveryError(channel, f"{where} answered HTTP {e.code} {e.reason}{detail}") from e
    except urllib.error.URLError as e:
        raise DeliveryError(channel, f"{where} unreachable: {e.reason}") from e
    except (OSError, ValueError) as e:
        raise DeliveryError(channel, f"{where}: {e or type(e).__name__}") from e
