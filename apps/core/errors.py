"""Error codes users see, and the exception services raise to report them."""

from __future__ import annotations

from enum import Enum
from typing import Any


class ErrorCode(str, Enum):
    """Platform-wide machine codes; apps add their own enums of the same shape."""

    INVALID = "invalid"
    PARSE_ERROR = "parse_error"
    NOT_AUTHENTICATED = "not_authenticated"
    AUTHENTICATION_FAILED = "authentication_failed"
    PERMISSION_DENIED = "permission_denied"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    NOT_ACCEPTABLE = "not_acceptable"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    THROTTLED = "throttled"
    CONFLICT = "conflict"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    OUTBOUND_REFUSED = "outbound_refused"  # a URL the outbound policy refuses (apps.core.outbound)
    SERVICE_UNAVAILABLE = "service_unavailable"
    SERVER_ERROR = "server_error"


class ServiceError(Exception):
    """A refusal a service function raises; the API turns it into a 4xx JSON error."""

    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        code: str | Enum = ErrorCode.INVALID,
        status: int | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code.value if isinstance(code, Enum) else code
        if status is not None:
            self.status_code = status
        self.fields = fields or {}


class NotFound(ServiceError):
    status_code = 404

    def __init__(self, message: str, *, code: str | Enum = ErrorCode.NOT_FOUND) -> None:
        super().__init__(message, code=code)


class Conflict(ServiceError):
    status_code = 409

    def __init__(self, message: str, *, code: str | Enum = ErrorCode.CONFLICT, **kw: Any) -> None:
        super().__init__(message, code=code, **kw)


class Unavailable(ServiceError):
    """A dependency (Temporal, Kafka...) is not reachable; the client may retry later."""

    status_code = 503

    def __init__(self, message: str, *, code: str | Enum = ErrorCode.SERVICE_UNAVAILABLE) -> None:
        super().__init__(message, code=code)
