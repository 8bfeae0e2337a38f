"""Stopping within a grace period, whatever the process's threads are doing.

Python runs a signal handler only when the main thread comes back to the interpreter, and a
thread blocked in native code (a librdkafka call) may never come back. ``stop_on_signals``
therefore has the interpreter's C-level handler write each signal to a socket (``set_wakeup_fd``)
that a thread of its own reads: on the first SIGTERM or SIGINT it sets the process's ``stop``
event and starts ``exit_after``; a second one ends the process at once. ``exit_after`` ends the
process with status 1, its stacks logged, if it has not exited ``grace`` seconds later.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import signal
import socket
import sys
import threading

log = logging.getLogger("fillstream.shutdown")

GRACE_SECONDS = 10.0
"""How long a process of ours takes at most to stop after SIGTERM (supervisors wait longer:
``fillstream down`` 15 s, the systemd units 90 s, compose 60 s)."""

_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def stop_on_signals(stop: threading.Event, *, name: str, grace: float = GRACE_SECONDS) -> None:
    """SIGTERM and SIGINT set ``stop``; see the module docstring. Call from the main thread."""
    reader, writer = socket.socketpair()
    writer.setblocking(False)
    signal.set_wakeup_fd(writer.fileno(), warn_on_full_buffer=False)
    for signum in _SIGNALS:
        signal.signal(signum, _noted)  # the watcher thread acts; the handler must only exist

    def watch() -> None:
        seen = 0
        while True:
            data = reader.recv(64)
            if not data:
                return
            for signum in data:
                if signum not in _SIGNALS:
                    continue
                seen += 1
                if seen == 1:
                    log.info("%s: %s received; stopping", name, signal.Signals(signum).name)
                    stop.set()
                    exit_after(grace, name)
                else:
                    log.warning("%s: a second signal; exiting now", name)
                    _exit(name)

    threading.Thread(target=watch, name=f"signals:{name}", daemon=True).start()
    _keep.extend((reader, writer))


def exit_after(grace: float, name: str) -> threading.Thread:
    """End the process if it has not exited ``grace`` seconds from now."""

    def wait() -> None:
        threading.Event().wait(grace)
        log.error("%s: did not stop within %g s; exiting (its stacks follow)", name, grace)
        _exit(name)

    thread = threading.Thread(target=wait, name=f"exit-after:{name}", daemon=True)
    thread.start()
    return thread


def _exit(name: str) -> None:
    for handler in logging.getLogger().handlers:
        handler.flush()
    faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
    sys.stderr.flush()
    os._exit(1)


def _noted(signum: int, frame: object) -> None:
    """The Python-level handler: nothing to do (the watcher thread has the signal)."""


_keep: list[socket.socket] = []
"""The wakeup sockets, kept open for the life of the process."""
