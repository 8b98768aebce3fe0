"""Function errors: the codes a workflow's `errors` definitions can match, and their carrier."""

from __future__ import annotations

from dataclasses import asdict
from enum import StrEnum

import httpx
from temporalio.exceptions import ApplicationError

from apps.core.http.client import HttpResponse, safe_url
from apps.core.http.errors import CallError, CallErrorCode
from apps.workflows.engine.contracts import FUNCTION_ERROR, FunctionErrorDetail


class ErrorCode(StrEnum):
    """Codes other than HTTP statuses (those travel as their number in text, e.g. "404").

    The first group comes from the HTTP infrastructure (apps.core.http), the rest from
    function types; docs/workflows.md lists them for definition authors.
    """

    TIMEOUT = CallErrorCode.TIMEOUT.value
    CONNECTION_ERROR = CallErrorCode.CONNECTION_ERROR.value
    INVALID_URL = CallErrorCode.INVALID_URL.value
    INVALID_RESPONSE = CallErrorCode.INVALID_RESPONSE.value
    RESPONSE_TOO_LARGE = CallErrorCode.RESPONSE_TOO_LARGE.value
    REDIRECT_REFUSED = CallErrorCode.REDIRECT_REFUSED.value
    OUTBOUND_REFUSED = CallErrorCode.OUTBOUND_REFUSED.value
    OPENAPI_ERROR = CallErrorCode.OPENAPI_ERROR.value
    AUTH_ERROR = CallErrorCode.AUTH_ERROR.value
    RESULT_TOO_LARGE = "ResultTooLarge"
    INVALID_ARGUMENTS = "InvalidArguments"
    INVALID_FUNCTION = "InvalidFunction"
    UNSUPPORTED_FUNCTION_TYPE = "UnsupportedFunctionType"
    GRAPHQL_ERROR = "GraphQLError"
    UNKNOWN_FUNCTION = "UnknownFunction"
    INVALID_EMAIL_ADDRESS = "InvalidEmailAddress"
    EMAIL_ERROR = "EmailError"


class FunctionError(CallError):
    """A business failure of a function call; the activity turns it into an ApplicationError."""

    def to_application_error(self) -> ApplicationError:
        return application_error(self)


def application_error(exc: CallError) -> ApplicationError:
    """The failure the workflow sees for a failed call (FunctionError or the HTTP layer's)."""
    detail = FunctionErrorDetail(code=exc.code, message=exc.message, body=exc.body)
    # Non-retryable: the definition's own `retries`/`onErrors` decide what happens next.
    return ApplicationError(exc.message, asdict(detail), type=FUNCTION_ERROR, non_retryable=True)


def status_error(response: HttpResponse, what: str) -> FunctionError:
    """The FunctionError for a non-2xx answer: code = the status, body = the parsed body."""
    reason = httpx.codes.get_reason_phrase(response.status) or "error"
    return FunctionError(
        str(response.status),
        f"{what} answered {response.status} {reason} ({safe_url(response.url)}).",
        response.body,
    )
