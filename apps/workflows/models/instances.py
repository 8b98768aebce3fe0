"""The Postgres mirror of workflow instances (Temporal is the source of truth for execution)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models

from apps.core.jsonfields import SafeJSONField
from apps.core.models import AuditEvent

from .definitions import WorkflowDefinition


class InstanceStatus(models.TextChoices):
    # The row is committed and its workflow is being started (after the commit, or by the
    # reconciler if that start was interrupted): a row never waits for its workflow unseen.
    STARTING = "starting", "Starting"
    RUNNING = "running", "Running"
    WAITING = "waiting", "Waiting"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"
    TERMINATED = "terminated", "Terminated"
    TIMED_OUT = "timed_out", "Timed out"

    @classmethod
    def open_values(cls) -> list[str]:
        return [cls.STARTING, cls.RUNNING, cls.WAITING]

    @classmethod
    def closed_values(cls) -> list[str]:
        return [cls.COMPLETED, cls.FAILED, cls.CANCELLED, cls.TERMINATED, cls.TIMED_OUT]


class InstanceQuerySet(models.QuerySet):
    def open(self):
        return self.filter(status__in=InstanceStatus.open_values())

    def with_definition(self):
        return self.select_related("definition", "started_by", "parent")


class WorkflowInstance(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    definition = models.ForeignKey(
        WorkflowDefinition, on_delete=models.PROTECT, related_name="instances"
    )
    definition_key = models.CharField(max_length=200)
    version = models.CharField(max_length=100)
    business_key = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(
        max_length=16, choices=InstanceStatus.choices, default=InstanceStatus.STARTING
    )
    current_states = models.JSONField(default=list, blank=True)
    visited_states = models.JSONField(default=list, blank=True)
    # Actions in flight while the instance runs: [{"state", "action", "function", "since"}].
    pending_actions = models.JSONField(default=list, blank=True)
    input = SafeJSONField(null=True, blank=True)
    output = SafeJSONField(null=True, blank=True)
    error = SafeJSONField(null=True, blank=True)
    # What the reconciler needs to issue the start again if the first attempt was lost:
    # {"kind": "start"|"retry", "start_event", "resume_state", "resume_data", "carry"}.
    start_spec = SafeJSONField(null=True, blank=True)
    start_requested_at = models.DateTimeField(null=True, blank=True)
    # The highest engine timeline seq applied to this row: a late or repeated report (or a
    # live update overtaken by the final report) never moves the row backwards.
    engine_seq = models.PositiveIntegerField(default=0)
    reconciled_at = models.DateTimeField(null=True, blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )
    workflow_id = models.CharField(max_length=200, unique=True)
    run_id = models.CharField(max_length=100, blank=True, default="")
    restarted_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="restarts"
    )
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = InstanceQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["status", "-created_at"]),
            models.Index(fields=["definition_key", "version"]),
            models.Index(fields=["business_key"]),
            models.Index(fields=["-created_at", "id"]),
            models.Index(
                fields=["updated_at"],
                condition=models.Q(status__in=["starting", "running", "waiting"]),
                name="instance_open_by_update",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.definition_key}@{self.version} {str(self.id)[:8]}"

    @property
    def is_open(self) -> bool:
        return self.status in InstanceStatus.open_values()


class InstanceEvent(AuditEvent):
    """The timeline: what the engine reported and what people did to the instance."""

    instance = models.ForeignKey(WorkflowInstance, on_delete=models.CASCADE, related_name="events")
    state = models.CharField(max_length=200, blank=True, default="")
    occurred_at = models.DateTimeField(null=True, blank=True)
    # The engine numbers its timeline entries so a repeated report is stored once.
    seq = models.PositiveIntegerField(null=True, blank=True)
    details = SafeJSONField(default=dict, blank=True)

    class Meta(AuditEvent.Meta):
        indexes = [models.Index(fields=["instance", "created_at"])]
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "seq"],
                condition=models.Q(seq__isnull=False),
                name="uniq_instance_timeline_seq",
            )
        ]
