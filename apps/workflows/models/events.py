"""CloudEvents in and out: waits of instances, the outbox, and received event ids."""

from __future__ import annotations

from django.db import models

from apps.core.jsonfields import SafeJSONField

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
    """Each received CloudEvent once (source + id): redelivery does not start twice.

    An event that reached no instance is kept (`kept_until`) and handed to the first
    matching wait registered before then; a resend of such an event is routed again.
    """

    source = models.CharField(max_length=500)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=300)
    received_at = models.DateTimeField(auto_now_add=True)
    event = SafeJSONField(null=True, blank=True)  # the CloudEvent as received
    result = SafeJSONField(default=dict)
    delivered_count = models.PositiveIntegerField(default=0)  # instances it reached
    kept_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["source", "event_id"], name="uniq_inbound_event")
        ]
        indexes = [
            models.Index(
                fields=["event_type", "kept_until"],
                condition=models.Q(kept_until__isnull=False),
                name="inbound_event_kept",
            )
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} from {self.source}"


class EventDelivery(models.Model):
    """An event routed to an instance; the signal goes out after the commit, until acknowledged."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SIGNALLED = "signalled", "Signalled"
        CLOSED = "closed", "Instance already closed"

    inbound = models.ForeignKey(InboundEvent, on_delete=models.CASCADE, related_name="deliveries")
    instance = models.ForeignKey(
        WorkflowInstance, on_delete=models.CASCADE, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    signalled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inbound", "instance"], name="uniq_event_delivery")
        ]
        indexes = [
            models.Index(
                fields=["created_at"],
                condition=models.Q(status="pending"),
                name="event_delivery_pending",
            )
        ]
