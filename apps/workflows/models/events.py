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
    # The rules' names ("orderid,region") and, when every value is bound, the key an event
    # must produce from its attributes ("orderid=o-1&region=eu"): routing looks waits up by
    # it instead of reading every wait of the type.
    correlation_names = models.CharField(max_length=300, blank=True, default="")
    correlation_key = models.CharField(max_length=1000, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["instance", "wait_id", "event_type"], name="uniq_event_wait"
            )
        ]
        indexes = [
            models.Index(fields=["event_type"]),
            models.Index(fields=["event_type", "correlation_key"], name="event_wait_correlation"),
        ]


class OutboxStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed (gave up; retry from the admin)"


class OutboxEvent(models.Model):
    """A CloudEvent to publish; written in the producer's transaction, sent by the bridge.

    The relay claims pending rows for a while (`claimed_until`, no lock held while sending),
    retries a failing row with backoff (`next_attempt_at`) and marks it failed after
    XFLOW_OUTBOX_MAX_ATTEMPTS. A row with `webhook_url` is POSTed there instead of to Kafka.
    """

    dedupe_key = models.CharField(max_length=300, unique=True)
    topic = models.CharField(max_length=300, blank=True, default="")
    webhook_url = models.CharField(max_length=2000, blank=True, default="")
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=300)
    source = models.CharField(max_length=500)
    attributes = models.JSONField(default=dict)
    data = models.JSONField(null=True, blank=True)
    instance = models.ForeignKey(
        WorkflowInstance, null=True, blank=True, on_delete=models.SET_NULL, related_name="outbox"
    )
    status = models.CharField(
        max_length=16, choices=OutboxStatus.choices, default=OutboxStatus.PENDING
    )
    created_at = models.DateTimeField(auto_now_add=True)
    published_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    claimed_until = models.DateTimeField(null=True, blank=True)
    claimed_by = models.CharField(max_length=100, blank=True, default="")
    # How a webhook call authenticates: the mode and the *name* of the secret whose value the
    # relay reads when it sends (so a rotated secret is used at once; the value is never here).
    webhook_auth = models.CharField(max_length=16, blank=True, default="")
    webhook_secret = models.CharField(max_length=200, blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(
                fields=["id"], condition=models.Q(status="pending"), name="outbox_pending_rows"
            ),
            # Retention (services/retention.py) deletes the oldest sent rows batch by batch.
            models.Index(
                fields=["published_at"],
                condition=models.Q(status="sent"),
                name="outbox_sent_rows",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id}"


class InboundEvent(models.Model):
    """Each received CloudEvent once (source + id): redelivery does not start twice.

    An event that reached no instance is kept (`kept_until`) and handed to the first
    matching wait registered before then; a resend of such an event is routed again.
    """

    class Status(models.TextChoices):
        ROUTED = "routed", "Routed (reached instances, started some, or fired a trigger)"
        UNROUTED = "unrouted", "Unrouted (nobody listens; kept for a later wait)"

    source = models.CharField(max_length=500)
    event_id = models.CharField(max_length=200)
    event_type = models.CharField(max_length=300)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ROUTED)
    origin = models.CharField(max_length=400, blank=True, default="")  # topic/partition@offset
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
            ),
            models.Index(fields=["status", "received_at"], name="inbound_event_status"),
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


class DeadLetter(models.Model):
    """A consumed message the bridge could not parse or route, kept for an operator to replay.

    `replayed_at` is when an operator last handled it (replayed or discarded); handled ones
    are deleted XFLOW_DEADLETTER_RETENTION_DAYS after that (services/retention.py).
    """

    class Status(models.TextChoices):
        NEW = "new", "New"
        REPLAYED = "replayed", "Replayed"
        REPLAY_FAILED = "replay_failed", "Replay failed"
        DISCARDED = "discarded", "Discarded by an operator"

    topic = models.CharField(max_length=300)
    partition = models.IntegerField()
    offset = models.BigIntegerField()
    key = models.BinaryField(null=True, blank=True)
    headers = SafeJSONField(default=list, blank=True)  # [[name, text or base64], ...]
    value = models.BinaryField(null=True, blank=True)
    value_size = models.PositiveIntegerField(default=0)
    reason = models.TextField()
    event_id = models.CharField(max_length=200, blank=True, default="")
    event_type = models.CharField(max_length=300, blank=True, default="")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.NEW)
    created_at = models.DateTimeField(auto_now_add=True)
    replayed_at = models.DateTimeField("handled at", null=True, blank=True)
    replay_result = SafeJSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["topic", "partition", "offset"], name="uniq_dead_letter_message"
            )
        ]
        indexes = [models.Index(fields=["status", "created_at"], name="dead_letter_status")]

    def __str__(self) -> str:
        return f"{self.topic}/{self.partition}@{self.offset}"


class WebhookAuth(models.TextChoices):
    """How a webhook trigger's call proves it comes from xflow (README, Events: Triggers)."""

    NONE = "none", "None"
    BEARER = "bearer", "Bearer token (Authorization header)"
    HMAC = "hmac", "HMAC-SHA256 signature (xflow-signature header)"


class EventTrigger(models.Model):
    """An operator's rule: events matching the filter start, signal, call or republish."""

    class Action(models.TextChoices):
        START = "start", "Start an instance of a definition"
        SIGNAL = "signal", "Deliver to the instances with a business key"
        WEBHOOK = "webhook", "Call a webhook (CloudEvents HTTP binary mode)"
        REPUBLISH = "republish", "Republish to a Kafka topic"

    name = models.CharField(max_length=200, unique=True)
    enabled = models.BooleanField(default=True)
    event_type = models.CharField(max_length=300, blank=True, help_text="Blank: any type.")
    source = models.CharField(max_length=500, blank=True, help_text="Blank: any source.")
    extensions = models.JSONField(
        default=dict, blank=True, help_text='Attributes the event must carry: {"region": "eu"}.'
    )
    condition = models.TextField(
        blank=True,
        help_text="Optional jq expression over the event (its attributes at the top level, "
        'its payload in .data), e.g. .data.total >= 100 and .region == "eu". '
        "The trigger fires when the first result is neither false nor null (no result: it "
        "does not fire). Checked when saved; evaluated under the expression limits.",
    )
    action = models.CharField(max_length=16, choices=Action.choices)
    definition_key = models.CharField(
        max_length=200, blank=True, help_text="start: the definition (latest published version)."
    )
    business_key_attribute = models.CharField(
        max_length=100,
        blank=True,
        default="subject",
        help_text="signal: the event attribute holding the business key of the instances.",
    )
    url = models.CharField(max_length=2000, blank=True, help_text="webhook: the URL to POST to.")
    auth = models.CharField(
        max_length=16,
        choices=WebhookAuth.choices,
        default=WebhookAuth.NONE,
        help_text="webhook: bearer sends the secret as a bearer token; hmac signs each call "
        '(header xflow-signature: t=UNIX-TIME,v1=hex HMAC-SHA256 of "UNIX-TIME.BODY"; '
        "the README says how a receiver checks it).",
    )
    secret_name = models.CharField(
        max_length=200,
        blank=True,
        help_text="webhook with bearer or hmac: the secret (secrets store) holding the token "
        "or key. Read when each call is sent, so rotating the secret takes effect at once.",
    )
    topic = models.CharField(max_length=300, blank=True, help_text="republish: the topic.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
