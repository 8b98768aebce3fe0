"""Documents named by URI (definition parts, OpenAPI documents), read under the outbound policy.

- `http(s)://` URLs are fetched through `client.send`: the outbound policy, the redirect
  rule, the size and time caps apply.
- Files: `file://name.json` (the spec's examples write relative files that way),
  `file:///abs/name.json` and a bare path `name.json` all name a file *inside* the directory
  XFLOW_RESOURCE_DIR. A path resolving anywhere else (an absolute path outside it, `..`, a
  symlink leading out) is refused, and without the setting no file is read at all: the web
  process and the workers must not hand out their own files (`file:///etc/passwd`).
- Any other scheme is refused.

The content is parsed as JSON (for a JSON content type) or YAML (a superset of JSON) and
must be an object or an array. Error messages name the URI and, for an answer that cannot be
used, its status and content type: never its content, which may be something the caller
should not see (an internal page, a file).
"""

from __future__ import annotations

import asyncio
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import httpx
import yaml
from django.conf import settings

from apps.core.outbound import OutboundRefused

from .client import HttpRequest, is_json_type, safe_url, send
from .errors import CallError, CallErrorCode
from .transport import new_client

if TYPE_CHECKING:
    from .auth import Authenticator

RESOURCE_SETTING = "XFLOW_RESOURCE_DIR"
DOCUMENT_TIMEOUT_SECONDS = 10.0
_ACCEPT = "application/json, application/yaml;q=0.9, */*;q=0.5"


def locate(uri: str) -> tuple[str, str]:
    """("http", url) or ("file", absolute path inside XFLOW_RESOURCE_DIR) for a document URI."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        return "http", uri
    if scheme == "file":
        raw = unquote(parts.netloc + parts.path)
    elif scheme:
        raise OutboundRefused(
            safe_url(uri),
            f"'{scheme}:' is not read (use http(s), file:// or a file name)",
            setting=None,
        )
    else:
        raw = unquote(uri)
    base_setting = getattr(settings, RESOURCE_SETTING, None)
    if not base_setting:
        raise OutboundRefused(
            uri,
            f"files are read only inside the directory {RESOURCE_SETTING} names, and it is not set",
            setting=None,
        )
    base = Path(base_setting).resolve()
    path = Path(raw)
    path = (path if path.is_absolute() else base / path).resolve()
    if not path.is_relative_to(base):
        raise OutboundRefused(uri, f"the file is outside {RESOURCE_SETTING}", setting=None)
    return "file", str(path)


async def fetch_document(
    uri: str,
    *,
    what: str,
    client: httpx.AsyncClient | None = None,
    auth: Authenticator | None = None,
    max_bytes: int | None = None,
    timeout: float = DOCUMENT_TIMEOUT_SECONDS,
) -> Any:
    """The parsed JSON/YAML document at `uri`; CallError (or OutboundRefused) otherwise."""
    kind, location = locate(uri)
    if kind == "file":
        limit = max_bytes or int(settings.XFLOW_OUTBOUND_MAX_RESPONSE_BYTES)
        content = await asyncio.to_thread(_read_file, location, uri, what, limit)
        return _parse(content, uri, what, "", None)
    request = HttpRequest("GET", location, headers={"Accept": _ACCEPT})
    if client is None:
        async with new_client(timeout) as own:
            response = await send(
                own, request, auth=auth, max_bytes=max_bytes, parse=False, timeout=timeout
            )
    else:
        response = await send(
            client, request, auth=auth, max_bytes=max_bytes, parse=False, timeout=timeout
        )
    shown = safe_url(location)
    if not response.ok:
        raise CallError(
            CallErrorCode.DOCUMENT_ERROR,
            f"Could not load the {what} {shown}: the server answered {response.status} "
            f"({response.content_type or 'no content type'}).",
        )
    return _parse(response.body, shown, what, response.content_type, response.status)


def fetch_document_sync(uri: str, **kwargs: Any) -> Any:
    """`fetch_document` for synchronous code (the web process, sync activities)."""
    coro = fetch_document(uri, **kwargs)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from a thread that runs an event loop: run ours beside it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()


def _read_file(path: str, uri: str, what: str, limit: int) -> bytes:
    try:
        file = Path(path)
        if not file.is_file():
            raise CallError(
                CallErrorCode.DOCUMENT_ERROR, f"Could not read the {what} {uri}: it is not a file."
            )
        if file.stat().st_size > limit:
            raise CallError(CallErrorCode.RESPONSE_TOO_LARGE, f"The {what} {uri} is too large.")
        return file.read_bytes()
    except OSError as exc:
        raise CallError(
            CallErrorCode.DOCUMENT_ERROR,
            f"Could not read the {what} {uri}: {exc.strerror or type(exc).__name__}.",
        ) from exc


def _parse(content: bytes, shown: str, what: str, content_type: str, status: int | None) -> Any:
    answer = f" (the server answered {status} {content_type or 'without a content type'})"
    answer = answer if status is not None else ""
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise CallError(
            CallErrorCode.DOCUMENT_ERROR, f"The {what} {shown} is not UTF-8 text{answer}."
        ) from None
    if is_json_type(content_type):
        try:
            document = json.loads(text)
        except ValueError as exc:
            where = f" (line {exc.lineno}, column {exc.colno})" if hasattr(exc, "lineno") else ""
            raise CallError(
                CallErrorCode.DOCUMENT_ERROR,
                f"The {what} {shown} is not valid JSON{where}{answer}.",
            ) from None
    else:
        try:
            document = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
            raise CallError(
                CallErrorCode.DOCUMENT_ERROR,
                f"The {what} {shown} is neither valid JSON nor YAML{where}{answer}.",
            ) from None
    if not isinstance(document, dict | list):
        raise CallError(
            CallErrorCode.DOCUMENT_ERROR,
            f"The {what} {shown} is not a JSON or YAML object or array{answer}.",
        )
    return document
