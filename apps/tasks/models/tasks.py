"""The user task row: what the inbox lists and what the workflow waits for (PRODUCT.md §3)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from apps.core.jsonfields import SafeJSONField
from apps.tasks.lifecycle import TaskStatus
from apps.workflows.models import WorkflowInstance

OPEN = TaskStatus.open_values()
# The inbox lists order by (priority, created_at, id), all descending: one direction, so a
# cursor is a row comparison the indexes below answer as a range (no OFFSET, any depth).
LIST_ORDER = ("-priority", "-created_at", "-id")


class UserTaskQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=OPEN)

    def for_list(self):
        """What a list row shows, in one query."""
        return self.select_related("assignee", "owner").defer(
            "input", "draft", "output", "listeners", "timers"
        )

    def participation(self, user, groups: Iterable[str]) -> Q:
        """Tasks the user has a part in: assignee, owner, completer or candidate."""
        q = (
            Q(assignee_id=user.pk)
            | Q(owner_id=user.pk)
            | Q(completed_by_id=user.pk)
            | Q(candidate_users__contains=[user.get_username()])
        )
        groups = list(groups)
        if groups:
            q |= Q(candidate_groups__overlap=groups)
        return q

    def assigned_to(self, user):
        """ "My tasks": open and assigned to the user (a delegate sees delegated tasks here)."""
        return self.filter(
            assignee_id=user.pk, status__in=[TaskStatus.ASSIGNED, TaskStatus.DELEGATED]
        )

    def claimable_by(self, user, groups: Iterable[str]):
        """The queue: unassigned tasks the user may claim (candidate user or group member)."""
        groups = list(groups)
        who = Q(candidate_users__contains=[user.get_username()])
        if groups:
            who |= Q(candidate_groups__overlap=groups)
        return self.filter(who, status=TaskStatus.UNASSIGNED)

    def delegated_by(self, user):
        """Tasks the user owns and has delegated, waiting to be resolved back."""
        return self.filter(owner_id=user.pk, status=TaskStatus.DELEGATED)

    def completed_by_user(self, user):
        return self.filter(completed_by_id=user.pk, status=TaskStatus.COMPLETED)


class UserTask(models.Model):
    """One task of a `usertask` state; the workflow waits until it is completed or ends."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # The creating activity's key: a retried activity finds its task instead of making another.
    dedupe_key = models.CharField(max_length=300, unique=True)
    # Null for ad-hoc runs (run_workflow, tests), which have no instance row.
    instance = models.ForeignKey(
        WorkflowInstance, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    workflow_id = models.CharField(max_length=200)  # the workflow the completion is signalled to
    # The instance id the workflow runs as (the row's, for platform instances).
    instance_key = models.CharField(max_length=64, blank=True, default="")
    definition_key = models.CharField(max_length=200, blank=True, default="")
    definition_version = models.CharField(max_length=100, blank=True, default="")
    state_name = models.CharField(max_length=200)
    task_key = models.CharField(max_length=200)
    title = models.CharField(max_length=500)
    form_key = models.CharField(max_length=200, blank=True, default="")
    form_version = models.PositiveIntegerField(null=True, blank=True)  # None: the latest
    status = models.CharField(
        max_length=16, choices=TaskStatus.choices, default=TaskStatus.UNASSIGNED
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Set while delegated: the owner keeps the task, the assignee (delegate) resolves it back.
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Names, as the definition gives them: a user or group created later still qualifies.
    candidate_users = ArrayField(models.CharField(max_length=150), default=list, blank=True)
    candidate_groups = ArrayField(models.CharField(max_length=150), default=list, blank=True)
    priority = models.PositiveSmallIntegerField(default=50)  # 0..100
    due_at = models.DateTimeField(null=True, blank=True)
    follow_up_at = models.DateTimeField(null=True, blank=True)
    input = SafeJSONField(null=True, blank=True)  # the state's dataFilter over its data
    draft = SafeJSONField(null=True, blank=True)  # saved, not submitted
    outcome = models.CharField(max_length=200, blank=True, default="")
    output = SafeJSONField(null=True, blank=True)  # the submitted data
    outcomes = models.JSONField(default=list, blank=True)  # [{"name", "label"}]
    # [{"on": [...], "produceEventRef", "event": {event definition}}]
    listeners = models.JSONField(default=list, blank=True)
    timers = models.JSONField(default=list, blank=True)  # as written in the definition
    task_timeout = models.CharField(max_length=64, blank=True, default="")
    escalations = models.PositiveSmallIntegerField(default=0)
    # A default, not auto_now_add: the benchmark seeds spread creation times in bulk.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    completed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = UserTaskQuerySet.as_manager()

    class Meta:
        ordering = list(LIST_ORDER)
        permissions = [
            ("assign_usertask", "Can assign and reassign user tasks (managers)"),
        ]
        indexes = [
            # "mine": assignee = me, open, in list order.
            models.Index(
                fields=["assignee", *LIST_ORDER],
                name="task_mine",
                condition=Q(status__in=[TaskStatus.ASSIGNED, TaskStatus.DELEGATED]),
            ),
            # "queue" in list order is TaskCandidacy's; these serve who-sees-what (view=all,
            # other orderings of the queue): a bitmap OR with the foreign keys' indexes.
            GinIndex(fields=["candidate_groups"], name="task_candidate_groups"),
            GinIndex(fields=["candidate_users"], name="task_candidate_users"),
            models.Index(
                fields=["owner", *LIST_ORDER],
                name="task_delegated",
                condition=Q(status="delegated"),
            ),
            models.Index(
                F("completed_by"),
                F("completed_at").desc(nulls_last=True),  # as the "-completed" ordering sorts
                F("id").desc(),
                name="task_completed",
                condition=Q(status="completed"),
            ),
            models.Index(fields=["instance", "status"], name="task_instance"),
            models.Index(fields=["definition_key", "status"], name="task_definition"),
        ]

    def __str__(self) -> str:
        return self.title or self.task_key

    @property
    def is_open(self) -> bool:
        return self.status in OPEN

    @property
    def outcome_names(self) -> list[str]:
        return [o.get("name") for o in self.outcomes or [] if isinstance(o, dict)]

    @property
    def form(self) -> str:
        """The form reference as written: `key` or `key@version`."""
        if not self.form_key:
            return ""
        return f"{self.form_key}@{self.form_version}" if self.form_version else self.form_key


class TaskCandidacy(models.Model):
    """A claimable task, once per principal who may claim it: the queue's own index.

    Rows exist only while the task is unassigned (the services keep them in step, in the
    transaction of each change); `principal` is "u:<username>" or "g:<group name>". The
    task's priority and creation time are copied (neither ever changes), so one principal's
    queue is one ordered index range, read without touching the task table: a user's queue
    page is the merge of their principals' first rows, whatever the table's size.
    """

    task = models.ForeignKey(UserTask, on_delete=models.CASCADE, related_name="candidacies")
    principal = models.CharField(max_length=160)
    priority = models.PositiveSmallIntegerField()
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["principal", "task"], name="uniq_task_candidacy")
        ]
        indexes = [
            models.Index(
                fields=["principal", "-priority", "-created_at", "-task"], name="task_queue_order"
            )
        ]
