"""Read queries of the tasks app: the inbox lists, their filters, one task with its history.

The API, the inbox pages and the admin read through these. Each list is the user's own by
its definition (assigned to them, offered to them, delegated or completed by them) or starts
from `permissions.visible_tasks`, so no view can list a task the user should not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import F, Prefetch, Q, QuerySet
from django.db.models.fields.tuple_lookups import Tuple, TupleLessThan
from django.utils import timezone

from apps.core.errors import ServiceError
from apps.files.models import StoredFile
from apps.tasks import keyset, permissions
from apps.tasks.lifecycle import TaskStatus
from apps.tasks.models import TaskCandidacy, TaskComment, TaskEvent, UserTask

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

    def q(self, prefix: str = "", priority_prefix: str | None = None) -> Q:
        """The filters as a condition on tasks (`prefix`: reached through a relation)."""
        p = prefix
        pp = p if priority_prefix is None else priority_prefix
        conditions: dict[str, Any] = {}
        if self.instance:
            conditions[f"{p}instance_id"] = self.instance
        if self.definition:
            conditions[f"{p}definition_key"] = self.definition
        if self.status:
            conditions[f"{p}status__in"] = self.status
        if self.priority_min is not None:
            conditions[f"{pp}priority__gte"] = self.priority_min
        if self.priority_max is not None:
            conditions[f"{pp}priority__lte"] = self.priority_max
        if self.due_after is not None:
            conditions[f"{p}due_at__gte"] = self.due_after
        if self.due_before is not None:
            conditions[f"{p}due_at__lt"] = self.due_before
        if self.title:
            conditions[f"{p}title__icontains"] = self.title
        q = Q(**conditions)
        if self.overdue:
            q &= Q(**{f"{p}due_at__lt": timezone.now(), f"{p}status__in": TaskStatus.open_values()})
        return q

    def apply(self, qs: QuerySet) -> QuerySet:
        return qs.filter(self.q())


def task_list(user, view: str = "mine", filters: TaskFilters | None = None) -> QuerySet:
    """One inbox list of the user (unordered: `task_page` orders and pages it).

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


@dataclass
class Page:
    rows: list[UserTask]
    next_cursor: str | None  # None: the last page


def task_page(
    user,
    view: str = "mine",
    filters: TaskFilters | None = None,
    *,
    ordering: str | None = None,
    cursor: str | None = None,
    size: int = 50,
) -> Page:
    """One page of an inbox list, in the named ordering, after the cursor (keyset.py)."""
    filters = filters or TaskFilters()
    name, order = keyset.ordering(ordering, view)
    after = keyset.decode(cursor, order) if cursor else None
    if view == "queue" and name == "-priority":
        rows = _queue_page(user, filters, after, size)
    else:
        rows = keyset.page(
            task_list(user, view, filters), order, after, size, rows=UserTask.objects.for_list()
        )
    more = len(rows) > size
    rows = rows[:size]
    return Page(rows, keyset.encode(order.key(rows[-1])) if more and rows else None)


def _principals(user) -> list[str]:
    """Whom a user's queue is offered to: the user and each of their groups (queue.py)."""
    return [f"u:{user.get_username()}"] + [f"g:{g}" for g in sorted(permissions.group_names(user))]


def _queue_page(user, filters: TaskFilters, after: list[Any] | None, size: int) -> list:
    """The queue in list order, merged from the user's principals' candidacy ranges.

    Each principal (the user, each of their groups) contributes its first `size` + 1
    candidacies after the cursor — an index-only range scan, filters on the task checked
    through the join — and the union's first `size` + 1 are the page. The cost depends on
    the page size and the number of the user's groups, not on how many tasks there are.
    """
    principals = _principals(user)
    condition = filters.q(prefix="task__", priority_prefix="")
    parts, params = [], []
    for principal in principals:
        qs = TaskCandidacy.objects.filter(condition, principal=principal)
        if after is not None:
            key = Tuple(F("priority"), F("created_at"), F("task_id"))
            qs = qs.filter(TupleLessThan(key, tuple(after)))
        qs = qs.order_by("-priority", "-created_at", "-task_id").values_list(
            "task_id", "priority", "created_at"
        )[: size + 1]
        sql, values = qs.query.sql_with_params()
        parts.append(f"({sql})")
        params.extend(values)
    # UNION, not UNION ALL: a task offered to two of the user's groups is listed once.
    sql = (
        f"SELECT task_id FROM ({' UNION '.join(parts)}) AS queue "
        "ORDER BY priority DESC, created_at DESC, task_id DESC LIMIT %s"
    )
    with connection.cursor() as cur:
        cur.execute(sql, [*params, size + 1])
        ids = [row[0] for row in cur.fetchall()]
    found = UserTask.objects.for_list().filter(pk__in=ids, status=TaskStatus.UNASSIGNED)
    rows = {task.pk: task for task in found}
    return [rows[pk] for pk in ids if pk in rows]


def task_detail(user, pk: Any) -> UserTask:
    """One task the user may see, with its comments, attachments and history prefetched."""
    qs = UserTask.objects.select_related(
        "assignee", "owner", "completed_by", "instance"
    ).prefetch_related(
        Prefetch("comments", queryset=TaskComment.objects.select_related("author")),
        Prefetch(
            "attachments",
            queryset=StoredFile.objects.live().select_related("owner").order_by("created_at"),
        ),
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
    queue = TaskCandidacy.objects.filter(principal__in=_principals(user))
    return {
        "mine": task_list(user, "mine").count(),
        "queue": queue.values("task_id").distinct().count(),
        "delegated": task_list(user, "delegated").count(),
    }
