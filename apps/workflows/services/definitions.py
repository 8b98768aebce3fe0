"""Saving, validating, publishing and archiving workflow definitions."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.errors import Conflict, ServiceError
from apps.workflows.dsl.loader import DefinitionSyntaxError, load_definition
from apps.workflows.dsl.validation import validate
from apps.workflows.dsl.validation.limits import IDENTITY_PATHS
from apps.workflows.error_codes import WorkflowErrorCode
from apps.workflows.models import DefinitionEvent, DefinitionStatus, WorkflowDefinition


@dataclass(frozen=True)
class CheckedDefinition:
    """A parsed document with every problem the validator found."""

    document: dict[str, Any]
    source: str
    source_format: str
    issues: list[dict[str, Any]]

    @property
    def errors(self) -> list[dict[str, Any]]:
        return [i for i in self.issues if i.get("severity", "error") == "error"]

    @property
    def key(self) -> str | None:
        value = self.document.get("id") or self.document.get("key")
        return str(value) if value not in (None, "") else None

    @property
    def version(self) -> str | None:
        value = self.document.get("version")
        return str(value) if value not in (None, "") else None


def canonical_json(document: Any) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def checksum(document: Any) -> str:
    return hashlib.sha256(canonical_json(document).encode()).hexdigest()


def _issue_dict(issue: Any) -> dict[str, Any]:
    return asdict(issue) if not isinstance(issue, dict) else dict(issue)


def check_source(
    source: str | bytes | dict[str, Any], *, filename: str | None = None
) -> CheckedDefinition:
    """Parse (JSON or YAML text, or an already-parsed object) and validate, without saving.

    Raises ServiceError(parse_error) when the text cannot be read at all.
    """
    if isinstance(source, dict):
        document = source
        text = json.dumps(source, indent=2, ensure_ascii=False)
        fmt = "json"
    else:
        try:
            document = load_definition(source, filename=filename)
        except DefinitionSyntaxError as exc:
            where = {}
            if getattr(exc, "line", None):
                where = {"line": exc.line, "column": getattr(exc, "column", None)}
            raise ServiceError(
                f"The definition cannot be read: {exc}",
                code=WorkflowErrorCode.DEFINITION_SYNTAX,
                fields={"source": [{"message": exc.message, **where}]},
            ) from None
        text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
        fmt = "json" if text.lstrip().startswith(("{", "[")) else "yaml"
    issues = [_issue_dict(i) for i in validate(document)]
    return CheckedDefinition(document=document, source=text, source_format=fmt, issues=issues)


def start_event_types(document: dict[str, Any]) -> list[str]:
    """Event types that start an instance: those consumed by an event-type start state."""
    start = document.get("start")
    if isinstance(start, dict):
        start = start.get("stateName")
    states = document.get("states") or []
    if start is None and states:
        start = states[0].get("name") if isinstance(states[0], dict) else None
    state = next((s for s in states if isinstance(s, dict) and s.get("name") == start), None)
    if not state or state.get("type") != "event":
        return []
    by_name = {e.get("name"): e for e in document.get("events") or [] if isinstance(e, dict)}
    types: list[str] = []
    for on_event in state.get("onEvents") or []:
        for ref in on_event.get("eventRefs") or []:
            event = by_name.get(ref) or {}
            if event.get("kind", "consumed") == "consumed" and event.get("type"):
                types.append(event["type"])
    return sorted(set(types))


def _record(definition: WorkflowDefinition, event_type: str, actor, **details: Any) -> None:
    DefinitionEvent.objects.create(
        definition=definition, event_type=event_type, actor=actor, details=details
    )


def _next_version(key: str) -> str:
    numeric = [
        int(v)
        for v in WorkflowDefinition.objects.filter(key=key).values_list("version", flat=True)
        if v.isdigit()
    ]
    return str(max(numeric, default=0) + 1)


@transaction.atomic
def do_save_definition(
    *,
    source: str | bytes | dict[str, Any],
    user=None,
    publish: bool = False,
    filename: str | None = None,
) -> tuple[WorkflowDefinition, bool]:
    """Save a draft (errors allowed), or publish at once. Returns (definition, created).

    Same key+version again: a draft is replaced; an identical published document is returned
    as it is; a different one is refused, since published versions never change.
    """
    checked = check_source(source, filename=filename)
    if checked.key is None:
        raise ServiceError(
            "The definition has no 'id' (or 'key'): it is needed to store and version it.",
            code=WorkflowErrorCode.DEFINITION_INVALID,
            fields={"id": ["required"]},
        )
    too_long = [
        i for i in checked.errors if i.get("code") == "limit" and i.get("path") in IDENTITY_PATHS
    ]
    if too_long:  # not even a draft can be stored under an id or version this long
        raise _invalid(too_long)
    if publish and checked.errors:
        raise _invalid(checked.errors)
    version = checked.version or _next_version(checked.key)
    digest = checksum(checked.document)
    existing = (
        WorkflowDefinition.objects.select_for_update()
        .filter(key=checked.key, version=version)
        .first()
    )
    if existing is not None and existing.status != DefinitionStatus.DRAFT:
        if existing.checksum == digest:
            return existing, False
        raise Conflict(
            f"Version {version} of '{checked.key}' is {existing.status} and cannot change; "
            "give the document a new 'version'.",
            code=WorkflowErrorCode.VERSION_IMMUTABLE,
        )
    definition = existing or WorkflowDefinition(key=checked.key, version=version, author=user)
    definition.name = str(checked.document.get("name") or "")[:300]
    definition.description = str(checked.document.get("description") or "")
    definition.source = checked.source
    definition.source_format = checked.source_format
    definition.document = checked.document
    definition.checksum = digest
    definition.issues = checked.issues
    definition.error_count = len(checked.errors)
    definition.start_event_types = start_event_types(checked.document)
    try:
        with transaction.atomic():
            definition.save()
    except IntegrityError:
        raise Conflict(
            f"Version {version} of '{checked.key}' was saved by someone else just now; try again.",
            code=WorkflowErrorCode.VERSION_IMMUTABLE,
        ) from None
    _record(
        definition,
        "saved" if existing is None else "updated",
        user,
        checksum=digest,
        errors=definition.error_count,
    )
    if publish:
        definition = do_publish_definition(definition, user=user)
    return definition, existing is None


def _invalid(errors: list[dict[str, Any]]) -> ServiceError:
    fields: dict[str, list[str]] = {}
    for issue in errors:
        fields.setdefault(issue.get("path") or "(document)", []).append(issue["message"])
    count = len(errors)
    return ServiceError(
        f"The definition has {count} error{'s' if count != 1 else ''}; "
        f"first: {errors[0].get('path') or '(document)'}: {errors[0]['message']}",
        code=WorkflowErrorCode.DEFINITION_INVALID,
        fields=fields,
    )


@transaction.atomic
def do_publish_definition(definition: WorkflowDefinition, *, user=None) -> WorkflowDefinition:
    """Make a draft immutable and the latest version of its key."""
    definition = WorkflowDefinition.objects.select_for_update().get(pk=definition.pk)
    if definition.status == DefinitionStatus.PUBLISHED:
        return definition
    if definition.status == DefinitionStatus.ARCHIVED:
        raise Conflict(
            f"{definition} is archived; publish a new version instead.",
            code=WorkflowErrorCode.DEFINITION_ARCHIVED,
        )
    # Re-validate: the validator may have learned new rules since the draft was saved.
    checked = check_source(definition.document)
    if checked.errors:
        definition.issues = checked.issues
        definition.error_count = len(checked.errors)
        definition.save(update_fields=["issues", "error_count", "updated_at"])
        raise _invalid(checked.errors)
    WorkflowDefinition.objects.filter(key=definition.key, is_latest=True).update(is_latest=False)
    definition.status = DefinitionStatus.PUBLISHED
    definition.published_at = timezone.now()
    definition.is_latest = True
    definition.save(update_fields=["status", "published_at", "is_latest", "updated_at"])
    _record(definition, "published", user)
    return definition


@transaction.atomic
def do_archive_definition(definition: WorkflowDefinition, *, user=None) -> WorkflowDefinition:
    """Archived versions start no new instances; running ones continue on it."""
    definition = WorkflowDefinition.objects.select_for_update().get(pk=definition.pk)
    if definition.status == DefinitionStatus.ARCHIVED:
        return definition
    was_latest = definition.is_latest
    definition.status = DefinitionStatus.ARCHIVED
    definition.is_latest = False
    definition.save(update_fields=["status", "is_latest", "updated_at"])
    if was_latest:
        newest = (
            WorkflowDefinition.objects.published()
            .filter(key=definition.key)
            .order_by(F("published_at").desc(nulls_last=True))
            .first()
        )
        if newest:
            newest.is_latest = True
            newest.save(update_fields=["is_latest", "updated_at"])
    _record(definition, "archived", user)
    return definition


@transaction.atomic
def do_mark_latest(definition: WorkflowDefinition, *, user=None) -> WorkflowDefinition:
    """Choose which published version a start without a version uses (e.g. a rollback)."""
    definition = WorkflowDefinition.objects.select_for_update().get(pk=definition.pk)
    if definition.status != DefinitionStatus.PUBLISHED:
        raise Conflict(
            f"Only a published version can be the latest; {definition} is {definition.status}.",
            code=WorkflowErrorCode.NOT_PUBLISHED,
        )
    WorkflowDefinition.objects.filter(key=definition.key, is_latest=True).exclude(
        pk=definition.pk
    ).update(is_latest=False)
    if not definition.is_latest:
        definition.is_latest = True
        definition.save(update_fields=["is_latest", "updated_at"])
        _record(definition, "marked_latest", user)
    return definition
