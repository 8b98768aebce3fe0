"""Validate a workflow definition dict: structure, references, values. Reports every issue."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from ..loader import DefinitionSyntaxError, load_definition
from .extensions import check_user_tasks
from .issues import ERROR, WARNING, IssueCode, ValidationIssue, format_path, unique
from .limits import check_identity
from .schedule import check_schedule
from .semantic import build_index, check_flow, check_references
from .structural import STATE_TYPES, check_structure, is_official_valid
from .values import KNOWN_CUSTOM_PREFIXES, check_durations, check_expressions, check_functions

__all__ = [
    "ERROR",
    "KNOWN_CUSTOM_PREFIXES",
    "STATE_TYPES",
    "WARNING",
    "IssueCode",
    "ValidationIssue",
    "check_structure",
    "errors_only",
    "format_path",
    "is_official_valid",
    "validate",
    "validate_text",
]

logger = logging.getLogger(__name__)


def validate(
    doc: dict, *, custom_prefixes: Iterable[str] = KNOWN_CUSTOM_PREFIXES
) -> list[ValidationIssue]:
    """Every issue of the definition at once (errors and warnings); never raises."""
    if not isinstance(doc, dict):
        return [ValidationIssue("", str(IssueCode.TYPE), "the definition must be a mapping")]
    found: list[ValidationIssue] = []
    _run(found, "structure", lambda: check_structure(doc))
    _run(found, "identity", lambda: check_identity(doc))
    try:
        index = build_index(doc, found)
    except Exception:  # noqa: BLE001 - see _run
        logger.exception("workflow validation could not index names")
        return unique([*found, _internal("names")])
    prefixes = frozenset(custom_prefixes)
    checks: list[tuple[str, Callable[[], Iterable[ValidationIssue]]]] = [
        ("references", lambda: check_references(doc, index)),
        ("flow", lambda: check_flow(doc, index)),
        ("user tasks", lambda: check_user_tasks(doc, index)),
        ("functions", lambda: check_functions(doc, prefixes)),
        ("durations", lambda: check_durations(doc)),
        ("schedule", lambda: check_schedule(doc)),
        ("expressions", lambda: check_expressions(doc, index)),
    ]
    for name, check in checks:
        _run(found, name, check)
    return unique(found)


def _run(
    found: list[ValidationIssue], name: str, check: Callable[[], Iterable[ValidationIssue]]
) -> None:
    # A bug in one check must not turn a user's bad definition into a server error: the
    # other checks still report, and this one says it could not finish.
    try:
        found.extend(check())
    except Exception:  # noqa: BLE001
        logger.exception("workflow validation check %r crashed", name)
        found.append(_internal(name))


def _internal(name: str) -> ValidationIssue:
    message = f"the {name} checks could not finish on this definition (an internal error)"
    return ValidationIssue("", str(IssueCode.INTERNAL), message)


def errors_only(issues: Iterable[ValidationIssue]) -> list[ValidationIssue]:
    """The issues that block publishing (severity 'error')."""
    return [i for i in issues if i.severity == ERROR]


def validate_text(
    text: str | bytes, *, filename: str | None = None
) -> tuple[dict | None, list[ValidationIssue]]:
    """Load JSON/YAML text and validate it: (document or None, issues)."""
    try:
        doc = load_definition(text, filename=filename)
    except DefinitionSyntaxError as exc:
        return None, [ValidationIssue("", str(exc.code), str(exc))]
    return doc, validate(doc)
