"""Function errors: the codes a workflow's `errors` definitions can match, and their carrier."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import StrEnum
from typing import Any

from temporalio.exceptions import ApplicationError

from apps.workflows.engine.contracts import FUNCTION_ERROR, FunctionErrorDetail

# The body carried in an error must fit comfortably in a Temporal failure payload.
MAX_ERROR_BODY_CHARS = 16 * 1024


class ErrorCode(StrEnum):
    """Codes other than HTTP statuses (those travel as their number in text, e.g. "404")."""

    TIMEOUT = "Timeout"
    CONNECTION_ERROR = "ConnectionError"
    INVALID_RESPONSE = "InvalidResponse"
    RESPONSE_TOO_LARGE = "ResponseTooLarge"
    RESULT_TOO_LARGE = "ResultTooLarge"
    REDIRECT_REFUSED = "RedirectRefused"
    INVALID_ARGUMENTS = "InvalidArguments"
    INVALID_FUNCTION = "InvalidFunction"
    UNSUPPORTED_FUNCTION_TYPE = "UnsupportedFunctionType"
    OPENAPI_ERROR = "OpenAPIError"
    GRAPHQL_ERROR = "GraphQLError"
    AUTH_ERROR = "AuthError"
    UNKNOWN_FUNCTION = "UnknownFunction"
    INVALID_EMAIL_ADDRESS = "InvalidEmailAddress"
    EMAIL_ERROR = "EmailError"


class FunctionError(Exception):
    """A business failure of a function call; the activity turns it into an ApplicationError."""

    def __init__(self, code: str, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.code = str(code)
        self.message = message
        self.body = truncate_body(body)

    def to_application_error(self) -> ApplicationError:
        detail = FunctionErrorDetail(code=self.code, message=self.message, body=self.body)
        # Non-retryable: the definition's own `retries`/`onErrors` decide what happens next.
        return ApplicationError(
            self.message, asdict(detail), type=FUNCTION_ERROR, non_retryable=True
        )


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
