"""What the workflow side does to a task: timers, its time-out, and cancellation.

The workflow decides: a timer fired, the task timed out, the instance was cancelled. These
services make the row say so. Each is idempotent (an activity may run twice) and each
first locks the row, so it is serialised with people's actions on the same task.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction

from apps.tasks.lifecycle import TaskStatus
from apps.tasks.models import TaskEvent, UserTask
from apps.tasks.services import notify
from apps.tasks.services.actions import lock
from apps.tasks.services.audit import TaskEventType, record
from apps.tasks.services.create import candidate_names
from apps.tasks.services.queue import sync_queue

log = logging.getLogger("xflow.tasks")


def _supersede(task: UserTask, by: str, status: str, *, user=None) -> None:
    """The engine's verdict came first; a completion/deletion recorded after it is undone.

    The interpreter resumes with the first thing it sees: if its time-out (or its
    cancellation) came before a completion's signal, the workflow went the time-out way, and
    the row must say what the workflow did. The late completion stays in the audit trail.
    """
    what = "completion" if task.status == TaskStatus.COMPLETED else "deletion"
    record(
        task,
        TaskEventType.SUPERSEDED,
        actor=user,
        by=by,
        what=what,
        outcome=task.outcome,
        was=task.status,
    )
    task.status = status
    task.save(update_fields=["status", "updated_at"])


def do_timeout_task(task: UserTask, *, user=None) -> UserTask:
    """taskTimeout elapsed: the workflow takes onTaskTimeout; the row says timed out."""
    with transaction.atomic():
        task = lock(task)
        if task.status == TaskStatus.TIMED_OUT:
            return task
        if not task.is_open:
            if task.status in (TaskStatus.COMPLETED, TaskStatus.DELETED):
                _supersede(task, "timed out", TaskStatus.TIMED_OUT, user=user)
            return task
        task.status = TaskStatus.TIMED_OUT
        task.save(update_fields=["status", "updated_at"])
        sync_queue(task)
        audit = record(task, TaskEventType.TIMED_OUT, actor=user)
        notify.lifecycle(task, "timed_out", audit)
    return task


def do_cancel_task(task: UserTask, *, user=None, reason: str = "", engine: bool = True):
    """The task is withdrawn with its instance (`engine`: the workflow itself cancelled it,
    so a completion it never applied is superseded)."""
    with transaction.atomic():
        task = lock(task)
        if task.status == TaskStatus.CANCELLED:
            return task
        if not task.is_open:
            if engine and task.status in (TaskStatus.COMPLETED, TaskStatus.DELETED):
                _supersede(task, "been cancelled", TaskStatus.CANCELLED, user=user)
            return task
        task.status = TaskStatus.CANCELLED
        task.save(update_fields=["status", "updated_at"])
        sync_queue(task)
        audit = record(task, TaskEventType.CANCELLED, actor=user, reason=reason)
        notify.lifecycle(task, "cancelled", audit)
    return task


def instances_with_open_tasks(instance_ids) -> set:
    """Which of these instances have open tasks (one query, for a batch of instance ends)."""
    return set(
        UserTask.objects.filter(
            instance_id__in=list(instance_ids), status__in=TaskStatus.open_values()
        ).values_list("instance_id", flat=True)
    )


def do_cancel_tasks_of_instance(instance, *, user=None) -> int:
    """An instance ended (any way): its open tasks are cancelled (workflows/hooks.py)."""
    ids = list(
        UserTask.objects.filter(instance_id=instance.pk, status__in=TaskStatus.open_values())
        .order_by("pk")  # one lock order: concurrent cancellers never deadlock
        .values_list("pk", flat=True)
    )
    reason = f"the instance is {getattr(instance, 'status', 'closed')}"
    for pk in ids:
        do_cancel_task(UserTask(pk=pk), user=user, reason=reason, engine=False)
    return len(ids)


def _fired_before(task: UserTask, name: str, count: int) -> bool:
    return TaskEvent.objects.filter(
        task=task,
        event_type=TaskEventType.TIMER_FIRED,
        details__timer=name,
        details__fired=count,
    ).exists()


def do_fire_timer(task: UserTask, *, timer: dict[str, Any], fire_count: int, user=None):
    """A usertask timer fired: remind (email), escalate (new candidate groups) or event."""
    name = str(timer.get("name") or "timer")
    action = str(timer.get("action") or "remind")
    with transaction.atomic():
        task = lock(task)
        if not task.is_open or _fired_before(task, name, fire_count):
            return task  # closed meanwhile, or this firing was applied by an earlier attempt
        record(
            task, TaskEventType.TIMER_FIRED, actor=user, timer=name, action=action, fired=fire_count
        )
        if action == "escalate":
            _escalate(task, timer, user=user)
        elif action == "event":
            notify.produce_event(
                task,
                {"produceEventRef": timer.get("produceEventRef") or name},
                {**notify.task_summary(task), "event": "timer", "timer": name},
                f"task-timer:{task.pk}:{name}:{fire_count}",
            )
        else:
            record(task, TaskEventType.REMINDED, actor=user, timer=name)
            notify.mail_after_commit(task, "reminder")
    return task


def _escalate(task: UserTask, timer: dict[str, Any], *, user=None) -> None:
    """The timer's candidate groups take over; the task goes back to the (new) queue."""
    groups = candidate_names(timer.get("candidateGroups") or []) or list(task.candidate_groups)
    previous = task.assignee.get_username() if task.assignee_id else None
    task.candidate_groups = groups
    task.assignee, task.owner, task.claimed_at = None, None, None
    task.status = TaskStatus.UNASSIGNED
    task.escalations += 1
    task.save(
        update_fields=[
            "candidate_groups",
            "assignee",
            "owner",
            "claimed_at",
            "status",
            "escalations",
            "updated_at",
        ]
    )
    sync_queue(task)
    audit = record(
        task,
        TaskEventType.ESCALATED,
        actor=user,
        groups=groups,
        previous_assignee=previous,
        timer=timer.get("name"),
    )
    notify.lifecycle(task, "escalated", audit)
    notify.mail_after_commit(task, "claimable")
