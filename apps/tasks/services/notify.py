"""What the world hears of a task's life: CloudEvents through the outbox, and emails.

CloudEvents (the platform's `io.xflow.task.<kind>`, plus those the definition's listeners
ask for) are written to the outbox in the transaction of the change, so they are published
if and only if the change committed (the bridge sends them to Kafka). Emails are queued to
Celery after the commit: a rolled-back change mails nobody.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.db import transaction

from apps.tasks.models import TaskEvent, UserTask
from apps.workflows.engine.contracts import EmitEvent

log = logging.getLogger("xflow.tasks")

EVENT_TYPE_PREFIX = "io.xflow.task."
EVENT_SOURCE = "/xflow/tasks"
# The platform's lifecycle events: the listeners' vocabulary plus `cancelled`.
PLATFORM_EVENTS = {
    "created",
    "assigned",
    "claimed",
    "completed",
    "deleted",
    "timed_out",
    "escalated",
    "cancelled",
}


def task_summary(task: UserTask) -> dict[str, Any]:
    """What an event says about a task (never its input or submitted data)."""
    return {
        "id": str(task.pk),
        "taskKey": task.task_key,
        "title": task.title,
        "state": task.state_name,
        "instanceId": task.instance_key or None,
        "definition": task.definition_key or None,
        "version": task.definition_version or None,
        "status": task.status,
        "assignee": task.assignee.get_username() if task.assignee_id else None,
        "owner": task.owner.get_username() if task.owner_id else None,
        "candidateUsers": list(task.candidate_users or []),
        "candidateGroups": list(task.candidate_groups or []),
        "priority": task.priority,
        "dueDate": task.due_at.isoformat() if task.due_at else None,
        "outcome": task.outcome or None,
    }


def _instance_id(task: UserTask) -> str:
    """The instance the event is about (the engine always names one; the nil id otherwise)."""
    for value in (task.instance_id, task.instance_key):
        try:
            return str(uuid.UUID(str(value)))
        except ValueError:
            continue
    return str(uuid.UUID(int=0))


def _emit(task: UserTask, event: dict[str, Any], data: dict[str, Any], key: str) -> None:
    from apps.workflows.services.events import emit_event

    emit_event(
        EmitEvent(
            instance_id=_instance_id(task),
            event=event,
            data=data,
            context_attributes={"xflowtaskid": str(task.pk), "xflowtaskkey": task.task_key},
            dedupe_key=key,
        )
    )


def lifecycle(task: UserTask, kind: str, audit: TaskEvent, **extra: Any) -> None:
    """Emit the platform's event for `kind` and every listener's that names it."""
    data = {**task_summary(task), "event": kind, **extra}
    if kind in PLATFORM_EVENTS:
        _emit(
            task,
            {"type": EVENT_TYPE_PREFIX + kind, "source": EVENT_SOURCE},
            data,
            f"task-event:{audit.pk}",
        )
    for index, listener in enumerate(task.listeners or []):
        names = listener.get("on") or []
        names = [names] if isinstance(names, str) else names
        if kind not in names:
            continue
        produce_event(task, listener, data, f"task-event:{audit.pk}:listener:{index}")


def produce_event(task: UserTask, spec: dict[str, Any], data: Any, key: str) -> None:
    """A CloudEvent named by a listener or an `event` timer (`produceEventRef`)."""
    ref = spec.get("produceEventRef") or ""
    event = spec.get("event") or _event_definition(task, ref) or {"name": ref, "type": ref}
    _emit(task, event, data, key)


def _event_definition(task: UserTask, ref: str) -> dict[str, Any] | None:
    """The workflow's event definition `ref` (timers carry only its name)."""
    for listener in task.listeners or []:
        if listener.get("produceEventRef") == ref and listener.get("event"):
            return listener["event"]
    instance = task.instance
    if instance is None or not ref:
        return None
    for event in (instance.definition.document or {}).get("events") or []:
        if isinstance(event, dict) and event.get("name") == ref:
            return event
    return None


def mail_after_commit(task: UserTask, kind: str, *, actor=None) -> None:
    """Queue the email of `kind` (assigned|claimable|reminder) once the change commits."""
    task_id, actor_id = str(task.pk), getattr(actor, "pk", None)

    def queue() -> None:
        from apps.tasks.tasks import send_task_mail

        try:
            send_task_mail.delay(task_id, kind, actor_id)
        except Exception as exc:  # noqa: BLE001 - the broker is down: the change stands
            log.warning("email %s of task %s not queued: %s", kind, task_id, exc)

    transaction.on_commit(queue)
