"""Outbound HTTP requests: auth, redirects checked at every hop, size and time caps, parsing.

Every request the platform makes on a user's behalf goes through `send` with a client from
`new_client`, so the outbound policy (apps.core.outbound) applies to each connection.
Credentials never reach the logs: URLs are logged without user-info and query string,
headers only through `masked_headers`.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx
from django.conf import settings

from apps.core.outbound import OutboundRefused, check_scheme

from .errors import CallError, CallErrorCode
from .transport import new_client

if TYPE_CHECKING:
    from .auth import Authenticator

logger = logging.getLogger("xflow.outbound")

MAX_REDIRECTS = 5
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


class _DropHttpxRequestLines(logging.Filter):
    """httpx logs every request's full URL at INFO, query string (API keys...) included."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("HTTP Request:")


# Our own line (`send`) logs the same event without secrets; keep the one from httpx out.
if not any(isinstance(f, _DropHttpxRequestLines) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_DropHttpxRequestLines())


def default_timeout() -> float:
    """XFLOW_OUTBOUND_TIMEOUT_SECONDS: the time cap of a call that states none."""
    return float(settings.XFLOW_OUTBOUND_TIMEOUT_SECONDS)


def max_response_bytes() -> int:
    """XFLOW_OUTBOUND_MAX_RESPONSE_BYTES: the largest (decoded) body read from an answer."""
    return int(settings.XFLOW_OUTBOUND_MAX_RESPONSE_BYTES)


@dataclass
class HttpRequest:
    """A request ready to send; `params` keeps order and repeated names."""

    method: str
    url: str
    params: list[tuple[str, str]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    content: bytes | None = None


@dataclass
class HttpResponse:
    status: int
    headers: httpx.Headers
    body: Any  # parsed JSON, text, or {"contentType", "base64"} for binary content
    url: str

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "")


def safe_url(url: str | httpx.URL) -> str:
    """The URL without user-info and query string, for logs and messages."""
    try:
        u = httpx.URL(str(url))
        return str(u.copy_with(username=None, password=None, query=None, fragment=None))
    except (httpx.InvalidURL, ValueError, TypeError):
        return str(url).split("?", 1)[0].split("#", 1)[0][:200]


def masked_headers(headers: dict[str, str] | httpx.Headers) -> dict[str, str]:
    """Headers for a log line, with credentials replaced by '***'."""
    return {k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


async def send(
    client: httpx.AsyncClient,
    request: HttpRequest,
    *,
    auth: Authenticator | None = None,
    max_bytes: int | None = None,
    parse: bool = True,
    timeout: float | None = None,
) -> HttpResponse:
    """Send with auth; on a 401 a refreshable credential (oauth2) is renewed and sent once more."""
    # `timeout` caps the whole exchange (token, redirects, a body trickling in byte by byte,
    # which no per-read timeout catches); by default the client's, set by its creator.
    # `max_bytes` (default XFLOW_OUTBOUND_MAX_RESPONSE_BYTES) caps the body.
    total = timeout or client.timeout.read or default_timeout()
    what = f"The request to {safe_url(request.url)}"
    return await with_deadline(total, what, _send(client, request, auth, max_bytes, parse))


async def _send(
    client: httpx.AsyncClient,
    request: HttpRequest,
    auth: Authenticator | None,
    max_bytes: int | None,
    parse: bool,
) -> HttpResponse:
    response = await _send_once(client, request, auth, max_bytes, parse)
    if response.status == 401 and auth is not None and auth.refreshable:
        url = safe_url(request.url)
        logger.info("%s %s: 401, renewing the token and retrying once", request.method, url)
        auth.invalidate()
        response = await _send_once(client, request, auth, max_bytes, parse)
    return response


async def _send_once(
    client: httpx.AsyncClient,
    request: HttpRequest,
    auth: Authenticator | None,
    max_bytes: int | None,
    parse: bool,
) -> HttpResponse:
    check_scheme(request.url)
    headers = dict(request.headers)
    if auth is not None:
        headers.update(await auth.headers(client))
    try:
        req = client.build_request(
            request.method.upper(),
            request.url,
            params=request.params or None,
            headers=headers,
            content=request.content,
        )
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError, TypeError) as exc:
        raise CallError(
            CallErrorCode.INVALID_URL, f"The URL '{safe_url(request.url)}' is not valid: {exc}"
        ) from exc
    logger.debug("%s %s headers: %s", req.method, safe_url(req.url), masked_headers(req.headers))
    scheme = req.url.scheme
    started = time.monotonic()
    try:
        for _ in range(MAX_REDIRECTS + 1):
            raw = await client.send(req, stream=True)
            if raw.next_request is None:
                break
            await raw.aclose()
            # httpx drops Authorization when a redirect leaves the origin; a scheme change
            # (https -> http, or to anything else) is refused rather than followed silently.
            # The next hop's host is vetted when its connection opens (transport).
            if raw.next_request.url.scheme != scheme:
                raise CallError(
                    CallErrorCode.REDIRECT_REFUSED,
                    f"The service redirected {safe_url(req.url)} to "
                    f"{safe_url(raw.next_request.url)}, a different scheme; xflow does not "
                    "follow such redirects.",
                )
            req = raw.next_request
        else:
            raise CallError(
                CallErrorCode.REDIRECT_REFUSED,
                f"The service at {safe_url(request.url)} redirected more than "
                f"{MAX_REDIRECTS} times.",
            )
        content = await _read_limited(raw, max_bytes or max_response_bytes())
    except OutboundRefused as exc:
        raise exc.for_target(safe_url(req.url)) from None
    except httpx.TimeoutException as exc:
        raise CallError(
            CallErrorCode.TIMEOUT, f"The service at {safe_url(req.url)} did not answer in time."
        ) from exc
    except httpx.TransportError as exc:
        raise CallError(
            CallErrorCode.CONNECTION_ERROR,
            f"Could not connect to {safe_url(req.url)}: {exc or type(exc).__name__}.",
        ) from exc
    logger.debug(
        "%s %s -> %s in %.0f ms",
        req.method,
        safe_url(req.url),
        raw.status_code,
        (time.monotonic() - started) * 1000,
    )
    body = parse_body(raw, content) if parse else content
    return HttpResponse(status=raw.status_code, headers=raw.headers, body=body, url=str(req.url))


async def _read_limited(raw: httpx.Response, limit: int) -> bytes:
    try:
        declared = raw.headers.get("content-length", "0")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(raw, limit)
        chunks: list[bytes] = []
        size = 0
        # aiter_bytes decodes gzip/deflate: the limit applies to the decoded size, and the
        # reading stops at the limit (an endless body costs at most `limit` bytes).
        async for chunk in raw.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise _too_large(raw, limit)
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        await raw.aclose()


def _too_large(raw: httpx.Response, limit: int) -> CallError:
    shown = f"{limit // 1024} KiB" if limit >= 1024 else f"{limit} bytes"
    return CallError(
        CallErrorCode.RESPONSE_TOO_LARGE,
        f"The response of {safe_url(raw.request.url)} is larger than the {shown} xflow accepts.",
    )


def is_json_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


def _is_text_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return (
        not media
        or media.startswith("text/")
        or media.endswith(("+xml", "/xml", "/javascript", "/x-www-form-urlencoded", "/yaml"))
    )


def parse_body(raw: httpx.Response, content: bytes) -> Any:
    """JSON when the content type says so, text for textual types, base64 otherwise."""
    if not content:
        return None
    content_type = raw.headers.get("content-type", "")
    encoding = raw.charset_encoding or "utf-8"
    if is_json_type(content_type):
        text = content.decode(encoding, errors="replace")
        try:
            return json.loads(text)
        except ValueError as exc:
            raise CallError(
                CallErrorCode.INVALID_RESPONSE,
                f"{safe_url(raw.request.url)} answered '{content_type}' but the body is not "
                f"valid JSON ({exc}).",
                text,
            ) from exc
    if _is_text_type(content_type):
        return content.decode(encoding, errors="replace")
    return {"contentType": content_type, "base64": base64.b64encode(content).decode("ascii")}


async def with_deadline(seconds: float, what: str, coro: Any) -> Any:
    """Await `coro` under a total time cap; a TimeoutError becomes CallError(Timeout)."""
    try:
        async with asyncio.timeout(seconds):
            return await coro
    except TimeoutError as exc:
        raise CallError(
            CallErrorCode.TIMEOUT, f"{what} did not complete within {seconds:g} s."
        ) from exc


__all__ = [
    "HttpRequest",
    "HttpResponse",
    "MAX_REDIRECTS",
    "default_timeout",
    "is_json_type",
    "masked_headers",
    "max_response_bytes",
    "new_client",
    "parse_body",
    "safe_url",
    "send",
    "with_deadline",
]
