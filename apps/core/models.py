"""Foundations the apps share: audit events and idempotency records."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    """Base of the per-aggregate audit tables (one row per state change, with its actor).

    Each app declares its own concrete table (`TaskEvent`, `InstanceEvent`, ...) with a
    foreign key to its aggregate, and one small function per event type writes it.
    """

    event_type = models.CharField(max_length=64)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        abstract = True
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        who = self.actor.get_username() if self.actor_id else "system"
        return f"{self.event_type} by {who}"


class PlatformEvent(AuditEvent):
    """Audit trail for platform-level actions (tokens issued, settings, secrets changed)."""

    subject = models.CharField(max_length=200, blank=True)

    class Meta(AuditEvent.Meta):
        verbose_name = "audit event"


class IdempotencyRecord(models.Model):
    """The first answer to a request sent with an Idempotency-Key, replayed for repeats."""

    scope = models.CharField(max_length=64)  # e.g. "instances.start", "tasks.complete"
    key = models.CharField(max_length=200)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.CASCADE)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["scope", "user", "key"], name="uniq_idempotency_key")
        ]


class Installation(models.Model):
    """This deployment's identity (one row): ids derived from keys (an Idempotency-Key, an
    event) are namespaced by it, so a new database never meets an old Temporal history."""

    uid = models.UUIDField(default=uuid.uuid4, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)


_installation_uid: uuid.UUID | None = None


def installation_uid() -> uuid.UUID:
    """The deployment's uid (created on first use, cached per process)."""
    global _installation_uid
    if _installation_uid is None:
        row, _ = Installation.objects.get_or_create(pk=1)
        _installation_uid = row.uid
    return _installation_uid


def forget_installation_uid() -> None:
    """Tests that recreate the database call this."""
    global _installation_uid
    _installation_uid = None
