"""CloudEvents in and out: waits of instances, the outbox, and received event ids."""

from __future__ import annotations

from django.db import models

from .instances import WorkflowInstance


class EventWait(models.Model):
    """An instance waiting for an event type (event/callback/switch states, result events)."""

    instance = models.ForeignKey(WorkflowInstance, on_delete=models.CASCADE, related_name="waits")
    wait_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=300)
    source = models.CharField(max_length=500, blank=True, default="")
    # [{"name": contextAttributeName, "value": expected or null (learned from the first event)}]
    correlation = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "wait_id", "event_type"], name="uniq_event_wait"
            )
        ]
        indexes = [models.Index(fields=["event_type"])]


class OutboxEvent(models.Model):
    """A CloudEvent to publish; written in the producer's transaction, sent by the bridge."""

    dedupe_key = models.CharField(max_length=300, unique=True)
    topic = models.CharField(max_length=300)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=300)
    source = models.CharField(max_length=500)
    attributes = models.JSONField(default=dict)
    data = models.JSONField(null=True, blank=True)
    instance = models.ForeignKey(
        WorkflowInstance, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbox"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(published_at__isnull=True), name="outbox_pending"
            )
        ]


class InboundEvent(models.Model):
    """Each received CloudEvent once (source + id): redelivery does not start twice."""

    source = models.CharField(max_length=500)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=300)
    received_at = models.DateTimeField(auto_now_add=True)
    result = models.JSONField(default=dict)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="uniq_inbound_event")
        ]
