"""Machine codes of the errors the workflows app reports."""

from enum import Enum


class WorkflowErrorCode(str, Enum):
    DEFINITION_SYNTAX = "definition_syntax"
    DEFINITION_INVALID = "definition_invalid"
    DEFINITION_NOT_FOUND = "definition_not_found"
    DEFINITION_ARCHIVED = "definition_archived"
    NOT_PUBLISHED = "definition_not_published"
    VERSION_IMMUTABLE = "version_immutable"
    INPUT_INVALID = "input_invalid"
    ENV_MISSING = "env_missing"
    SECRET_MISSING = "secret_missing"
    INSTANCE_NOT_FOUND = "instance_not_found"
    INSTANCE_NOT_OPEN = "instance_not_open"
    INSTANCE_NOT_FAILED = "instance_not_failed"
    ENGINE_UNAVAILABLE = "engine_unavailable"
    IDEMPOTENCY_MISMATCH = "idempotency_key_reused"
    EVENT_INVALID = "event_invalid"
