"""`rest` functions: the 0.8 `<openapi document>#<operationId>` form and xflow's inline form.

How arguments become the request (both forms):
1. An argument named like a declared parameter (path, query, header, cookie; path-item and
   operation level; Swagger 2 formData) fills it, serialised by the parameter's style/explode
   (OpenAPI 3) or collectionFormat (Swagger 2).
2. An argument named `body` (when no parameter has that name) is the whole request body; for
   Swagger 2 the name of the `in: body` parameter works too.
3. Otherwise, when the operation takes a body (a requestBody, a Swagger 2 body/formData
   parameter, an inline post/put/patch), the remaining arguments form a JSON object body.
4. Remaining arguments of an operation without a body: inline form -> the query string;
   OpenAPI form -> not sent (the document is the contract), logged at debug level.
A missing required parameter, or a missing required body, fails with code InvalidArguments.

The inline form: `operation` is an object, an inline OpenAPI path item with its server:

    {
      "url": "https://api.example.com/v1",           # server base (or "servers": [{"url"}])
      "path": "/pets/{petId}",                       # {x}: required path params
      "method": "put",                               # default: post with a requestBody, else get
      "parameters": [{"name": "X-Tenant", "in": "header"}, {"name": "dryRun", "in": "query"}],
      "requestBody": {"content": {"application/json": {}}},
      "headers": {"Accept-Language": "en"}           # constant headers
    }

The path-item shape works too: `{"url", "path", "put": {"parameters", "requestBody"}}`.
`metadata.serverUrl` on the function overrides the server of either form (a test stage...).
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from apps.core.http.auth import Authenticator
from apps.core.http.client import HttpRequest, is_json_type, safe_url, send
from apps.core.http.openapi import HTTP_METHODS, RestOperation, find_operation, load_document

from .errors import ErrorCode, FunctionError, status_error

logger = logging.getLogger("xflow.workflows.functions")

_PATH_VARIABLE = re.compile(r"\{([^}/]+)\}")
_BODY_METHODS = frozenset({"post", "put", "patch"})
_SWAGGER2_SEPARATORS = {"csv": ",", "ssv": " ", "tsv": "\t", "pipes": "|"}
IDEMPOTENCY_HEADER = "Idempotency-Key"


def split_operation(operation: str) -> tuple[str, str]:
    """`<document uri>#<operationId>` -> (uri, operationId)."""
    uri, sep, operation_id = operation.rpartition("#")
    if not sep or not uri or not operation_id:
        raise FunctionError(
            ErrorCode.INVALID_FUNCTION,
            f"The rest operation '{operation}' must look like '<openapi document>#<operationId>'.",
        )
    return uri, operation_id


def add_idempotency_key(request: HttpRequest, key: str, label: str) -> None:
    """Send the platform's key, unless the definition sets the header itself (documented)."""
    if not key:
        return
    own = [name for name in request.headers if name.lower() == IDEMPOTENCY_HEADER.lower()]
    if own:
        # A definition may name its own key (an order number...): that is a deliberate
        # choice, kept, and said in the worker log rather than replaced without a word.
        logger.info(
            "%s: the definition sets %s itself; the platform's key is not sent", label, own[0]
        )
        return
    request.headers[IDEMPOTENCY_HEADER] = key


async def call_rest(
    client: httpx.AsyncClient,
    function: dict[str, Any],
    arguments: dict[str, Any],
    auth: Authenticator | None,
    idempotency_key: str = "",
) -> Any:
    """Resolve the operation, send the request, return the parsed 2xx body."""
    operation = function.get("operation")
    if isinstance(operation, dict):
        op = inline_operation(operation)
    elif isinstance(operation, str) and operation:
        uri, operation_id = split_operation(operation)
        document = await load_document(client, uri, auth)
        op = find_operation(document, operation_id, uri)
    else:
        raise FunctionError(
            ErrorCode.INVALID_FUNCTION,
            f"Function '{function.get('name')}' has no operation: give '<openapi>#<operationId>' "
            "or an inline operation object.",
        )
    server = (function.get("metadata") or {}).get("serverUrl")
    if server:
        op.base_url = str(server)
    label = f"Function '{function.get('name')}' ({op.label})"
    request = build_request(op, arguments)
    add_idempotency_key(request, idempotency_key, label)
    response = await send(client, request, auth=auth)
    if not response.ok:
        raise status_error(response, label)
    return response.body


def inline_operation(spec: dict[str, Any]) -> RestOperation:
    """A RestOperation from xflow's inline form (see the module docstring)."""
    servers = spec.get("servers")
    url = spec.get("url") or (
        servers[0].get("url") if isinstance(servers, list) and servers else ""
    )
    path = str(spec.get("path") or "")
    if not url and not httpx.URL(path).is_absolute_url:
        raise FunctionError(
            ErrorCode.INVALID_FUNCTION,
            "The inline operation needs an absolute 'url' (or a 'path' that is a full URL).",
        )
    method_ops = [m for m in HTTP_METHODS if isinstance(spec.get(m), dict)]
    inner: dict[str, Any] = spec.get(method_ops[0]) if method_ops else {}  # type: ignore[assignment]
    params = list(spec.get("parameters") or []) + list(inner.get("parameters") or [])
    body = inner.get("requestBody", spec.get("requestBody"))
    method = str(
        method_ops[0] if method_ops else spec.get("method") or ("post" if body else "get")
    ).lower()
    if method not in HTTP_METHODS:
        raise FunctionError(
            ErrorCode.INVALID_FUNCTION, f"The inline operation's method '{method}' is not HTTP."
        )
    return RestOperation(
        label=f"{method.upper()} {safe_url(path) if path else safe_url(url)}",
        method=method,
        base_url=str(url or ""),
        path=path,
        parameters=[p for p in params if isinstance(p, dict) and "name" in p and "in" in p],
        request_body=body if isinstance(body, dict) else None,
        headers={str(k): str(v) for k, v in (spec.get("headers") or {}).items()},
        inline=True,
    )


def build_request(op: RestOperation, arguments: dict[str, Any]) -> HttpRequest:
    """The HTTP request for `op` with `arguments`, by the rule in the module docstring."""
    if not isinstance(arguments, dict):
        raise FunctionError(ErrorCode.INVALID_ARGUMENTS, "Function arguments must be an object.")
    remaining = dict(arguments)
    missing: list[str] = []
    path = op.path
    params: list[tuple[str, str]] = []
    headers = {"Accept": "application/json, */*;q=0.8", **op.headers}
    cookies: list[str] = []
    form: dict[str, Any] = {}
    body: Any = _NO_BODY
    body_param: dict[str, Any] | None = None

    for param in op.parameters:
        name, where = str(param["name"]), param["in"]
        if where == "body":  # Swagger 2
            body_param = param
            continue
        if name not in remaining:
            if param.get("required") or where == "path":
                missing.append(f"{name} ({where})")
            continue
        value = remaining.pop(name)
        if where == "path":
            text = _serialize_simple(value, param)
            path = path.replace("{" + name + "}", quote(text, safe=""))
        elif where == "query":
            params += _serialize_query(name, value, param)
        elif where == "header":
            headers[name] = _serialize_simple(value, param)
        elif where == "cookie":
            cookies.append(f"{name}={quote(_serialize_simple(value, param), safe='')}")
        elif where == "formData":  # Swagger 2
            form[name] = value

    # A `{x}` the parameters do not declare is still a path parameter (inline form, sloppy docs).
    for name in _PATH_VARIABLE.findall(path):
        if name in remaining:
            path = path.replace("{" + name + "}", quote(_scalar(remaining.pop(name)), safe=""))
        elif f"{name} (path)" not in missing:
            missing.append(f"{name} (path)")

    if body_param is not None and body_param["name"] in remaining:
        body = remaining.pop(body_param["name"])
    elif "body" in remaining:
        body = remaining.pop("body")
    takes_body = (
        op.request_body is not None
        or body_param is not None
        or (op.inline and op.method in _BODY_METHODS)
    )
    if body is _NO_BODY and form:
        body = form
    elif body is _NO_BODY and takes_body and remaining:
        body, remaining = remaining, {}
    required_body = (op.request_body or body_param or {}).get("required")
    if body is _NO_BODY and required_body:
        missing.append("body")
    if missing:
        raise FunctionError(
            ErrorCode.INVALID_ARGUMENTS,
            f"Missing required argument(s) for {op.label}: {', '.join(missing)}.",
        )
    if remaining:
        if op.inline:
            for name, value in remaining.items():
                params += _serialize_query(name, value, {})
        else:
            unsent = sorted(remaining)
            logger.debug("%s: arguments not in the operation, not sent: %s", op.label, unsent)

    content = None
    if body is not _NO_BODY:
        media = "application/x-www-form-urlencoded" if form else _body_media_type(op)
        headers.setdefault("Content-Type", media)
        content = _encode_body(body, headers["Content-Type"])
    if cookies:
        headers["Cookie"] = "; ".join(cookies)
    url = op.base_url.rstrip("/") + path if op.base_url else path
    return HttpRequest(op.method, url, params=params, headers=headers, content=content)


class _NoBody:
    def __repr__(self) -> str:
        return "<no body>"


_NO_BODY: Any = _NoBody()


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return str(value)


def _serialize_simple(value: Any, param: dict[str, Any]) -> str:
    """OpenAPI `simple` style (path, header): arrays and objects comma-separated."""
    if "content" in param:  # a parameter described by media type: JSON-encode it
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    if isinstance(value, list):
        sep = _SWAGGER2_SEPARATORS.get(param.get("collectionFormat", "csv"), ",")
        return sep.join(_scalar(v) for v in value)
    if isinstance(value, dict):
        if param.get("explode"):
            return ",".join(f"{k}={_scalar(v)}" for k, v in value.items())
        return ",".join(f"{k},{_scalar(v)}" for k, v in value.items())
    return _scalar(value)


def _serialize_query(name: str, value: Any, param: dict[str, Any]) -> list[tuple[str, str]]:
    """OpenAPI 3 query styles (form, spaceDelimited, pipeDelimited, deepObject), Swagger 2 too."""
    if "content" in param:
        return [(name, json.dumps(value, ensure_ascii=False, separators=(",", ":")))]
    style = param.get("style", "form")
    explode = param.get("explode", style == "form")
    if isinstance(value, list):
        fmt = param.get("collectionFormat")
        if fmt == "multi" or (fmt is None and explode and style == "form"):
            return [(name, _scalar(v)) for v in value]
        sep = {"spaceDelimited": " ", "pipeDelimited": "|"}.get(style, ",")
        sep = _SWAGGER2_SEPARATORS.get(fmt, sep) if fmt else sep
        return [(name, sep.join(_scalar(v) for v in value))]
    if isinstance(value, dict):
        if style == "deepObject":
            return [(f"{name}[{k}]", _scalar(v)) for k, v in value.items()]
        if explode:
            return [(str(k), _scalar(v)) for k, v in value.items()]
        return [(name, ",".join(f"{k},{_scalar(v)}" for k, v in value.items()))]
    return [(name, _scalar(value))]


def _body_media_type(op: RestOperation) -> str:
    types = list((op.request_body or {}).get("content") or {}) or op.consumes
    for media in types:
        if is_json_type(media):
            return media
    return types[0] if types else "application/json"


def _encode_body(body: Any, media: str) -> bytes:
    kind = media.split(";", 1)[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        if not isinstance(body, dict):
            raise FunctionError(
                ErrorCode.INVALID_ARGUMENTS, "A form-encoded body must be an object of fields."
            )
        pairs = [
            (k, _scalar(item))
            for k, v in body.items()
            for item in (v if isinstance(v, list) else [v])
        ]
        return urlencode(pairs).encode()
    if kind.startswith("multipart/"):
        raise FunctionError(
            ErrorCode.INVALID_FUNCTION, f"Request bodies of type {kind} are not supported."
        )
    if isinstance(body, str) and not is_json_type(kind):
        return body.encode()
    return json.dumps(body, ensure_ascii=False).encode()
