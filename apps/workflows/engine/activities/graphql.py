"""`graphql` functions: `<endpoint url>#<query|mutation>#<field>` with a selectionSet (spec 0.8).

Arguments are written into the document as GraphQL literals rather than sent as variables:
variables need declared types (`$id: Int!`) that a function definition does not carry, while
literals are typed by the server from the field's own schema. Encoding: strings, numbers,
booleans and null as in JSON; lists and objects as GraphQL lists and input objects; an enum
value is written `{"$enum": "ACTIVE"}` (a plain string would be quoted). For example,
arguments `{"id": 42, "pet": {"name": "Rex"}}` and selectionSet `{ id name }` on `query#pet`
give `query { pet(id: 42, pet: {name: "Rex"}) { id name } }`, POSTed as JSON `{"query": ...}`.

Result: the response's `data` object, keyed by the field (`{"pet": {...}}`), exactly as the
spec's query and mutation examples show it. A response with `errors` fails with code
GraphQLError (body: the errors); an HTTP failure without GraphQL errors fails with the HTTP
status as code.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

import httpx

from apps.core.http.auth import Authenticator
from apps.core.http.client import HttpRequest, safe_url, send

from .errors import ErrorCode, FunctionError, status_error
from .rest import add_idempotency_key

_NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*$")
_KINDS = ("query", "mutation")
# GraphQL-over-HTTP servers answer validation errors with 400 (or 422) and an `errors` list.
_GRAPHQL_ERROR_STATUSES = frozenset({400, 422})


def parse_operation(operation: Any) -> tuple[str, str, str]:
    """`<url>#<query|mutation>#<field>` -> (url, kind, field)."""
    parts = operation.rsplit("#", 2) if isinstance(operation, str) else []
    if len(parts) != 3 or not parts[0]:
        raise FunctionError(
            ErrorCode.INVALID_FUNCTION,
            f"The graphql operation '{operation}' must look like '<url>#query#<field>' or "
            "'<url>#mutation#<field>'.",
        )
    url, kind, field = parts
    if kind == "subscription":
        raise FunctionError(
            ErrorCode.UNSUPPORTED_FUNCTION_TYPE, "GraphQL subscriptions are not supported."
        )
    if kind not in _KINDS or not _NAME.match(field):
        raise FunctionError(
            ErrorCode.INVALID_FUNCTION,
            f"In the graphql operation '{operation}', expected 'query' or 'mutation' and a "
            "field name after the URL.",
        )
    return url, kind, field


def literal(value: Any) -> str:
    """A JSON value as a GraphQL input literal."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise FunctionError(ErrorCode.INVALID_ARGUMENTS, f"{value} is not a GraphQL number.")
        return json.dumps(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are GraphQL's
    if isinstance(value, list):
        return "[" + ", ".join(literal(v) for v in value) + "]"
    if isinstance(value, dict):
        if set(value) == {"$enum"}:
            enum = str(value["$enum"])
            if not _NAME.match(enum) or enum in ("true", "false", "null"):
                raise FunctionError(
                    ErrorCode.INVALID_ARGUMENTS, f"'{enum}' is not a GraphQL enum value."
                )
            return enum
        return "{" + ", ".join(f"{_name(k)}: {literal(v)}" for k, v in value.items()) + "}"
    raise FunctionError(
        ErrorCode.INVALID_ARGUMENTS, f"A {type(value).__name__} cannot be a GraphQL argument."
    )


def _name(key: Any) -> str:
    if not isinstance(key, str) or not _NAME.match(key):
        raise FunctionError(
            ErrorCode.INVALID_ARGUMENTS, f"'{key}' is not a valid GraphQL argument or field name."
        )
    return key


def build_document(kind: str, field: str, arguments: dict[str, Any], selection: str | None) -> str:
    """`query { field(a: 1) { selection } }`."""
    args = ", ".join(f"{_name(k)}: {literal(v)}" for k, v in (arguments or {}).items())
    call = f"{field}({args})" if args else field
    selection = (selection or "").strip()
    if selection and not selection.startswith("{"):
        selection = "{ " + selection + " }"
    return f"{kind} {{ {call} {selection} }}".replace("  }", " }")


async def call_graphql(
    client: httpx.AsyncClient,
    function: dict[str, Any],
    arguments: dict[str, Any],
    selection_set: str | None,
    auth: Authenticator | None,
    idempotency_key: str = "",
) -> Any:
    """POST the document and return the response's `data` ({field: ...})."""
    url, kind, field = parse_operation(function.get("operation"))
    if not isinstance(arguments, dict):
        raise FunctionError(ErrorCode.INVALID_ARGUMENTS, "GraphQL arguments must be an object.")
    document = build_document(kind, field, arguments, selection_set)
    request = HttpRequest(
        "POST",
        url,
        headers={"Content-Type": "application/json", "Accept": "application/json"},
        content=json.dumps({"query": document}, ensure_ascii=False).encode(),
    )
    label = f"GraphQL {kind} '{field}' of function '{function.get('name')}'"
    add_idempotency_key(request, idempotency_key, label)
    response = await send(client, request, auth=auth)
    body = response.body
    errors = body.get("errors") if isinstance(body, dict) else None
    if not response.ok and not (errors and response.status in _GRAPHQL_ERROR_STATUSES):
        raise status_error(response, label)
    if errors:
        messages = [
            str(e.get("message", e)) if isinstance(e, dict) else str(e)
            for e in (errors if isinstance(errors, list) else [errors])
        ]
        raise FunctionError(
            ErrorCode.GRAPHQL_ERROR, f"{label} failed: {'; '.join(messages)}", errors
        )
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        raise FunctionError(
            ErrorCode.INVALID_RESPONSE,
            f"{label}: {safe_url(url)} answered without a 'data' object.",
            body,
        )
    return {field: data.get(field)}
