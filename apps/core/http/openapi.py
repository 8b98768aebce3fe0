"""OpenAPI documents (3, or Swagger 2): load under the outbound policy, cache, find operations.

A document is cached per location for `DOCUMENT_TTL` seconds in the process. Where it may
come from is `documents.fetch_document`'s rule: http(s) under the outbound policy, or a file
inside XFLOW_RESOURCE_DIR (`file://petstore.json`, as the spec's examples write it). Only
local `$ref`s (`#/components/...`) are followed.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx

from .client import safe_url
from .documents import fetch_document, locate
from .errors import CallError, CallErrorCode

if TYPE_CHECKING:
    from .auth import Authenticator

DOCUMENT_TTL = 300.0
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_MAX_REF_DEPTH = 32
_KNOWN_IDS_SHOWN = 30

_documents: dict[str, tuple[dict[str, Any], float]] = {}


def clear_document_cache() -> None:
    _documents.clear()


@dataclass
class RestOperation:
    """One HTTP operation, from an OpenAPI document or from an inline description."""

    label: str  # for messages: the operationId or "GET /pets/{id}"
    method: str
    base_url: str
    path: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    request_body: dict[str, Any] | None = None  # OpenAPI 3 requestBody object
    consumes: list[str] = field(default_factory=list)  # Swagger 2 media types
    headers: dict[str, str] = field(default_factory=dict)  # constant headers (inline form)
    inline: bool = False


def _error(message: str) -> CallError:
    return CallError(CallErrorCode.OPENAPI_ERROR, message)


async def load_document(
    client: httpx.AsyncClient, uri: str, auth: Authenticator | None = None
) -> dict[str, Any]:
    """The parsed OpenAPI/Swagger document at `uri`, from the cache while fresh.

    Spec (Auth Definition): a function's authRef is what gives access to "the resource
    containing the function invocation information", so it is sent for the document too.
    """
    _, location = locate(uri)
    cached = _documents.get(location)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    try:
        document = await fetch_document(uri, what="OpenAPI document", client=client, auth=auth)
    except CallError as exc:
        if exc.code != CallErrorCode.DOCUMENT_ERROR:
            raise
        raise _error(exc.message) from None
    _check_document(document, uri)
    _documents[location] = (document, time.monotonic() + DOCUMENT_TTL)
    return document


def _check_document(document: Any, uri: str) -> None:
    version = ""
    if isinstance(document, dict):
        version = str(document.get("openapi") or document.get("swagger") or "")
    if not version.startswith(("3.", "2.")) or not isinstance(document.get("paths"), dict):
        raise _error(
            f"{safe_url(uri)} is not an OpenAPI 3 or Swagger 2 document "
            "(it needs an 'openapi' or 'swagger' version and 'paths').",
        )


def deref(document: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """Follow a local `$ref` (JSON pointer into the same document) until a real object."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if depth > _MAX_REF_DEPTH or not isinstance(ref, str) or not ref.startswith("#/"):
            raise _error(
                f"Cannot resolve $ref '{ref}': only local references (#/...) are supported.",
            )
        target: Any = document
        for token in ref[2:].split("/"):
            token = unquote(token).replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or token not in target:
                raise _error(f"The $ref '{ref}' points to nothing.")
            target = target[token]
        node, depth = target, depth + 1
    return node


def merge_parameters(
    document: dict[str, Any], *levels: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Path-item then operation parameters; a later level overrides by (name, in)."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for level in levels:
        for raw in level or ():
            param = deref(document, raw)
            if isinstance(param, dict) and "name" in param and "in" in param:
                merged[(param["name"], param["in"])] = param
    return list(merged.values())


def find_operation(document: dict[str, Any], operation_id: str, uri: str) -> RestOperation:
    """The operation with this operationId, its parameters merged and its server resolved."""
    known: list[str] = []
    for path, raw_item in document["paths"].items():
        item = deref(document, raw_item)
        if not isinstance(item, dict):
            continue
        for method in HTTP_METHODS:
            op = item.get(method)
            if not isinstance(op, dict) or "operationId" not in op:
                continue
            if op["operationId"] != operation_id:
                known.append(str(op["operationId"]))
                continue
            parameters = merge_parameters(document, item.get("parameters"), op.get("parameters"))
            if str(document.get("swagger", "")).startswith("2"):
                return RestOperation(
                    label=operation_id,
                    method=method,
                    base_url=_swagger2_base(document, uri),
                    path=path,
                    parameters=parameters,
                    consumes=list(op.get("consumes") or document.get("consumes") or []),
                )
            servers = op.get("servers") or item.get("servers") or document.get("servers")
            body = deref(document, op["requestBody"]) if "requestBody" in op else None
            return RestOperation(
                label=operation_id,
                method=method,
                base_url=_server_url(servers, uri),
                path=path,
                parameters=parameters,
                request_body=body,
            )
    shown = ", ".join(sorted(known)[:_KNOWN_IDS_SHOWN]) or "none"
    more = f" and {len(known) - _KNOWN_IDS_SHOWN} more" if len(known) > _KNOWN_IDS_SHOWN else ""
    raise _error(
        f"The operationId '{operation_id}' is not in {safe_url(uri)}; "
        f"known operations: {shown}{more}.",
    )


def _server_url(servers: Any, uri: str) -> str:
    server = servers[0] if isinstance(servers, list) and servers else {"url": "/"}
    url = str(server.get("url") or "/")
    variables = server.get("variables") or {}
    url = re.sub(
        r"\{([^}]+)\}",
        lambda m: str((variables.get(m.group(1)) or {}).get("default", m.group(0))),
        url,
    )
    return _absolute(url, uri)


def _swagger2_base(document: dict[str, Any], uri: str) -> str:
    schemes = document.get("schemes") or []
    host = document.get("host")
    base_path = document.get("basePath") or "/"
    if host:
        scheme = "https" if "https" in schemes else (schemes[0] if schemes else "https")
        return f"{scheme}://{host}{base_path}"
    return _absolute(base_path, uri)


def _absolute(url: str, uri: str) -> str:
    if httpx.URL(url).is_absolute_url:
        return url
    if urlsplit(uri).scheme in ("http", "https"):
        return urljoin(uri, url)
    raise _error(
        f"The server URL '{url}' of {uri} is relative and the document is not served over "
        "HTTP; give an absolute server URL (or `metadata.serverUrl` on the function).",
    )
