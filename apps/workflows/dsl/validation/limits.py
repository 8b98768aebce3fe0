"""What the platform can store of a definition's identity: its id (or key) and version."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .issues import IssueCode, ValidationIssue, issue

# The columns that hold them (WorkflowDefinition.key / .version); a test keeps them equal.
MAX_KEY_LENGTH = 200
MAX_VERSION_LENGTH = 100
IDENTITY_PATHS = ("id", "key", "version")


def check_identity(doc: dict[str, Any]) -> Iterator[ValidationIssue]:
    """An id, key or version longer than the platform stores is an error, not a crash."""
    for name, limit in (
        ("id", MAX_KEY_LENGTH),
        ("key", MAX_KEY_LENGTH),
        ("version", MAX_VERSION_LENGTH),
    ):
        value = doc.get(name)
        if value is None:
            continue
        length = len(str(value))  # what would be stored (the structure checks judge the type)
        if length > limit:
            yield issue(
                (name,),
                IssueCode.LIMIT,
                f"the {name} is {length} characters long; the platform stores at most {limit}",
            )
