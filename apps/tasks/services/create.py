"""Creating a task when an instance reaches a `usertask` state (the engine's activity)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.tasks.lifecycle import TaskStatus
from apps.tasks.models import UserTask
from apps.tasks.services import notify
from apps.tasks.services.audit import TaskEventType, record
from apps.tasks.services.queue import sync_queue
from apps.workflows.dsl.durations import DurationError, parse_duration
from apps.workflows.engine.contracts import CreateUserTask
from apps.workflows.models import WorkflowInstance

FORM_REF = re.compile(r"^(?P<key>[^@]+)(?:@(?P<version>[1-9][0-9]*))?$")
NAME_LENGTH = 150


class InstanceNotVisible(Exception):
    """A platform instance's row is not visible yet: the activity fails and is retried."""


class Corrections(dict):
    """Values of the definition that could not be used as they were: field -> what was done.

    The task is made anyway and the corrections are written in its "created" audit row: a
    person can work on it, and the author reads what to fix. (Refusing would have to fail
    the state, and the interpreter does not turn this activity's errors into state errors.)
    """


def candidate_names(values: Any) -> list[str]:
    """Candidate names: strings, lists of them (an expression may give a list), deduplicated."""
    out: list[str] = []
    for value in values if isinstance(values, list) else [values]:
        for name in value if isinstance(value, list) else [value]:
            if isinstance(name, int | float) and not isinstance(name, bool):
                name = str(name)
            if isinstance(name, str) and name.strip() and name.strip() not in out:
                out.append(name.strip()[:NAME_LENGTH])
    return out


def _priority(value: Any, fix: Corrections) -> int:
    if value is None:
        return 50
    number = value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        number = int(value.strip())
    if isinstance(number, float) and number.is_integer():
        number = int(number)
    if isinstance(number, bool) or not isinstance(number, int):
        fix["priority"] = f"{value!r} is not a number from 0 to 100; 50 is used"
        return 50
    if not 0 <= number <= 100:
        clamped = min(max(number, 0), 100)
        fix["priority"] = f"{value!r} is outside 0..100; {clamped} is used"
        return clamped
    return number


def _due(value: Any, now: datetime, fix: Corrections) -> datetime | None:
    """An ISO duration from creation, or an ISO datetime (without a zone: UTC)."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        try:
            return now + parse_duration(value)
        except DurationError:
            pass
        moment = parse_datetime(value.strip())
        if moment is not None:
            return moment if timezone.is_aware(moment) else timezone.make_aware(moment, UTC)
    fix["dueDate"] = (
        f"{value!r} is neither an ISO duration (PT48H) nor an ISO datetime; no due date"
    )
    return None


def _form(value: Any, fix: Corrections) -> tuple[str, int | None]:
    if not value:
        return "", None
    match = FORM_REF.match(str(value))
    if match is None:
        fix["formKey"] = f"{value!r} is not `key` or `key@version`; no form"
        return "", None
    version = match.group("version")
    return match.group("key")[:200], int(version) if version else None


def _outcomes(values: Any) -> list[dict[str, str]]:
    out = []
    for item in values or []:
        if isinstance(item, dict) and item.get("name"):
            name = str(item["name"])
            out.append({"name": name, "label": str(item.get("label") or name)})
    return out


def task_fields(request: CreateUserTask, now: datetime, fix: Corrections) -> dict[str, Any]:
    """The row's fields from what the interpreter evaluated (what cannot be used: `fix`)."""
    spec = request.task or {}
    task_key = str(spec.get("taskKey") or request.state)[:200]
    title = spec.get("title")
    form_key, form_version = _form(spec.get("formKey"), fix)
    return {
        "state_name": request.state[:200],
        "task_key": task_key,
        "title": (str(title) if title not in (None, "") else task_key)[:500],
        "form_key": form_key,
        "form_version": form_version,
        "candidate_users": candidate_names(spec.get("candidateUsers") or []),
        "candidate_groups": candidate_names(spec.get("candidateGroups") or []),
        "priority": _priority(spec.get("priority"), fix),
        "due_at": _due(spec.get("dueDate"), now, fix),
        "outcomes": _outcomes(spec.get("outcomes")),
        "listeners": [x for x in spec.get("listeners") or [] if isinstance(x, dict)],
        "timers": [x for x in spec.get("timers") or [] if isinstance(x, dict)],
        "task_timeout": str(spec.get("taskTimeout") or "")[:64],
        "input": request.input,
    }


def _instance(instance_id: str) -> WorkflowInstance | None:
    try:
        uuid.UUID(str(instance_id))
    except ValueError:
        return None
    return WorkflowInstance.objects.select_related("definition").filter(pk=instance_id).first()


def do_create_task(
    request: CreateUserTask, *, user=None, strict: bool = True, now: datetime | None = None
) -> UserTask:
    """The task of a usertask state, once per `dedupe_key` (a retried activity finds it).

    `strict`: a platform instance, whose row must exist — a missing row is one not visible
    yet, and the activity retries; ad-hoc runs (no row) make tasks without an instance.
    """
    key = request.dedupe_key or f"{request.workflow_id}:{request.state}"
    existing = UserTask.objects.filter(dedupe_key=key).first()
    if existing is not None:
        return existing
    instance = _instance(request.instance_id)
    if instance is None and strict:
        raise InstanceNotVisible(f"instance {request.instance_id} has no row (yet)")
    now = now or timezone.now()
    fix = Corrections()
    fields = task_fields(request, now, fix)
    if instance is not None:
        # The task's title and input come from workflow data, which may hold $SECRETS: the
        # people doing the task never see them (API, inbox, admin, e-mails, events).
        from apps.workflows.services.mirror import masker_for

        masker = masker_for(instance.definition_id)
        if masker is not None:
            fields["title"] = masker.text(fields["title"])
            fields["input"] = masker(fields["input"])
    assignee_name = (request.task or {}).get("assignee")
    assignee_name = str(assignee_name).strip() if assignee_name not in (None, "") else ""
    assignee = (
        get_user_model().objects.filter(username=assignee_name, is_active=True).first()
        if assignee_name
        else None
    )
    with transaction.atomic():
        task, created = UserTask.objects.get_or_create(
            dedupe_key=key[:300],
            defaults={
                **fields,
                "instance": instance,
                "instance_key": str(request.instance_id)[:64],
                "workflow_id": request.workflow_id,
                "definition_key": instance.definition_key if instance else "",
                "definition_version": instance.version if instance else "",
                "assignee": assignee,
                "status": TaskStatus.ASSIGNED if assignee else TaskStatus.UNASSIGNED,
                "created_at": now,
            },
        )
        if not created:
            return task
        sync_queue(task, fresh=True)
        details: dict[str, Any] = {"state": task.state_name}
        if assignee_name and assignee is None:
            # Not a failure: the task waits in its candidates' queue, or for a manager.
            details["unknown_assignee"] = assignee_name
        if fix:
            details["corrected"] = dict(fix)
        audit = record(task, TaskEventType.CREATED, actor=user, **details)
        notify.lifecycle(task, "created", audit)
        if assignee is not None:
            audit = record(task, TaskEventType.ASSIGNED, actor=user, to=assignee.get_username())
            notify.lifecycle(task, "assigned", audit)
            notify.mail_after_commit(task, "assigned")
        elif task.candidate_users or task.candidate_groups:
            notify.mail_after_commit(task, "claimable")
    return task
