"""Read queries of the tasks app: the inbox lists, their filters, one task with its history.

The API, the inbox pages and the admin read through these; every query starts from what the
user may see (`permissions.visible_tasks`), so no view can list a task it should not.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import Prefetch, QuerySet
from django.utils import timezone

from apps.core.errors import ServiceError
from apps.tasks import permissions
from apps.tasks.lifecycle import TaskStatus
from apps.tasks.models import TaskComment, TaskEvent, UserTask

VIEWS = ("mine", "queue", "delegated", "completed", "all")


@dataclass
class TaskFilters:
    """The list filters (all optional) of the API and the inbox."""

    instance: str | None = None
    definition: str | None = None
    status: list[str] | None = None
    priority_min: int | None = None
    priority_max: int | None = None
    due_after: datetime | None = None
    due_before: datetime | None = None
    overdue: bool = False
    title: str | None = None

    def apply(self, qs: QuerySet) -> QuerySet:
        if self.instance:
            qs = qs.filter(instance_id=self.instance)
        if self.definition:
            qs = qs.filter(definition_key=self.definition)
        if self.status:
            qs = qs.filter(status__in=self.status)
        if self.priority_min is not None:
            qs = qs.filter(priority__gte=self.priority_min)
        if self.priority_max is not None:
            qs = qs.filter(priority__lte=self.priority_max)
        if self.due_after is not None:
            qs = qs.filter(due_at__gte=self.due_after)
        if self.due_before is not None:
            qs = qs.filter(due_at__lt=self.due_before)
        if self.overdue:
            qs = qs.filter(due_at__lt=timezone.now(), status__in=TaskStatus.open_values())
        if self.title:
            qs = qs.filter(title__icontains=self.title)
        return qs


def task_list(user, view: str = "mine", filters: TaskFilters | None = None) -> QuerySet:
    """One inbox list of the user (unordered: the paginator orders it).

    mine: open tasks assigned to the user (delegated to them included); queue: unassigned
    tasks they may claim; delegated: tasks they own and delegated; completed: tasks they
    completed; all: every task they may see (operators: every task).
    """
    if view not in VIEWS:
        raise ServiceError(
            f"view must be one of {', '.join(VIEWS)}.", fields={"view": [f"unknown: {view}"]}
        )
    base = UserTask.objects.for_list()
    if view == "mine":
        qs = base.assigned_to(user)
    elif view == "queue":
        qs = base.claimable_by(user, permissions.group_names(user))
    elif view == "delegated":
        qs = base.delegated_by(user)
    elif view == "completed":
        qs = base.completed_by_user(user)
    else:
        qs = permissions.visible_tasks(user, base)
    return (filters or TaskFilters()).apply(qs)


def task_detail(user, pk: Any) -> UserTask:
    """One task the user may see, with its comments, attachments and history prefetched."""
    qs = UserTask.objects.select_related(
        "assignee", "owner", "completed_by", "instance"
    ).prefetch_related(
        Prefetch("comments", queryset=TaskComment.objects.select_related("author")),
        "attachments",
        Prefetch("events", queryset=TaskEvent.objects.select_related("actor")),
    )
    return permissions.access_task(user, pk, qs)


def tasks_of_instance(instance) -> QuerySet:
    """An instance's tasks, newest first (for the instance page's "its tasks")."""
    return (
        UserTask.objects.filter(instance_id=instance.pk)
        .select_related("assignee")
        .order_by("-created_at")
    )


def counts_for(user) -> dict[str, int]:
    """How many tasks each inbox tab holds (badges)."""
    return {
        "mine": task_list(user, "mine").count(),
        "queue": task_list(user, "queue").count(),
        "delegated": task_list(user, "delegated").count(),
    }
