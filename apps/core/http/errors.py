"""Errors of outbound calls: a code a caller can match, a message for a person, the body."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

# The body carried in an error must fit comfortably in a Temporal failure payload.
MAX_ERROR_BODY_CHARS = 16 * 1024


class CallErrorCode(StrEnum):
    """Codes of the HTTP infrastructure (an answer's HTTP status travels as its number)."""

    TIMEOUT = "Timeout"
    CONNECTION_ERROR = "ConnectionError"
    INVALID_URL = "InvalidURL"
    INVALID_RESPONSE = "InvalidResponse"
    RESPONSE_TOO_LARGE = "ResponseTooLarge"
    REDIRECT_REFUSED = "RedirectRefused"
    OUTBOUND_REFUSED = "OutboundRefused"
    DOCUMENT_ERROR = "DocumentError"
    OPENAPI_ERROR = "OpenAPIError"
    AUTH_ERROR = "AuthError"


class CallError(Exception):
    """A failed outbound call or document fetch."""

    def __init__(self, code: str, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.body = truncate_body(body)


def truncate_body(body: Any, limit: int = MAX_ERROR_BODY_CHARS) -> Any:
    """Keep a body as it is when small, else a truncated text of it."""
    if body is None:
        return None
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    if isinstance(body, str):
        return body if len(body) <= limit else body[:limit] + "… (truncated)"
    try:
        text = json.dumps(body, ensure_ascii=False, default=str)
    except (TypeError, ValueError):
        text = repr(body)
    return body if len(text) <= limit else text[:limit] + "… (truncated)"
