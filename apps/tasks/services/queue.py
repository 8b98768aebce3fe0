"""Keeping the queue's index (TaskCandidacy) in step with a task's status and candidates."""

from __future__ import annotations

from apps.tasks.lifecycle import TaskStatus
from apps.tasks.models import TaskCandidacy, UserTask


def principals(task: UserTask) -> list[str]:
    return [f"u:{u}" for u in task.candidate_users or []] + [
        f"g:{g}" for g in task.candidate_groups or []
    ]


def sync_queue(task: UserTask, *, fresh: bool = False) -> None:
    """The task is in its candidates' queues exactly while it is unassigned (`fresh`: a new
    task, nothing to remove). Call it in the transaction of the change."""
    if not fresh:
        TaskCandidacy.objects.filter(task=task).delete()
    if task.status == TaskStatus.UNASSIGNED:
        TaskCandidacy.objects.bulk_create(
            TaskCandidacy(
                task=task, principal=p[:160], priority=task.priority, created_at=task.created_at
            )
            for p in dict.fromkeys(principals(task))
        )
