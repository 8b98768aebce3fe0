"""One JSON error format for the whole API.

    {"error": {"code": "not_found", "message": "...", "status": 404, "fields": {...}}}

`fields` maps a field path to a list of messages (validation errors only).
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from apps.core.errors import ErrorCode, ServiceError
from apps.core.jsonfields import displayable

log = logging.getLogger("xflow.api")

_DEFAULT_MESSAGES = {
    ErrorCode.NOT_AUTHENTICATED.value: (
        "Sign in first: send 'Authorization: Token <key>' or use a session."
    ),
    ErrorCode.AUTHENTICATION_FAILED.value: "The credentials were not accepted.",
    ErrorCode.PERMISSION_DENIED.value: "You are not allowed to do this.",
    ErrorCode.NOT_FOUND.value: "Nothing exists at this address.",
}


def error_body(
    code: str, message: str, status_code: int, fields: dict[str, Any] | None = None
) -> dict[str, Any]:
    # Messages may echo what was sent; a lone surrogate in it could not be encoded.
    body: dict[str, Any] = {"code": code, "message": displayable(message), "status": status_code}
    if fields:
        body["fields"] = displayable(fields)
    return {"error": body}


def error_response(
    code: str, message: str, status_code: int, fields: dict[str, Any] | None = None
) -> JsonResponse:
    return JsonResponse(error_body(code, message, status_code, fields), status=status_code)


def _flatten(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail -> {"a.b[0].c": ["message", ...]}."""
    out: dict[str, list[str]] = {}
    if isinstance(detail, dict):
        for key, value in detail.items():
            path = f"{prefix}.{key}" if prefix else str(key)
            if key == "non_field_errors":
                path = prefix or "non_field_errors"
            for k, v in _flatten(value, path).items():
                out.setdefault(k, []).extend(v)
    elif isinstance(detail, list):
        if all(not isinstance(x, (dict, list)) for x in detail):
            out.setdefault(prefix or "non_field_errors", []).extend(str(x) for x in detail)
        else:
            for i, value in enumerate(detail):
                for k, v in _flatten(value, f"{prefix}[{i}]").items():
                    out.setdefault(k, []).extend(v)
    else:
        out.setdefault(prefix or "non_field_errors", []).append(str(detail))
    return out


def _summary(fields: dict[str, list[str]]) -> str:
    if not fields:
        return "The request is not valid."
    first_key, first = next(iter(fields.items()))
    where = "" if first_key == "non_field_errors" else f"{first_key}: "
    more = len(fields) - 1
    return f"{where}{first[0]}" + (
        f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
    )


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler producing the platform error format for every failure."""
    if isinstance(exc, ServiceError):
        set_rollback()
        return Response(
            error_body(exc.code, exc.message, exc.status_code, exc.fields or None),
            status=exc.status_code,
        )
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body(
                ErrorCode.PAYLOAD_TOO_LARGE.value,
                f"The request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
                413,
            ),
            status=413,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(
            exc.message_dict if hasattr(exc, "error_dict") else exc.messages
        )

    if not isinstance(exc, exceptions.APIException):
        log.exception("unhandled error in %s", context.get("view").__class__.__name__)
        set_rollback()
        return Response(
            error_body(
                ErrorCode.SERVER_ERROR.value,
                "Something went wrong on our side; it has been logged.",
                500,
            ),
            status=500,
        )

    set_rollback()
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))

    if isinstance(exc, exceptions.ValidationError):
        fields = _flatten(exc.detail)
        return Response(
            error_body(ErrorCode.INVALID.value, _summary(fields), 400, fields),
            status=status.HTTP_400_BAD_REQUEST,
            headers=headers,
        )

    code = exc.get_codes() if isinstance(exc.get_codes(), str) else exc.default_code
    message = exc.detail if isinstance(exc.detail, str) else str(exc.default_detail)
    if code in _DEFAULT_MESSAGES and message == str(exc.default_detail):
        message = _DEFAULT_MESSAGES[code]
    # Not authenticated is 401 with a challenge; DRF downgrades to 403 without a header.
    status_code = exc.status_code
    if code == ErrorCode.NOT_AUTHENTICATED.value:
        status_code = 401
        headers.setdefault("WWW-Authenticate", 'Token realm="api"')
    return Response(
        error_body(str(code), str(message), status_code), status=status_code, headers=headers
    )
