"""What hangs off a task: its audit trail, comments and its resume signal.

Its attachments are stored files of the files app (`StoredFile.task`, `task.attachments`).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.jsonfields import SafeJSONField
from apps.core.models import AuditEvent

from .tasks import UserTask


class TaskEvent(AuditEvent):
    """The audit trail: one row per change of a task, with who made it."""

    task = models.ForeignKey(UserTask, on_delete=models.CASCADE, related_name="events")
    details = SafeJSONField(default=dict, blank=True)  # may quote submitted data

    class Meta(AuditEvent.Meta):
        indexes = [models.Index(fields=["task", "created_at"], name="task_event_task")]


class TaskComment(models.Model):
    task = models.ForeignKey(UserTask, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["task", "created_at"], name="task_comment_task")]


class TaskResume(models.Model):
    """The signal that resumes the task's workflow (completed or deleted), once per task.

    Written in the transaction that closes the task, sent after the commit, and sent again
    by the relay until Temporal acknowledges it: a completion is never lost, and the
    interpreter applies only the first signal for a task id, so it is never applied twice.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SIGNALLED = "signalled", "Signalled"
        CLOSED = "closed", "Workflow already closed"

    task = models.OneToOneField(UserTask, on_delete=models.CASCADE, related_name="resume")
    workflow_id = models.CharField(max_length=200)
    signal = SafeJSONField()  # a TaskSignal as a dict
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    signalled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"], condition=Q(status="pending"), name="task_resume_pending"
            )
        ]
