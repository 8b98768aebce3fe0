"""OpenAPI documents for `rest` functions: load (http, file, path; JSON/YAML), cache, find ops.

A document is cached per URI for `DOCUMENT_TTL` seconds in the worker process. Relative paths
and `file://name.json` (the spec's own examples write relative files that way) resolve against
the directory in the `XFLOW_OPENAPI_DIR` environment variable, else the worker's working
directory. Note that any file the worker can read may be named; its content is never echoed
in an error message. Only local `$ref`s (`#/components/...`) are followed.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx
import yaml

from . import http
from .errors import ErrorCode, FunctionError
from .http import HttpRequest, safe_url

DOCUMENT_TTL = 300.0
HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
_MAX_REF_DEPTH = 32
_KNOWN_IDS_SHOWN = 30

_documents: dict[str, tuple[dict[str, Any], float]] = {}


def clear_document_cache() -> None:
    _documents.clear()


@dataclass
class RestOperation:
    """One HTTP operation, from an OpenAPI document or from the inline form."""

    label: str  # for messages: the operationId or "GET /pets/{id}"
    method: str
    base_url: str
    path: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    request_body: dict[str, Any] | None = None  # OpenAPI 3 requestBody object
    consumes: list[str] = field(default_factory=list)  # Swagger 2 media types
    headers: dict[str, str] = field(default_factory=dict)  # constant headers (inline form)
    inline: bool = False


def split_operation(operation: str) -> tuple[str, str]:
    """`<document uri>#<operationId>` -> (uri, operationId)."""
    uri, sep, operation_id = operation.rpartition("#")
    if not sep or not uri or not operation_id:
        raise FunctionError(
            ErrorCode.INVALID_FUNCTION,
            f"The rest operation '{operation}' must look like '<openapi document>#<operationId>'.",
        )
    return uri, operation_id


def _document_location(uri: str) -> tuple[str, str]:
    """("http", url) or ("file", absolute path) for a document URI."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https"):
        return "http", uri
    if parts.scheme == "file":
        raw = unquote(parts.netloc + parts.path)
    elif parts.scheme and len(parts.scheme) > 1:  # a one-letter scheme is a Windows drive
        raise FunctionError(
            ErrorCode.OPENAPI_ERROR,
            f"The OpenAPI document '{uri}' has an unsupported scheme '{parts.scheme}'; "
            "use http(s), file:// or a path.",
        )
    else:
        raw = uri
    path = Path(raw)
    if not path.is_absolute():
        path = Path(os.environ.get("XFLOW_OPENAPI_DIR") or os.getcwd()) / path
    return "file", str(path.resolve())


async def load_document(client: httpx.AsyncClient, uri: str, auth: Any = None) -> dict[str, Any]:
    """The parsed OpenAPI/Swagger document at `uri`, from the cache while fresh.

    Spec (Auth Definition): a function's authRef is what gives access to "the resource
    containing the function invocation information", so it is sent for the document too.
    """
    kind, location = _document_location(uri)
    cached = _documents.get(location)
    if cached and cached[1] > time.monotonic():
        return cached[0]
    if kind == "http":
        request = HttpRequest(
            "GET", location, headers={"Accept": "application/json, application/yaml;q=0.9, */*"}
        )
        try:
            response = await http.send(client, request, auth=auth)
        except FunctionError as exc:
            if exc.code != ErrorCode.INVALID_RESPONSE:
                raise
            raise FunctionError(
                ErrorCode.OPENAPI_ERROR,
                f"The OpenAPI document {safe_url(location)} is not valid JSON.",
            ) from exc
        if not response.ok:
            raise FunctionError(
                ErrorCode.OPENAPI_ERROR,
                f"Could not load the OpenAPI document {safe_url(location)}: the server answered "
                f"{response.status}.",
            )
        document = response.body if isinstance(response.body, dict) else _parse(response.body, uri)
    else:
        document = _parse(await asyncio.to_thread(_read_file, location, uri), uri)
    _check_document(document, uri)
    _documents[location] = (document, time.monotonic() + DOCUMENT_TTL)
    return document


def _read_file(path: str, uri: str) -> str:
    try:
        if os.path.getsize(path) > http.MAX_RESPONSE_BYTES:
            raise FunctionError(
                ErrorCode.OPENAPI_ERROR, f"The OpenAPI document {uri} is too large."
            )
        return Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise FunctionError(
            ErrorCode.OPENAPI_ERROR,
            f"Could not read the OpenAPI document {uri}: {exc.strerror or exc}.",
        ) from exc
    except UnicodeDecodeError as exc:
        raise FunctionError(
            ErrorCode.OPENAPI_ERROR, f"The OpenAPI document {uri} is not UTF-8 text."
        ) from exc


def _parse(text: Any, uri: str) -> Any:
    if not isinstance(text, str):
        return text
    try:
        return yaml.safe_load(text)  # YAML is a superset of JSON: one parser for both
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise FunctionError(
            ErrorCode.OPENAPI_ERROR,
            f"The OpenAPI document {safe_url(uri)} is neither valid JSON nor YAML{where}.",
        ) from exc


def _check_document(document: Any, uri: str) -> None:
    version = ""
    if isinstance(document, dict):
        version = str(document.get("openapi") or document.get("swagger") or "")
    if not version.startswith(("3.", "2.")) or not isinstance(document.get("paths"), dict):
        raise FunctionError(
            ErrorCode.OPENAPI_ERROR,
            f"{safe_url(uri)} is not an OpenAPI 3 or Swagger 2 document "
            "(it needs an 'openapi' or 'swagger' version and 'paths').",
        )


def deref(document: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """Follow a local `$ref` (JSON pointer into the same document) until a real object."""
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if depth > _MAX_REF_DEPTH or not isinstance(ref, str) or not ref.startswith("#/"):
            raise FunctionError(
                ErrorCode.OPENAPI_ERROR,
                f"Cannot resolve $ref '{ref}': only local references (#/...) are supported.",
            )
        target: Any = document
        for token in ref[2:].split("/"):
            token = unquote(token).replace("~1", "/").replace("~0", "~")
            if not isinstance(target, dict) or token not in target:
                raise FunctionError(ErrorCode.OPENAPI_ERROR, f"The $ref '{ref}' points to nothing.")
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
    raise FunctionError(
        ErrorCode.OPENAPI_ERROR,
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
    raise FunctionError(
        ErrorCode.OPENAPI_ERROR,
        f"The server URL '{url}' of {uri} is relative and the document is not served over "
        "HTTP; give an absolute server URL (or `metadata.serverUrl` on the function).",
    )
