"""What the validator reports: one `ValidationIssue` per problem, with a stable code."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

ERROR = "error"
WARNING = "warning"


class IssueCode(StrEnum):
    """Stable machine codes; clients match on these, people read the message."""

    # structure (the 0.8 JSON schema and our extension schema)
    TYPE = "type"
    REQUIRED = "required"
    ENUM = "enum"
    UNKNOWN_PROPERTY = "unknown_property"
    CONFLICT = "conflict"
    MIN_LENGTH = "min_length"
    MIN_ITEMS = "min_items"
    MIN_PROPERTIES = "min_properties"
    UNIQUE_ITEMS = "unique_items"
    MINIMUM = "minimum"
    MAXIMUM = "maximum"
    MULTIPLE_OF = "multiple_of"
    PATTERN = "pattern"
    ONE_OF = "one_of"
    SCHEMA = "schema"
    UNKNOWN_STATE_TYPE = "unknown_state_type"
    # references and names
    UNKNOWN_STATE = "unknown_state"
    UNKNOWN_FUNCTION = "unknown_function"
    UNKNOWN_EVENT = "unknown_event"
    UNKNOWN_ERROR = "unknown_error"
    UNKNOWN_RETRY = "unknown_retry"
    UNKNOWN_AUTH = "unknown_auth"
    UNKNOWN_SECRET = "unknown_secret"
    UNKNOWN_ENV = "unknown_env"
    UNKNOWN_CONSTANT = "unknown_constant"
    DUPLICATE_NAME = "duplicate_name"
    EVENT_KIND = "event_kind"
    FUNCTION_TYPE = "function_type"
    # control flow
    UNREACHABLE_STATE = "unreachable_state"
    NO_TRANSITION = "no_transition"
    COMPENSATION = "compensation"
    NUM_COMPLETED = "num_completed"
    # values
    EXPRESSION = "expression"
    EXPRESSION_REFUSED = "expression_refused"  # a builtin reading the environment, clock, ...
    EXPRESSION_LANGUAGE = "expression_language"
    DURATION = "duration"
    SCHEDULE = "schedule"
    OPERATION = "operation"
    CUSTOM_PREFIX = "custom_prefix"
    UNSUPPORTED = "unsupported"
    LIMIT = "limit"
    INTERNAL = "internal"


@dataclass(frozen=True)
class ValidationIssue:
    """One problem in a definition; `path` is like `states[2].transition` ('' is the root)."""

    path: str
    code: str
    message: str
    severity: str = ERROR

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR


def format_path(parts: Iterable[str | int]) -> str:
    """('states', 2, 'transition') -> 'states[2].transition'; odd keys are quoted."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part.isidentifier():
            out += f".{part}" if out else part
        else:
            escaped = part.replace("\\", "\\\\").replace('"', '\\"')
            out += f'["{escaped}"]'
    return out


def issue(
    path: Iterable[str | int], code: IssueCode, message: str, severity: str = ERROR
) -> ValidationIssue:
    return ValidationIssue(format_path(path), str(code), message, severity)


def unique(issues: Iterable[ValidationIssue]) -> list[ValidationIssue]:
    """Drop repeats, keeping first-seen order."""
    return list(dict.fromkeys(issues))
