"""API middleware: refuse unstorable text in URLs and headers; answer failures in JSON."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse

from apps.core.api.errors import error_response
from apps.core.errors import ErrorCode

log = logging.getLogger("xflow.web")

_API_PREFIXES = ("/api/",)


class ApiInputMiddleware:
    """Refuse a NUL character in an API path, query parameter or header with 400.

    Path and query values reach database lookups, headers reach tokens and idempotency
    keys; PostgreSQL cannot take a NUL in text, so none gets past this point. (Bodies are
    checked by the parsers in `apps.core.api.parsers`.)
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(_API_PREFIXES):
            refusal = _refuse_nul(request)
            if refusal is not None:
                return refusal
        return self.get_response(request)


def _refuse_nul(request: HttpRequest) -> HttpResponse | None:
    from django.core.exceptions import TooManyFieldsSent

    if "\x00" in request.path:
        return _invalid("path", "The URL path contains a NUL character (%00).")
    try:
        items = list(request.GET.lists())
    except TooManyFieldsSent:
        return _invalid("query", "The query string has too many parameters.")
    for name, values in items:
        if "\x00" in name or any("\x00" in value for value in values):
            shown = name.replace("\x00", "%00")[:100]
            return _invalid(shown, f"The query parameter '{shown}' contains a NUL character.")
    for key, value in request.META.items():
        if key.startswith("HTTP_") and isinstance(value, str) and "\x00" in value:
            header = key[5:].replace("_", "-").title()
            return _invalid(header, f"The header {header} contains a NUL character.")
    return None


def _invalid(field: str, message: str) -> HttpResponse:
    return error_response(ErrorCode.INVALID.value, message, 400, {field: [message]})


class ApiErrorMiddleware:
    """Unknown API URLs (Django's HTML 404), oversized bodies and crashes -> JSON."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if not request.path.startswith(_API_PREFIXES):
            return response
        if response.status_code == 404 and "json" not in response.get("Content-Type", ""):
            return error_response(
                ErrorCode.NOT_FOUND.value,
                f"There is no API endpoint at {request.path}. The API index is /api/v1/.",
                404,
            )
        return response

    def process_exception(self, request: HttpRequest, exception: Exception):
        if not request.path.startswith(_API_PREFIXES):
            return None
        from django.core.exceptions import RequestDataTooBig

        if isinstance(exception, RequestDataTooBig):
            return error_response(
                ErrorCode.PAYLOAD_TOO_LARGE.value, "The request body is too large.", 413
            )
        log.exception("unhandled error on %s", request.path)
        return error_response(
            ErrorCode.SERVER_ERROR.value,
            "Something went wrong on our side; it has been logged.",
            500,
        )
