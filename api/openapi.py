"""The read API's OpenAPI 3.1 document, made from the endpoint declarations (served at
``/api/openapi.json``), so the document cannot differ from what the API serves."""

from __future__ import annotations

from typing import Any

from api.endpoints import DEFAULT_LIMIT, ENDPOINTS, MAX_LIMIT, Column, Endpoint, Kind
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
        "paths": {e.path: {"get": _operation(e)} for e in ENDPOINTS},
        "components": {
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "fillstream_token"},
            },
            "schemas": {
                **{_schema_name(e): _row(e) for e in ENDPOINTS},
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


def _operation(endpoint: Endpoint) -> dict[str, Any]:
    parameters: list[dict[str, Any]] = [
        {
            "name": f.parameter,
            "in": "query",
            "required": False,
            "description": f.doc,
            "schema": {"type": "string", "format": "date-time"} if f.bound else {"type": "string"},
        }
        for f in endpoint.filters
    ]
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
