"""What people do to a task: claim, unclaim, assign, delegate, resolve, draft, complete,
comment, attach, delete. Each locks the row, asks the transition table (permissions.check),
changes the row, writes one audit row, and emits what the change means — all in one
transaction; emails and the workflow's signal go out after the commit."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

import jsonschema
from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.utils import timezone

from apps.core.errors import NotFound, ServiceError
from apps.tasks import permissions
from apps.tasks.error_codes import TaskErrorCode
from apps.tasks.forms_link import form_schema
from apps.tasks.lifecycle import TaskAction, TaskStatus
from apps.tasks.models import TaskComment, UserTask
from apps.tasks.permissions import NOT_FOUND_MESSAGE
from apps.tasks.services import notify
from apps.tasks.services.audit import TaskEventType, record
from apps.tasks.services.queue import sync_queue
from apps.tasks.services.resume import resume_after_commit

MAX_DATA_BYTES = 1024 * 1024
MAX_COMMENT_LENGTH = 10_000


# The instance's row first (FOR KEY SHARE, which an instance's own changes do not block):
# closing an instance locks its row FOR UPDATE and then cancels its tasks, and a change of a
# task writes outbox rows that reference the instance. Taking the instance before the task
# gives both the same lock order: one waits, neither deadlocks.
_LOCK_INSTANCE = """
SELECT 1 FROM workflows_workflowinstance
WHERE id = (SELECT instance_id FROM tasks_usertask WHERE id = %s) FOR KEY SHARE
"""


def lock(task: UserTask | Any) -> UserTask:
    """The task's row, locked until the transaction ends (after its instance's, see above).

    No join: after waiting for a concurrent change, PostgreSQL re-reads the locked row but
    not the rows joined to it, so a joined assignee would be the one from before the wait.
    """
    try:
        pk = uuid.UUID(str(task.pk if isinstance(task, UserTask) else task))
    except ValueError:
        raise NotFound(NOT_FOUND_MESSAGE, code=TaskErrorCode.TASK_NOT_FOUND) from None
    with connection.cursor() as cur:
        cur.execute(_LOCK_INSTANCE, [pk])
    locked = UserTask.objects.select_for_update().filter(pk=pk).first()
    if locked is None:
        raise NotFound(NOT_FOUND_MESSAGE, code=TaskErrorCode.TASK_NOT_FOUND)
    return locked


def user_by_name(username: str, *, field: str = "assignee"):
    """An active user by username, or a 400 naming the field."""
    user = get_user_model().objects.filter(username=username, is_active=True).first()
    if user is None:
        raise ServiceError(
            f"There is no active user '{username}'.",
            code=TaskErrorCode.USER_NOT_FOUND,
            fields={field: [f"no active user '{username}'"]},
        )
    return user


def _save(task: UserTask, *fields: str) -> None:
    task.save(update_fields=[*fields, "updated_at"])
    if "status" in fields:
        sync_queue(task)


def _name(user) -> str | None:
    return user.get_username() if user is not None else None


def do_claim_task(task: UserTask, *, user) -> UserTask:
    """A candidate takes an unassigned task: it becomes theirs."""
    with transaction.atomic():
        task = lock(task)
        permissions.check(task, user, TaskAction.CLAIM)
        task.assignee, task.status, task.claimed_at = user, TaskStatus.ASSIGNED, timezone.now()
        _save(task, "assignee", "status", "claimed_at")
        audit = record(task, TaskEventType.CLAIMED, actor=user, to=_name(user))
        notify.lifecycle(task, "claimed", audit)
    return task


def do_unclaim_task(task: UserTask, *, user) -> UserTask:
    """The assignee (or a manager) puts the task back in its candidates' queue."""
    with transaction.atomic():
        task = lock(task)
        permissions.check(task, user, TaskAction.UNCLAIM)
        previous = _name(task.assignee)
        task.assignee, task.status, task.claimed_at = None, TaskStatus.UNASSIGNED, None
        _save(task, "assignee", "status", "claimed_at")
        record(task, TaskEventType.UNCLAIMED, actor=user, previous=previous)
        notify.mail_after_commit(task, "claimable", actor=user)
    return task


def do_assign_task(task: UserTask, *, user, assignee) -> UserTask:
    """A manager gives the task to someone (or, with None, back to the queue)."""
    with transaction.atomic():
        task = lock(task)
        permissions.check(task, user, TaskAction.ASSIGN)
        previous = _name(task.assignee)
        task.assignee, task.owner = assignee, None  # a reassignment ends a delegation
        task.status = TaskStatus.ASSIGNED if assignee else TaskStatus.UNASSIGNED
        task.claimed_at = timezone.now() if assignee else None
        _save(task, "assignee", "owner", "status", "claimed_at")
        audit = record(
            task, TaskEventType.ASSIGNED, actor=user, to=_name(assignee), previous=previous
        )
        if assignee is not None:
            notify.lifecycle(task, "assigned", audit)
            notify.mail_after_commit(task, "assigned", actor=user)
        else:
            notify.mail_after_commit(task, "claimable", actor=user)
    return task


def do_delegate_task(task: UserTask, *, user, delegate) -> UserTask:
    """The assignee hands the task to a delegate, keeping it: the delegate resolves it back."""
    with transaction.atomic():
        task = lock(task)
        permissions.check(task, user, TaskAction.DELEGATE)
        if delegate.pk == user.pk:
            raise ServiceError(
                "You cannot delegate a task to yourself.",
                fields={"delegate": ["choose someone else"]},
            )
        task.owner, task.assignee, task.status = user, delegate, TaskStatus.DELEGATED
        _save(task, "owner", "assignee", "status")
        audit = record(task, TaskEventType.DELEGATED, actor=user, to=_name(delegate))
        notify.lifecycle(task, "assigned", audit, delegation="delegated")
        notify.mail_after_commit(task, "assigned", actor=user)
    return task


def do_resolve_task(task: UserTask, *, user) -> UserTask:
    """The delegate hands the task back to its owner, who completes it."""
    with transaction.atomic():
        task = lock(task)
        permissions.check(task, user, TaskAction.RESOLVE)
        owner = task.owner
        task.assignee, task.owner, task.status = owner, None, TaskStatus.ASSIGNED
        if owner is None:  # an owner deleted meanwhile: back to the queue
            task.status = TaskStatus.UNASSIGNED
        _save(task, "assignee", "owner", "status")
        audit = record(task, TaskEventType.RESOLVED, actor=user, to=_name(owner))
        if owner is not None:
            notify.lifecycle(task, "assigned", audit, delegation="resolved")
            notify.mail_after_commit(task, "assigned", actor=user)
    return task


def _check_data(data: Any, field: str = "data") -> None:
    if data is not None and not isinstance(data, dict):
        raise ServiceError(
            "The data must be a JSON object (the form's fields).",
            code=TaskErrorCode.DATA_INVALID,
            fields={field: ["must be a JSON object"]},
        )
    size = len(json.dumps(data, ensure_ascii=False, default=str).encode())
    if size > MAX_DATA_BYTES:
        raise ServiceError(
            f"The data is {size} bytes; at most {MAX_DATA_BYTES} are accepted.",
            code=TaskErrorCode.DATA_INVALID,
            fields={field: ["too large"]},
        )


def do_save_draft(
    task: UserTask, *, user, data: Any, follow_up_at: datetime | None = None
) -> UserTask:
    """The assignee keeps unfinished form data (and, optionally, a follow-up date)."""
    _check_data(data)
    with transaction.atomic():
        task = lock(task)
        permissions.check(task, user, TaskAction.DRAFT)
        task.draft = data
        fields = ["draft"]
        if follow_up_at is not None:
            task.follow_up_at = follow_up_at
            fields.append("follow_up_at")
        _save(task, *fields)
        record(task, TaskEventType.DRAFT_SAVED, actor=user, fields=sorted((data or {}).keys()))
    return task


def validate_submission(task: UserTask, outcome: str | None, data: Any) -> None:
    """The outcome is one of the task's; the data fits its form (400 with what is wrong)."""
    names = task.outcome_names
    if names and outcome not in names:
        message = (
            f"'{outcome}' is not an outcome of this task; choose one of {', '.join(names)}."
            if outcome
            else f"Choose an outcome: {', '.join(names)}."
        )
        raise ServiceError(
            message, code=TaskErrorCode.UNKNOWN_OUTCOME, fields={"outcome": [message]}
        )
    if not names and outcome:
        message = "This task has no outcomes; complete it without one."
        raise ServiceError(
            message, code=TaskErrorCode.UNKNOWN_OUTCOME, fields={"outcome": [message]}
        )
    _check_data(data)
    schema = form_schema(task)
    if schema is None:
        return
    validator = jsonschema.validators.validator_for(schema)(schema)
    problems: dict[str, list[str]] = {}
    for error in sorted(validator.iter_errors(data or {}), key=lambda e: list(e.path)):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        problems.setdefault(f"data{where}", []).append(error.message)
    if problems:
        first = next(iter(problems.items()))
        raise ServiceError(
            f"The data does not fit the form: {first[0]}: {first[1][0]}",
            code=TaskErrorCode.DATA_INVALID,
            fields=problems,
        )


def do_complete_task(task: UserTask, *, user, outcome: str | None = None, data: Any = None):
    """The assignee submits: the task is completed and its workflow resumes, exactly once."""
    with transaction.atomic():
        task = lock(task)
        permissions.check(task, user, TaskAction.COMPLETE)
        validate_submission(task, outcome, data)
        task.status, task.outcome, task.output = TaskStatus.COMPLETED, outcome or "", data
        task.completed_by, task.completed_at, task.draft = user, timezone.now(), None
        _save(task, "status", "outcome", "output", "completed_by", "completed_at", "draft")
        audit = record(task, TaskEventType.COMPLETED, actor=user, outcome=outcome or "")
        notify.lifecycle(task, "completed", audit)
        resume_after_commit(task, "completed", user=user, outcome=outcome or None, data=data)
    return task


def do_comment_task(task: UserTask, *, user, text: str) -> TaskComment:
    """Anyone with a part in the task writes a comment."""
    text = (text or "").strip()
    if not text or len(text) > MAX_COMMENT_LENGTH:
        raise ServiceError(
            f"A comment has 1 to {MAX_COMMENT_LENGTH} characters.",
            fields={"text": ["empty" if not text else "too long"]},
        )
    with transaction.atomic():
        task = lock(task)
        permissions.check(task, user, TaskAction.COMMENT)
        comment = TaskComment.objects.create(task=task, author=user, text=text)
        record(task, TaskEventType.COMMENTED, actor=user, comment=comment.pk)
    return comment


def do_attach_file(task: UserTask, *, user, file) -> Any:
    """Link a stored file (apps.files, not saved yet or just saved) to the task, and through
    it to the task's instance; called by the files service inside its transaction."""
    with transaction.atomic():
        task = lock(task)
        permissions.check(task, user, TaskAction.ATTACH)
        file.task = task
        if file.instance_id is None and task.instance_id is not None:
            file.instance_id = task.instance_id
        file.save(update_fields=["task", "instance"])
        record(task, TaskEventType.ATTACHED, actor=user, name=file.name, file=str(file.pk))
    return file


def do_note_file_deleted(task: UserTask, *, user, file) -> None:
    """The task's history says that one of its attachments was deleted (files service)."""
    record(task, TaskEventType.DETACHED, actor=user, name=file.name, file=str(file.pk))


def do_delete_task(task: UserTask, *, user, reason: str = "") -> UserTask:
    """An operator removes an open task: its workflow takes `onTaskDeleted`."""
    with transaction.atomic():
        task = lock(task)
        permissions.check(task, user, TaskAction.DELETE)
        task.status = TaskStatus.DELETED
        _save(task, "status")
        audit = record(task, TaskEventType.DELETED, actor=user, reason=reason)
        notify.lifecycle(task, "deleted", audit)
        resume_after_commit(task, "deleted", user=user)
    return task
