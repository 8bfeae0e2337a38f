"""The read API's OpenAPI 3.1 document, made from the endpoint declarations (served at
``/api/openapi.json``), so the document cannot differ from what the API serves."""

from __future__ import annotations

from typing import Any

from api.analytics import ANALYTICS, Analytic
from api.control import EXPERIMENT_ACTIONS, SWITCH_ACTIONS
from api.endpoints import (
    DEFAULT_LIMIT,
    ENDPOINTS,
    EXECUTIONS,
    MARKET_BARS,
    MAX_LIMIT,
    SERVICE_CHECKS,
    SIGNALS,
    TRADES,
    Column,
    Endpoint,
    Kind,
)
from api.queries import QueryError

VERSION = "0.1.0"

_SCHEMAS: dict[Kind, dict[str, Any]] = {
    Kind.TEXT: {"type": "string"},
    Kind.INTEGER: {"type": "integer"},
    Kind.DECIMAL: {
        "type": "string",
        "format": "decimal",
        "pattern": r"^-?\d+(\.\d+)?(E[+-]?\d+)?$",
    },
    Kind.TIMESTAMP: {"type": "string", "format": "date-time"},
    Kind.SECONDS: {"type": "string", "format": "decimal", "description": "seconds"},
    Kind.TEXTS: {"type": "array", "items": {"type": "string"}},
    Kind.NUMBER: {"oneOf": [{"type": "number"},
                            {"type": "string", "enum": ["Infinity", "-Infinity", "NaN"]}]},
    Kind.BOOLEAN: {"type": "boolean"},
    Kind.DATE: {"type": "string", "format": "date"},
    Kind.OBJECT: {"type": "object"},
    Kind.VERDICTS: {"type": "array", "items": {
        "type": "object",
        "required": ["rule", "kind", "mode", "verdict", "value", "limit", "reason", "halt"],
        "properties": {
            "rule": {"type": "string"}, "kind": {"type": "string"},
            "mode": {"type": "string", "enum": ["enforce", "observe"]},
            "verdict": {"type": "string", "enum": ["pass", "fail"]},
            "value": {"oneOf": [{"type": "string", "format": "decimal"}, {"type": "null"}]},
            "limit": {"oneOf": [{"type": "string", "format": "decimal"}, {"type": "null"}]},
            "reason": {"type": "string"}, "halt": {"type": "boolean"},
        },
    }},  # fmt: skip
}  # fmt: skip


def document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "fillstream read API",
            "version": VERSION,
            "description": "The projections' views as JSON. Every request needs the token: "
            "`Authorization: Bearer <token>`, or the cookie `/login?token=` sets.",
        },
        "security": [{"bearer": []}, {"cookie": []}],
        "paths": {
            **{e.path: {"get": _operation(e)} for e in ENDPOINTS},
            **{a.path: {"get": _analytic(a)} for a in ANALYTICS},
            **_more_paths(),
        },
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "fillstream_token"},
            },
            "schemas": {
                **{_schema_name(e): _row(e) for e in ENDPOINTS},
                **{_analytic_name(a): a.response for a in ANALYTICS},
                **_more_schemas(),
                "Problem": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {"type": "string"},
                        "parameter": {"type": "string"},
                    },
                },
            },
        },
    }


def _schema_name(endpoint: Endpoint) -> str:
    return "".join(part.capitalize() for part in endpoint.name.split("_")) + "Row"


def _row(endpoint: Endpoint) -> dict[str, Any]:
    return {
        "type": "object",
        "required": [c.name for c in endpoint.columns],
        "additionalProperties": False,
        "properties": {c.name: _column(c) for c in endpoint.columns},
    }


def _column(column: Column) -> dict[str, Any]:
    schema = dict(_SCHEMAS[column.kind])
    if column.nullable:
        schema = {"oneOf": [schema, {"type": "null"}]}
    if column.doc:
        schema["description"] = column.doc
    return schema


def _filters(endpoint: Endpoint) -> list[dict[str, Any]]:
    """The endpoint's filters as query parameters."""
    return [
        {
            "name": f.parameter,
            "in": "query",
            "required": False,
            "description": f.doc,
            "schema": {"type": "string", "format": "date-time"} if f.bound else {"type": "string"},
        }
        for f in endpoint.filters
    ]


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters = _filters(endpoint)
    parameters += [
        {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"},
         "description": "the `next` of the previous page"},
        {"name": "sort", "in": "query", "required": False,
         "schema": {"type": "string", "enum": list(endpoint.sortable)},
         "description": "order by this column (then by the last of the default order)"},
        {"name": "direction", "in": "query", "required": False,
         "schema": {"type": "string", "enum": ["desc", "asc"], "default": "desc"}},
        {"name": "limit", "in": "query", "required": False,
         "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT,
                    "default": DEFAULT_LIMIT}},
    ]  # fmt: skip
    problem = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    return {
        "operationId": f"list_{endpoint.name}",
        "summary": endpoint.summary,
        "parameters": parameters,
        "responses": {
            "200": {
                "description": f"a page of {endpoint.view}, ordered by "
                f"{', '.join(endpoint.order)} descending",
                "content": {
                    "application/json": {
                        "schema": {
                            "type": "object",
                            "required": ["items", "next"],
                            "properties": {
                                "items": {
                                    "type": "array",
                                    "items": {
                                        "$ref": f"#/components/schemas/{_schema_name(endpoint)}"
                                    },
                                },
                                "next": {"oneOf": [{"type": "string"}, {"type": "null"}]},
                            },
                        }
                    }
                },
            },
            "400": {"description": QueryError.__doc__ or "", "content": problem},
            "401": {"description": "no token, or not the token", "content": problem},
        },
    }


_PROBLEM = {"application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _ref(name: str) -> dict[str, Any]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"description": description or "the answer",
            "content": {"application/json": {"schema": schema}}}  # fmt: skip


def _analytic_name(analytic: Analytic) -> str:
    return analytic.name.capitalize() + "Answer"


def _analytic(analytic: Analytic) -> dict[str, Any]:
    own = []
    for p in analytic.params:
        schema: dict[str, Any] = {"type": "string"}
        if p.choices:
            schema = {"type": "string", "enum": list(p.choices)}
        if p.integer is not None:
            schema = {"type": "integer", "minimum": p.integer[0], "maximum": p.integer[1]}
        if p.default:
            schema["default"] = int(p.default) if p.integer else p.default
        own.append({"name": p.name, "in": "query", "required": False, "description": p.doc,
                    "schema": schema})  # fmt: skip
    return {
        "operationId": f"get_{analytic.name}",
        "summary": analytic.summary,
        "parameters": own + _filters(TRADES),
        "responses": {
            "200": _json(_ref(_analytic_name(analytic))),
            "400": {"description": "a bad parameter, named", "content": _PROBLEM},
            "401": {"description": "no token, or not the token", "content": _PROBLEM},
        },
    }


def _rows(endpoint: Endpoint) -> dict[str, Any]:
    return {"type": "array", "items": _ref(_schema_name(endpoint))}


def _more_schemas() -> dict[str, Any]:
    free = {"type": "object", "additionalProperties": True}
    return {
        "TradeDetail": {
            "type": "object",
            "required": ["trade", "executions", "signal", "bars"],
            "properties": {
                "trade": _ref(_schema_name(TRADES)),
                "executions": _rows(EXECUTIONS),
                "signal": {"oneOf": [_ref(_schema_name(SIGNALS)), {"type": "null"}]},
                "bars": _rows(MARKET_BARS),
            },
        },
        "Service": {
            "allOf": [
                _ref(_schema_name(SERVICE_CHECKS)),
                {
                    "type": "object",
                    "required": ["silent"],
                    "properties": {
                        "silent": {"type": "boolean", "description": "no check for two intervals"}
                    },
                },
            ]
        },  # fmt: skip
        "Report": {
            "type": "object",
            "description": "A scheduled report the notifier made, as it was sent.",
            "required": [
                "kind",
                "first",
                "last",
                "title",
                "rendered_at",
                "headline",
                "page",
                "pdf",
                "deliveries",
            ],
            "properties": {
                "kind": {"type": "string", "enum": ["daily", "weekly"]},
                "first": {"type": "string", "format": "date"},
                "last": {"type": "string", "format": "date"},
                "title": {"type": "string"},
                "rendered_at": {"type": "string", "format": "date-time"},
                "headline": {
                    "type": "object",
                    "additionalProperties": {"type": "string"},
                    "description": "Trades, Net P&L, Win rate, Alerts, as shown",
                },
                "page": {"type": "string", "description": "the report's page (same origin)"},
                "pdf": {"type": "string", "description": "its PDF"},
                "deliveries": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["channel", "outcome", "late"],
                        "properties": {
                            "channel": {"type": "string"},
                            "outcome": {
                                "type": "string",
                                "enum": ["pending", "delivered", "failed", "skipped"],
                            },
                            "late": {"type": "boolean"},
                            "delivered_at": {"oneOf": [{"type": "string"}, {"type": "null"}]},
                        },
                    },
                },
            },
        },
        "Definitions": {
            "type": "object",
            "required": ["version", "figures"],
            "properties": {
                "version": {"type": "integer"},
                "figures": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "Experiment": {**free, "description": "as `fillstream experiments list --json`"},
        "ExperimentReport": {
            **free,
            "description": "as `fillstream experiments show --json`, "
            "with next_step, kill_switch and history",
        },  # fmt: skip
        "Silence": {
            "type": "object",
            "required": ["id", "matchers", "starts_at", "ends_at", "created_by", "comment"],
            "properties": {
                "id": {"type": "string"},
                "matchers": {"type": "object", "additionalProperties": {"type": "string"}},
                "starts_at": {"type": "string", "format": "date-time"},
                "ends_at": {"type": "string", "format": "date-time"},
                "created_by": {"type": "string"},
                "comment": {"type": "string"},
            },
        },
        "Change": {**free, "description": "what was recorded"},
        "GateGroup": {
            "type": "object",
            "required": [
                "signals",
                "with_outcome",
                "mean",
                "ci_low",
                "ci_high",
                "win_rate",
                "total",
            ],
            "properties": {
                "signals": {"type": "integer"},
                "with_outcome": {"type": "integer", "description": "with a closed trade yet"},
                "mean": _maybe_number("the mean net P&L per signal"),
                "ci_low": _maybe_number("the mean's 95 % bootstrap interval"),
                "ci_high": _maybe_number(),
                "win_rate": _maybe_number(),
                "total": {"type": "string", "format": "decimal"},
            },
        },
        "GateRuleValue": {
            "type": "object",
            "required": ["rule", "kind", "mode", "failed", "passed", "difference"],
            "properties": {
                "rule": {"type": "string"},
                "kind": {"type": "string"},
                "mode": {"type": "string"},
                "failed": _ref("GateGroup"),
                "passed": _ref("GateGroup"),
                "difference": {
                    "oneOf": [
                        {"type": "null"},
                        {
                            "type": "object",
                            "required": ["mean", "ci_low", "ci_high"],
                            "properties": {
                                "mean": {"type": "number"},
                                "ci_low": {"type": "number"},
                                "ci_high": {"type": "number"},
                            },
                        },
                    ]
                },
            },
        },
        "Pipeline": {
            "type": "object",
            "required": ["groups", "latency"],
            "properties": {
                "groups": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["group", "state", "members", "lag"],
                        "properties": {
                            "group": {"type": "string"},
                            "state": {"type": "string"},
                            "members": {"type": "integer"},
                            "lag": {"type": "integer"},
                        },
                    },
                },
                "latency": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["projection", "count", "p50", "p99"],
                        "properties": {
                            "projection": {"type": "string"},
                            "count": {"type": "integer"},
                            "p50": {"oneOf": [{"type": "number"}, {"type": "string"}]},
                            "p99": {"oneOf": [{"type": "number"}, {"type": "string"}]},
                        },
                    },
                },
            },
        },  # fmt: skip
    }


def _maybe_number(description: str = "") -> dict[str, Any]:
    return {"oneOf": [{"type": "number"}, {"type": "null"}], "description": description}


def _items(schema: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "required": ["items"],
            "properties": {"items": {"type": "array", "items": schema}}}  # fmt: skip


def _change(summary: str, body: dict[str, Any], path_params: list[str]) -> dict[str, Any]:
    return {
        "summary": summary + " Only from a page of this server (`Origin`), as JSON; recorded "
        "as the CLI records it, by `dashboard`.",
        "parameters": [
            {"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
            for n in path_params
        ],  # fmt: skip
        "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
        "responses": {
            "200": _json(_ref("Change")),
            "400": {"description": "a bad field, named", "content": _PROBLEM},
            "403": {"description": "not from a page of this server", "content": _PROBLEM},
            "404": {"description": "no such thing", "content": _PROBLEM},
            "409": {"description": "refused, with the reason", "content": _PROBLEM},
        },
    }


def _more_paths() -> dict[str, Any]:
    reason = {"type": "object", "properties": {"reason": {"type": "string", "maxLength": 500}}}
    return {
        "/api/events": {"get": {
            "operationId": "events",
            "summary": "Server-Sent Events: trade, position, performance, alert, health and "
            "resync events as the views change, each with an id; `Last-Event-ID` resumes.",
            "parameters": [{"name": "Last-Event-ID", "in": "header", "required": False,
                            "schema": {"type": "string"}}],
            "responses": {"200": {"description": "the stream", "content": {
                "text/event-stream": {"schema": {"type": "string"}}}}},
        }},
        "/api/trade": {"get": {
            "operationId": "get_trade",
            "summary": "A trade with its executions (where the log holds them), its signal and "
            "the price bars around it.",
            "parameters": [{"name": "trade_id", "in": "query", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json(_ref("TradeDetail")),
                          "404": {"description": "no such trade", "content": _PROBLEM}},
        }},
        "/api/services": {"get": {
            "operationId": "get_services",
            "summary": "Each process's latest health check of the last day.",
            "responses": {"200": _json(_items(_ref("Service")))},
        }},
        "/api/trades.csv": {"get": {
            "operationId": "get_trades_csv",
            "summary": "Every trade the filters select as CSV, `columns` of them, streamed.",
            "parameters": [*_filters(TRADES),
                           {"name": "columns", "in": "query", "required": False,
                            "schema": {"type": "string"}, "description": "comma-separated"}],
            "responses": {"200": {"description": "CSV",
                                  "content": {"text/csv": {"schema": {"type": "string"}}}}},
        }},
        "/api/gate-report": {"get": {
            "operationId": "get_gate_report",
            "summary": "Per rule of the pre-trade gate, what the signals it failed made (paper "
            "trades, when denied) beside what those it passed made, each mean with its bootstrap "
            "interval, and the difference (failed − passed) with its own; the first row sets "
            "every denied signal beside every allowed one.",
            "parameters": [
                {"name": n, "in": "query", "required": False, "description": d,
                 "schema": {"type": "string", **({"format": "date"} if f else {})}}
                for n, d, f in (("account", "one account's decisions", False),
                                ("strategy", "one strategy's decisions", False),
                                ("from", "the first trading day", True),
                                ("to", "the last trading day", True))
            ],
            "responses": {"200": _json(_items(_ref("GateRuleValue"))),
                          "400": {"description": "a day that is not one", "content": _PROBLEM}},
        }},
        "/api/reports": {"get": {
            "operationId": "get_reports",
            "summary": "The scheduled reports the notifier made, newest first: kind, period, "
            "title, headline figures, the page and PDF addresses, and each channel's delivery "
            "(outcome, late, when).",
            "parameters": [
                {"name": "kind", "in": "query", "required": False,
                 "schema": {"type": "string", "enum": ["daily", "weekly"]}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 60}},
            ],
            "responses": {"200": _json(_items(_ref("Report"))),
                          "400": {"description": "a bad kind or limit", "content": _PROBLEM}},
        }},
        "/api/definitions": {"get": {
            "operationId": "get_definitions",
            "summary": "Each performance figure's definition, and the definitions' version.",
            "responses": {"200": _json(_ref("Definitions"))},
        }},
        "/api/pipeline": {"get": {
            "operationId": "get_pipeline",
            "summary": "The consumer groups' lag, and the projector's ingest-to-projection "
            "latency per projection (p50 and p99 as histogram bucket bounds, seconds).",
            "responses": {"200": _json(_ref("Pipeline"))},
        }},
        "/api/experiments": {"get": {
            "operationId": "get_experiments",
            "summary": "Every experiment, and the kill switch.",
            "responses": {"200": _json(_items(_ref("Experiment")))},
        }},
        "/api/experiments/{id}": {"get": {
            "operationId": "get_experiment",
            "summary": "One experiment's report: arms, intervals, sample ratio, next step, "
            "history.",
            "parameters": [{"name": "id", "in": "path", "required": True,
                            "schema": {"type": "string"}}],
            "responses": {"200": _json(_ref("ExperimentReport")),
                          "404": {"description": "no such experiment", "content": _PROBLEM}},
        }},
        "/api/experiments/{id}/{action}": {"post": {
            **_change(f"Change an experiment: {', '.join(EXPERIMENT_ACTIONS)}.", reason,
                      ["id", "action"]),
            "operationId": "change_experiment"}},
        "/api/kill-switch/{action}": {"post": {
            **_change(f"The kill switch: {', '.join(SWITCH_ACTIONS)}.", reason, ["action"]),
            "operationId": "switch"}},
        "/api/silences": {
            "get": {"operationId": "get_silences", "summary": "The silences in force.",
                    "responses": {"200": _json(_items(_ref("Silence")))}},
            "post": {**_change("Hold the alerts matching every label back for a while.", {
                "type": "object", "required": ["matchers", "seconds"],
                "properties": {
                    "matchers": {"type": "object", "additionalProperties": {"type": "string"}},
                    "seconds": {"type": "integer", "minimum": 60},
                    "comment": {"type": "string", "maxLength": 500}}}, []),
                "operationId": "silence"},
        },
        "/api/silences/{id}/end": {"post": {
            **_change("End a silence now.", {"type": "object"}, ["id"]),
            "operationId": "unsilence"}},
    }  # fmt: skip


if __name__ == "__main__":  # the document, for the dashboard's build to type its calls
    import json
    import sys

    json.dump(document(), sys.stdout, indent=1)
