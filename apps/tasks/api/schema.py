"""OpenAPI: the platform's error body (apps/core/api/errors.py), as the task API returns it."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers


class ApiErrorBodySerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable machine code, e.g. task_wrong_status.")
    message = serializers.CharField(help_text="What went wrong, for a person.")
    status = serializers.IntegerField()
    fields = serializers.DictField(
        child=serializers.ListField(child=serializers.CharField()),
        required=False,
        help_text="Field path -> messages (invalid input only).",
    )


class ApiErrorSerializer(serializers.Serializer):
    error = ApiErrorBodySerializer()


def _error(description: str, code: str, message: str, status: int) -> OpenApiResponse:
    return OpenApiResponse(
        ApiErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(
                code,
                value={"error": {"code": code, "message": message, "status": status}},
                status_codes=[str(status)],
            )
        ],
    )


INVALID = _error("Invalid input", "invalid", "outcome: Choose an outcome: approved, rejected.", 400)
UNAUTHENTICATED = _error(
    "Not signed in", "not_authenticated", "Sign in first: send 'Authorization: Token <key>'.", 401
)
FORBIDDEN = _error(
    "The caller sees the task but may not do this",
    "task_action_not_allowed",
    "Only the task's assignee (bob) may do this.",
    403,
)
NOT_FOUND = _error(
    "No such task, or not the caller's to see",
    "task_not_found",
    "There is no such task, or it is not yours to see.",
    404,
)
CONFLICT = _error(
    "The task's status does not allow this now",
    "task_wrong_status",
    "This task is already assigned to bob; it cannot be claimed.",
    409,
)

READ_ERRORS = {401: UNAUTHENTICATED, 404: NOT_FOUND}
# Actions without a body cannot be invalid; the others can.
ACTION_ERRORS = {401: UNAUTHENTICATED, 403: FORBIDDEN, 404: NOT_FOUND, 409: CONFLICT}
INPUT_ACTION_ERRORS = {400: INVALID, **ACTION_ERRORS}
