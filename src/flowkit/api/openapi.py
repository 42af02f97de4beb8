"""The OpenAPI document, built from the catalogue: FlowAuth reads its scopes and audience."""

from __future__ import annotations

from flowkit.machine.catalogue import openapi_schemas, scope_universe

_ID = {"name": "query_id", "in": "path", "required": True, "schema": {"type": "string"}}
_STRING, _DATE = {"type": "string"}, {"type": "string", "format": "date"}
_QA_CHECK = [
    {
        "name": "cdr_type",
        "in": "path",
        "required": True,
        "schema": _STRING,
        "description": "Event type: calls, sms, mds, topups",
    },
    {
        "name": "check_id",
        "in": "path",
        "required": True,
        "schema": _STRING,
        "description": "A check's stored name, e.g. count_added_rows or max_duration.calls",
    },
]
_QA_OUTCOMES = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "outcome": {"type": "string", "nullable": True},
            "cdr_date": _DATE,
            "type_of_query_or_check": _STRING,
        },
    },
}


def _route(summary: str, responses: dict[str, str | dict], **extra) -> dict:
    return {
        "summary": summary,
        "security": [{"token": []}],
        "responses": {
            code: text if isinstance(text, dict) else {"description": text} for code, text in responses.items()
        },
        **extra,
    }


def _qa_paths() -> dict:
    """FlowETL's QA check outcomes (scope get_qa_checks)."""
    listing = {
        "type": "array",
        "items": {"type": "object", "properties": {"cdr_type": _STRING, "type_of_query_or_check": _STRING}},
    }
    dates = [{"name": name, "in": "query", "required": True, "schema": _DATE} for name in ("start_date", "end_date")]
    day = {"name": "check_date", "in": "path", "required": True, "schema": _DATE}
    missing = {"400": "Bad date", "404": "No outcome"}
    return {
        "/qa/": {
            "get": _route(
                "The QA checks with outcomes, per event type",
                {"200": {"description": "Checks", "content": {"application/json": {"schema": listing}}}},
                operationId="list_qa_checks",
            )
        },
        "/qa/{cdr_type}/{check_id}": {
            "get": _route(
                "A check's outcomes between two dates (end inclusive)",
                {"200": {"description": "Outcomes", "content": {"application/json": {"schema": _QA_OUTCOMES}}}}
                | missing,
                operationId="get_qa_outcomes",
                parameters=[*_QA_CHECK, *dates],
            )
        },
        "/qa/{cdr_type}/{check_id}/{check_date}": {
            "get": _route(
                "A check's outcome on one date, as text",
                {"200": {"description": "The outcome", "content": {"text/plain": {"schema": _STRING}}}} | missing,
                operationId="get_qa_outcome",
                parameters=[*_QA_CHECK, day],
            )
        },
    }


def openapi_document(server_name: str, version: str) -> dict:
    spec_body = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/FlowmachineQuerySchema"}}}}
    paths = {
        "/run": {
            "post": _route(
                "Run a query",
                {
                    "202": "Accepted; Location is the poll URL",
                    "400": "Invalid spec",
                    "401": "No token",
                    "403": "Not permitted",
                },
                operationId="run_query",
                requestBody=spec_body,
            )
        },
        "/poll/{query_id}": {
            "get": _route(
                "Query status and progress",
                {
                    "202": "Queued or executing",
                    "303": "Completed; Location is the result URL",
                    "404": "Unknown query",
                    "500": "Errored",
                },
                operationId="poll_query",
                parameters=[_ID],
            ),
            "delete": _route(
                "Cancel a queued or running query (beyond FlowKit)",
                {"200": "Cancelled", "404": "Unknown query", "409": "Not running"},
                operationId="cancel_query",
                parameters=[_ID],
            ),
        },
        "/get/{query_id}": {
            "get": _route(
                "A completed query's redacted result (append .csv or .geojson for other formats)",
                {"200": "The result", "202": "Not ready", "404": "Unknown query"},
                operationId="get_result",
                parameters=[_ID],
            )
        },
        "/geography/{aggregation_unit}": {
            "get": _route(
                "Boundaries of an aggregation unit as GeoJSON",
                {"200": "FeatureCollection", "403": "Not permitted"},
                operationId="get_geography",
                parameters=[{"name": "aggregation_unit", "in": "path", "required": True, "schema": {"type": "string"}}],
            )
        },
        "/available_dates": {
            "get": _route("Dates with data per event type", {"200": "Dates"}, operationId="get_available_dates")
        },
        **_qa_paths(),
    }
    return {
        "openapi": "3.0.1",
        "info": {
            "title": "FlowAPI",
            "version": version,
            "description": "FlowKit Analytical API",
            "license": {"name": "MPLv2", "url": "https://www.mozilla.org/en-US/MPL/2.0/"},
        },
        "servers": [{"url": "/api/0"}],
        "paths": paths,
        "components": {
            "schemas": openapi_schemas(),
            "securitySchemes": {
                "token": {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "x-security-scopes": scope_universe(),
                    "x-audience": server_name,
                }
            },
        },
    }
