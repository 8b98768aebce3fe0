"""The OpenAPI schema: every operation documents the errors it answers, in the one error shape.

`AutoSchema` (settings' DEFAULT_SCHEMA_CLASS) adds to each operation the error responses that
follow from how it is built, so a new view gets them without writing anything:

- 400 always (a query parameter, path, header or body that is not valid);
- 401 and 403 when the operation needs a signed-in user;
- 404 when the path has parameters;
- 413 and 415 when the operation reads a request body;
- 429 when the view is throttled.

What only the code knows (409 for a conflicting state, 503 when the workflow engine is
unreachable, 404 for a body that names something missing) a view declares itself:
`@extend_schema(responses={200: MySerializer, **error_responses(409, 503)})`.

A body that may take one of several shapes is `AnyOf(SerializerA, SerializerB, {...})` as a
request or response (`anyOf`: a value may fit more than one of them, which `oneOf` forbids).
"""

from __future__ import annotations

from typing import Any

from drf_spectacular import openapi
from drf_spectacular.plumbing import ResolvedComponent
from rest_framework import permissions, serializers

_ERRORS: dict[int, tuple[str, str, str]] = {
    # status: (description, example code, example message)
    400: (
        "The request is not valid: a body, query parameter, path or header was refused. "
        "`fields` names each problem.",
        "invalid",
        "input: This field is required.",
    ),
    401: (
        "Not signed in, or the token is unknown or expired. Send `Authorization: Token <key>`.",
        "not_authenticated",
        "Sign in first: send 'Authorization: Token <key>' or use a session.",
    ),
    403: (
        "Signed in, but not allowed to do this (or a session request without its CSRF token).",
        "permission_denied",
        "You are not allowed to do this.",
    ),
    404: (
        "Nothing exists at this address, or you may not see it.",
        "not_found",
        "Nothing exists at this address.",
    ),
    409: (
        "The request conflicts with the current state of what it names (see `code`).",
        "conflict",
        "The instance is already completed; it cannot be cancelled.",
    ),
    413: (
        "The request body is larger than this operation reads (refused before it is read).",
        "payload_too_large",
        "The request body is 3,145,728 bytes; the limit here is 2,097,152 bytes.",
    ),
    415: (
        "The body's Content-Type is not one this operation reads.",
        "unsupported_media_type",
        'Unsupported media type "text/csv" in request.',
    ),
    416: (
        "The byte range asked for (`Range`) lies outside the file; `Content-Range` gives its size.",
        "range_not_satisfiable",
        "The requested range is outside the file, which has 1,024 bytes.",
    ),
    429: (
        "Too many requests; `Retry-After` says in how many seconds to try again.",
        "throttled",
        "Too many sign-in attempts; try again in 42 s.",
    ),
    503: (
        "A service the platform depends on (the workflow engine) is not reachable; nothing "
        "changed. Try again later.",
        "engine_unavailable",
        "The workflow engine could not cancel the instance; nothing changed, try again.",
    ),
}


class ErrorDetailSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="A stable machine code, e.g. `invalid`, `not_found`.")
    message = serializers.CharField(help_text="A sentence for a person.")
    status = serializers.IntegerField(help_text="The HTTP status, repeated.")
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.JSONField()),
        required=False,
        help_text="Validation errors only: each field path (`input.name`, `created_before`, "
        "`Idempotency-Key`...) with its problems (sentences, or objects with a `message` and "
        "where it is).",
    )


class ErrorSerializer(serializers.Serializer):
    """Every error the API answers, whatever its status."""

    error = ErrorDetailSerializer()


class ErrorResponse:
    """The documented response of one error status: a shared `components/responses` entry."""

    def __init__(self, status: int) -> None:
        self.status = status


def error_responses(*statuses: int) -> dict[int, ErrorResponse]:
    """`responses={200: X, **error_responses(409, 503)}`: errors only the code knows about."""
    return {status: ErrorResponse(status) for status in statuses}


class AnyOf:
    """A body of one of several shapes: serializers, or raw schema dicts."""

    def __init__(self, *shapes: Any) -> None:
        self.shapes = shapes


_NAMES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    409: "Conflict",
    413: "PayloadTooLarge",
    415: "UnsupportedMediaType",
    416: "RangeNotSatisfiable",
    429: "TooManyRequests",
    503: "ServiceUnavailable",
}
_HEADERS = {
    401: {
        "WWW-Authenticate": {
            "schema": {"type": "string"},
            "description": "How to authenticate: `Token`.",
        }
    },
    416: {
        "Content-Range": {
            "schema": {"type": "string"},
            "description": "`bytes */<size>`: the file's size.",
        }
    },
    429: {
        "Retry-After": {
            "schema": {"type": "integer"},
            "description": "Seconds to wait before trying again.",
        }
    },
}


class AutoSchema(openapi.AutoSchema):
    """drf-spectacular's AutoSchema, adding the error responses every operation can give."""

    def error_statuses(self) -> set[int]:
        statuses = {400}
        perms = self.view.get_permissions()
        if perms and not any(isinstance(p, permissions.AllowAny) for p in perms):
            statuses |= {401, 403}
        if "{" in self.path:
            statuses.add(404)
        if self.method in ("POST", "PUT", "PATCH") and self.get_request_serializer() is not None:
            statuses |= {413, 415}
        if self.view.get_throttles():
            statuses.add(429)
        return statuses

    def _any_of(self, shapes: AnyOf, direction: Any) -> dict[str, Any]:
        refs = [
            shape if isinstance(shape, dict) else self.resolve_serializer(shape, direction).ref
            for shape in shapes.shapes
        ]
        return {"anyOf": refs}

    def _get_request_for_media_type(self, serializer, direction="request"):
        if isinstance(serializer, AnyOf):
            return self._any_of(serializer, direction), True
        return super()._get_request_for_media_type(serializer, direction)

    def _get_response_for_code(
        self, serializer, status_code, media_types=None, direction="response"
    ):
        if isinstance(serializer, ErrorResponse):
            return self._error_component(serializer.status)
        if isinstance(serializer, AnyOf):
            serializer = self._any_of(serializer, direction)
        return super()._get_response_for_code(serializer, status_code, media_types, direction)

    def _error_component(self, status: int) -> dict[str, str]:
        description, code, message = _ERRORS[status]
        example = {"error": {"code": code, "message": message, "status": status}}
        response = {
            "description": description,
            "content": {
                "application/json": {
                    "schema": self.resolve_serializer(ErrorSerializer, "response").ref,
                    "example": example,
                }
            },
        }
        if status in _HEADERS:
            response["headers"] = _HEADERS[status]
        component = ResolvedComponent(
            name=_NAMES[status],
            type=ResolvedComponent.RESPONSE,
            schema=response,
            object=f"xflow-error-{status}",
        )
        self.registry.register_on_missing(component)
        return component.ref

    def _get_response_bodies(self, direction: Any = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for status in self.error_statuses():
            responses.setdefault(str(status), self._error_component(status))
        return dict(sorted(responses.items()))
