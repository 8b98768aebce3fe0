"""Stored files: one row per upload, the bytes in storage under a key the platform chooses."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from apps.core.models import AuditEvent


class StoredFileQuerySet(models.QuerySet):
    def live(self):
        """Files not deleted (soft deletion keeps the row and the bytes)."""
        return self.filter(deleted_at__isnull=True)


class StoredFile(models.Model):
    """An uploaded file: its sanitised name, sniffed type, size, sha256 and where it is stored.

    Workflow data refers to a file by its `id`. A file may be linked to a user task (an
    attachment) and to a workflow instance: the people of that task or instance may read it.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=255)  # sanitised: no path, no control characters
    content_type = models.CharField(max_length=200)  # sniffed from the bytes
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64, db_index=True)
    # Chosen by the platform (never the client's name): files/<yyyy>/<mm>/<id>.
    storage_key = models.CharField(max_length=300, unique=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    task = models.ForeignKey(
        "tasks.UserTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="attachments",
    )
    instance = models.ForeignKey(
        "workflows.WorkflowInstance",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="files",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    deleted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    objects = StoredFileQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # "mine" and the cursor order of the list.
            models.Index(
                fields=["owner", "-created_at"],
                name="file_owner",
                condition=Q(deleted_at__isnull=True),
            ),
            models.Index(fields=["task", "created_at"], name="file_task"),
            models.Index(fields=["instance", "created_at"], name="file_instance"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None


class FileEvent(AuditEvent):
    """The audit trail of a file: uploaded, linked, downloaded by an operator, deleted."""

    file = models.ForeignKey(StoredFile, on_delete=models.CASCADE, related_name="events")

    class Meta(AuditEvent.Meta):
        indexes = [models.Index(fields=["file", "created_at"], name="file_event_file")]
