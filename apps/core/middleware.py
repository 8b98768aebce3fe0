"""Make non-DRF failures under /api/ answer in the platform's JSON error format."""

from __future__ import annotations

import logging

from django.http import HttpRequest, HttpResponse

from apps.core.api.errors import error_response
from apps.core.errors import ErrorCode

log = logging.getLogger("xflow.web")

_API_PREFIXES = ("/api/",)


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
