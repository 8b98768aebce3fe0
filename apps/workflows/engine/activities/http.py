"""HTTP transport of function calls: one client per call, size limit, redirect policy, parsing.

Security: the URLs come from workflow definitions written by operators, so no SSRF filtering is
done here on purpose (loopback and private addresses stay reachable: local services and the
tests use them). Run workers in a network segment that reaches only what workflows may call.
Credentials never reach the logs: URLs are logged without user-info and query string, headers
only through `masked_headers`.
"""

from __future__ import annotations

import base64
import json
import logging
import ssl
import time
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import httpx

from .errors import ErrorCode, FunctionError

if TYPE_CHECKING:
    from .auth import Authenticator

logger = logging.getLogger("xflow.workflows.functions")


class _DropHttpxRequestLines(logging.Filter):
    """httpx logs every request's full URL at INFO, query string (API keys...) included."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("HTTP Request:")


# Our own line (`send`) logs the same event without secrets; keep the one from httpx out.
if not any(isinstance(f, _DropHttpxRequestLines) for f in logging.getLogger("httpx").filters):
    logging.getLogger("httpx").addFilter(_DropHttpxRequestLines())

DEFAULT_TIMEOUT_SECONDS = 30.0
MAX_RESPONSE_BYTES = 10 * 1024 * 1024
MAX_REDIRECTS = 5
USER_AGENT = "xflow-engine"
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key"})


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


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds; a client is made per call, the context once.
    return httpx.create_ssl_context()


def new_client(timeout: float) -> httpx.AsyncClient:
    """A client for one activity call (clients are bound to an event loop, so none is global)."""
    return httpx.AsyncClient(
        verify=_ssl_context(),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,  # followed by hand in `send` to enforce the scheme rule
        headers={"User-Agent": USER_AGENT},
    )


def safe_url(url: str | httpx.URL) -> str:
    """The URL without user-info and query string, for logs and messages."""
    u = httpx.URL(str(url))
    return str(u.copy_with(username=None, password=None, query=None, fragment=None))


def masked_headers(headers: dict[str, str] | httpx.Headers) -> dict[str, str]:
    """Headers for a log line, with credentials replaced by '***'."""
    return {k: ("***" if k.lower() in _SECRET_HEADERS else v) for k, v in headers.items()}


async def send(
    client: httpx.AsyncClient,
    request: HttpRequest,
    *,
    auth: Authenticator | None = None,
) -> HttpResponse:
    """Send with auth; on a 401 a refreshable credential (oauth2) is renewed and sent once more."""
    response = await _send_once(client, request, auth)
    if response.status == 401 and auth is not None and auth.refreshable:
        url = safe_url(request.url)
        logger.info("%s %s: 401, renewing the token and retrying once", request.method, url)
        auth.invalidate()
        response = await _send_once(client, request, auth)
    return response


async def _send_once(
    client: httpx.AsyncClient, request: HttpRequest, auth: Authenticator | None
) -> HttpResponse:
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
    except (httpx.InvalidURL, httpx.UnsupportedProtocol, ValueError) as exc:
        raise FunctionError(
            ErrorCode.INVALID_FUNCTION, f"The URL '{safe_url(request.url)}' is not valid: {exc}"
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
            if raw.next_request.url.scheme != scheme:
                raise FunctionError(
                    ErrorCode.REDIRECT_REFUSED,
                    f"The service redirected {safe_url(req.url)} to "
                    f"{safe_url(raw.next_request.url)}, a different scheme; xflow does not "
                    "follow such redirects.",
                )
            req = raw.next_request
        else:
            raise FunctionError(
                ErrorCode.REDIRECT_REFUSED,
                f"The service at {safe_url(request.url)} redirected more than "
                f"{MAX_REDIRECTS} times.",
            )
        content = await _read_limited(raw)
    except httpx.TimeoutException as exc:
        raise FunctionError(
            ErrorCode.TIMEOUT, f"The service at {safe_url(req.url)} did not answer in time."
        ) from exc
    except httpx.TransportError as exc:
        raise FunctionError(
            ErrorCode.CONNECTION_ERROR,
            f"Could not connect to {safe_url(req.url)}: {exc or type(exc).__name__}.",
        ) from exc
    logger.debug(
        "%s %s -> %s in %.0f ms",
        req.method,
        safe_url(req.url),
        raw.status_code,
        (time.monotonic() - started) * 1000,
    )
    return HttpResponse(
        status=raw.status_code, headers=raw.headers, body=parse_body(raw, content), url=str(req.url)
    )


async def _read_limited(raw: httpx.Response) -> bytes:
    try:
        declared = int(raw.headers.get("content-length", "0"))
        if declared > MAX_RESPONSE_BYTES:
            raise _too_large(raw)
        chunks: list[bytes] = []
        size = 0
        # aiter_bytes decodes gzip/deflate: the limit applies to the decoded size.
        async for chunk in raw.aiter_bytes():
            size += len(chunk)
            if size > MAX_RESPONSE_BYTES:
                raise _too_large(raw)
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        await raw.aclose()


def _too_large(raw: httpx.Response) -> FunctionError:
    return FunctionError(
        ErrorCode.RESPONSE_TOO_LARGE,
        f"The response of {safe_url(raw.request.url)} is larger than the "
        f"{MAX_RESPONSE_BYTES // 1024} KiB xflow accepts.",
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
            raise FunctionError(
                ErrorCode.INVALID_RESPONSE,
                f"{safe_url(raw.request.url)} answered '{content_type}' but the body is not "
                f"valid JSON ({exc}).",
                text,
            ) from exc
    if _is_text_type(content_type):
        return content.decode(encoding, errors="replace")
    return {"contentType": content_type, "base64": base64.b64encode(content).decode("ascii")}


def status_error(response: HttpResponse, what: str) -> FunctionError:
    """The FunctionError for a non-2xx answer: code = the status, body = the parsed body."""
    reason = httpx.codes.get_reason_phrase(response.status) or "error"
    return FunctionError(
        str(response.status),
        f"{what} answered {response.status} {reason} ({safe_url(response.url)}).",
        response.body,
    )
