"""Temporal activities of the tasks app (QUEUE_TASKS): the workflow side of user tasks.

Synchronous (Django's ORM is), run in the worker's thread pool, idempotent: Temporal may run
an activity again after a worker dies mid-way.
"""

from __future__ import annotations

import logging

from temporalio import activity

from apps.core.activities import db_activity, is_platform_instance
from apps.workflows.engine.contracts import (
    ACT_CREATE_USER_TASK,
    ACT_USER_TASK_EVENT,
    CreateUserTask,
    UserTaskEvent,
)

log = logging.getLogger("xflow.worker")


@activity.defn(name=ACT_CREATE_USER_TASK)
@db_activity
def create_user_task(request: CreateUserTask) -> str:
    """Create the task of a usertask state (once per dedupe key); returns its id.

    A platform instance whose row is not visible yet fails the attempt (Temporal retries);
    a task the definition's values cannot make (priority 150, a bad dueDate) is a business
    error the state's onErrors may handle.
    """
    from apps.tasks.services import do_create_task

    info = activity.info()
    task = do_create_task(
        request,
        strict=is_platform_instance(request.instance_id),
        # From the first attempt: a retried activity computes the same due date.
        now=info.scheduled_time,
    )
    return str(task.pk)


@activity.defn(name=ACT_USER_TASK_EVENT)
@db_activity
def user_task_event(event: UserTaskEvent) -> None:
    """A timer fired, the task timed out, or its instance is being cancelled."""
    from apps.tasks.models import UserTask
    from apps.tasks.services import do_cancel_task, do_fire_timer, do_timeout_task

    task = UserTask.objects.filter(pk=event.task_id).first()
    if task is None:
        # Created before the workflow could name it: only a deleted row is missing.
        log.warning(
            "user task %s (%s) has no row; %s ignored", event.task_id, event.state, event.kind
        )
        return
    if event.kind == "timer":
        do_fire_timer(task, timer=event.timer or {}, fire_count=event.fire_count)
    elif event.kind == "timeout":
        do_timeout_task(task)
    elif event.kind == "cancel":
        do_cancel_task(task, reason="the instance was cancelled")
    else:
        log.warning("user task %s: unknown event kind %r ignored", event.task_id, event.kind)


def task_activities() -> list:
    return [create_user_task, user_task_event]
