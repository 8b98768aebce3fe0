"""CloudEvents in and out of workflows.

`deliver_event` is the one way an event reaches the engine: the Kafka bridge, the HTTP
ingress and tests all call it. Routing follows the platform's rule: decided and written in
one transaction, sent to Temporal after the commit (and re-sent until acknowledged).
Events workflows produce go into the outbox table in the same transaction as the activity's
bookkeeping, and the bridge publishes them.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.core import temporal
from apps.core.aftercommit import after_commit
from apps.core.errors import ServiceError
from apps.workflows.engine.contracts import SIGNAL_EVENT, EmitEvent, EventWait
from apps.workflows.eventcodec import check_event
from apps.workflows.models import (
    EventDelivery,
    InboundEvent,
    InstanceStatus,
    OutboxEvent,
    WorkflowInstance,
)
from apps.workflows.models import (
    EventWait as EventWaitRow,
)
from apps.workflows.services.eventlocks import correlation_key, lock_for_waits

# Attributes a workflow's context attributes may not set on a produced event (the platform
# sets them); `subject` and `partitionkey` may be set: they choose the Kafka key.
SPEC_ATTRIBUTES = {
    "id",
    "source",
    "specversion",
    "type",
    "datacontenttype",
    "dataschema",
    "time",
    "data",
    "data_base64",
}
OPEN = InstanceStatus.open_values()
XFLOW_NAMESPACE = uuid.UUID("6f1d7c3e-8a7e-4c55-9d0a-2f6b8f0f4b10")


@dataclass
class DeliveryResult:
    event_id: str
    duplicate: bool = False
    started: list[str] = field(default_factory=list)  # instance ids
    delivered: list[str] = field(default_factory=list)  # instance ids signalled

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "duplicate": self.duplicate,
            "started": self.started,
            "delivered": self.delivered,
        }


def normalize_cloud_event(event: Any) -> dict[str, Any]:
    """Check a CloudEvent 1.0 (required attributes, bounds, storable text); answer in words."""
    return check_event(event, default_specversion="1.0")


def _correlation_matches(correlation: list[dict[str, Any]], event: dict[str, Any]) -> bool:
    for rule in correlation or []:
        name = rule.get("name")
        if name not in event:
            return False
        expected = rule.get("value")
        if expected is not None and str(event[name]) != str(expected):
            return False
    return True


def _wait_matches(wait: EventWaitRow, event: dict[str, Any]) -> bool:
    if wait.event_type != event.get("type"):
        return False
    if wait.source and wait.source != event.get("source"):
        return False
    return _correlation_matches(wait.correlation, event)


def retention() -> timedelta:
    return timedelta(seconds=settings.XFLOW_EVENT_RETENTION_SECONDS)


def deliver_event(event: Any, *, user=None, origin: str = "") -> DeliveryResult:
    """Route one CloudEvent: start instances that begin with it, wake instances waiting for it.

    Everything is decided and written in one transaction (the event, a delivery row per
    instance it reaches, the rows of the instances it starts); the signals and starts go to
    Temporal after the commit, and pending deliveries are re-sent until Temporal takes them.
    Idempotent per (source, id); an event that reached nobody is recorded `unrouted` and
    kept for XFLOW_EVENT_RETENTION_SECONDS for waits that come later, and a resend of it is
    routed again. Operators' triggers (services.triggers) apply in the same transaction.
    Raises ServiceError when the event is refused (services.routing has the rules; the
    bridge routes many events at once with the same code).
    """
    from apps.workflows.services.routing import route_events

    (outcome,) = route_events([(event, origin)], user=user)
    if isinstance(outcome, ServiceError):
        raise outcome
    return outcome


def _business_key(event: dict[str, Any]) -> str:
    return str(event.get("subject") or "")[:200]


# At most this many instances are signalled at once by one batch of deliveries.
SIGNAL_CONCURRENCY = 32
SIGNAL_TIMEOUT_SECONDS = 15


def send_deliveries(ids: Iterable[int]) -> int:
    """Signal the events of these deliveries to their instances; the number acknowledged.

    The instances are signalled side by side; the events of one instance one after the
    other, in the order they were routed (a failure stops that instance's chain: the rest
    stay pending and go, in order, with the next send)."""
    ids = list(ids)
    if not ids:
        return 0
    # An instance's older deliveries still pending (a send that failed) go first, in order:
    # a later event never overtakes an earlier one.
    instances = EventDelivery.objects.filter(pk__in=ids).values("instance_id")
    rows = (
        EventDelivery.objects.filter(status=EventDelivery.Status.PENDING)
        .filter(Q(pk__in=ids) | Q(instance_id__in=instances, pk__lt=max(ids)))
        .select_related("inbound", "instance")
        .only("id", "inbound__event", "instance__workflow_id", "instance__status")
        .order_by("id")
    )
    chains: dict[str, list[EventDelivery]] = {}
    for delivery in rows:
        chains.setdefault(delivery.instance.workflow_id, []).append(delivery)
    if not chains:
        return 0

    async def send_all(client) -> dict[int, BaseException | None]:
        gate = asyncio.Semaphore(SIGNAL_CONCURRENCY)
        outcomes: dict[int, BaseException | None] = {}

        async def chain(workflow_id: str, deliveries: list[EventDelivery]) -> None:
            async with gate:
                handle = client.get_workflow_handle(workflow_id)
                for delivery in deliveries:
                    try:
                        await handle.signal(
                            SIGNAL_EVENT,
                            delivery.inbound.event or {},
                            rpc_timeout=timedelta(seconds=SIGNAL_TIMEOUT_SECONDS),
                        )
                    except Exception as exc:  # noqa: BLE001 - recorded on the row below
                        outcomes[delivery.pk] = exc
                        return
                    outcomes[delivery.pk] = None

        try:
            await asyncio.wait_for(
                asyncio.gather(*(chain(wid, group) for wid, group in chains.items())),
                timeout=deadline,
            )
        except TimeoutError:
            pass  # the chains still running are cancelled: their rest stays pending
        return outcomes

    everything = [d for group in chains.values() for d in group]
    deadline = SIGNAL_TIMEOUT_SECONDS * (2 + len(everything) // 16)
    try:
        outcomes = temporal.call(send_all, timeout=deadline + SIGNAL_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - Temporal away: all stay pending
        outcomes = {d.pk: exc for d in everything}
    sent = [pk for pk, exc in outcomes.items() if exc is None]
    if sent:
        EventDelivery.objects.filter(pk__in=sent).exclude(
            status=EventDelivery.Status.SIGNALLED
        ).update(
            status=EventDelivery.Status.SIGNALLED,
            attempts=F("attempts") + 1,
            signalled_at=timezone.now(),
        )
    for delivery in everything:
        exc = outcomes.get(delivery.pk)
        if exc is not None:
            _record_failed_send(delivery, exc)
    return len(sent)


def _record_failed_send(delivery: EventDelivery, exc: BaseException) -> None:
    """The delivery stays pending (the relay sends it again), unless its instance is gone."""
    from temporalio.service import RPCError, RPCStatusCode

    # Not found: the instance ended, or (still `starting`) its start has not gone out yet;
    # only the first is final.
    closed = (
        isinstance(exc, RPCError)
        and exc.status == RPCStatusCode.NOT_FOUND
        and delivery.instance.status != InstanceStatus.STARTING
    )
    # Only a pending row changes: a concurrent send of the same delivery (the bridge's sender
    # and the reconciler) may have got it through, and the engine ignores the second signal
    # of one event (its id and source).
    EventDelivery.objects.filter(pk=delivery.pk, status=EventDelivery.Status.PENDING).update(
        status=EventDelivery.Status.CLOSED if closed else EventDelivery.Status.PENDING,
        attempts=F("attempts") + 1,
        last_error=str(exc)[:1000] or type(exc).__name__,
    )


def resend_pending_deliveries(*, older_than: timedelta = timedelta(seconds=5)) -> int:
    """The relay: deliveries whose after-commit signal did not go through (reconciler pass)."""
    ids = (
        EventDelivery.objects.filter(
            status=EventDelivery.Status.PENDING, created_at__lt=timezone.now() - older_than
        )
        .order_by("id")  # the oldest first: each instance's events in their order
        .values_list("pk", flat=True)[:500]
    )
    return send_deliveries(list(ids))


# --- used by the engine's activities ------------------------------------------------------


def _wait_rows(wait: EventWait) -> list[EventWaitRow]:
    rows = []
    for spec in wait.events:
        if not spec.get("type"):
            continue
        correlation = [
            {
                "name": rule.get("contextAttributeName") or rule.get("name"),
                "value": rule.get("contextAttributeValue", rule.get("value")),
            }
            for rule in spec.get("correlation") or []
            if isinstance(rule, dict)
        ]
        names, key = correlation_key(correlation)
        rows.append(
            EventWaitRow(
                instance_id=wait.instance_id,
                wait_id=wait.wait_id,
                event_type=spec["type"],
                source=spec.get("source") or "",
                correlation=correlation,
                correlation_names=names,
                correlation_key=key,
            )
        )
    return rows


def register_wait(wait: EventWait, *, strict: bool = True) -> None:
    """Remember what an instance waits for (replacing an earlier registration of this wait),
    and hand it the kept events that match and reached nobody.

    `strict`: the instance's row must exist (a platform instance: it raises, the activity
    retries); ad-hoc runs without a row register nothing.
    """
    rows = _wait_rows(wait)
    deliveries: list[int] = []
    with transaction.atomic():
        lock_for_waits(rows)
        EventWaitRow.objects.filter(instance_id=wait.instance_id, wait_id=wait.wait_id).delete()
        instance = WorkflowInstance.objects.filter(pk=wait.instance_id).first()
        if instance is None:
            if strict:
                from apps.workflows.services.mirror import InstanceNotVisible

                raise InstanceNotVisible(f"instance {wait.instance_id} has no row (yet)")
            return
        EventWaitRow.objects.bulk_create(rows, ignore_conflicts=True)
        kept = InboundEvent.objects.select_for_update().filter(
            event_type__in={r.event_type for r in rows}, kept_until__gt=timezone.now()
        )
        for record in kept.order_by("received_at", "id"):
            event = record.event or {}
            if not any(_wait_matches(row, event) for row in rows):
                continue
            delivery, new = EventDelivery.objects.get_or_create(inbound=record, instance=instance)
            if new:
                deliveries.append(delivery.pk)
            # It reached somebody now: no longer kept for others.
            record.kept_until = None
            record.status = InboundEvent.Status.ROUTED
            record.delivered_count += 1
            record.result = {
                **(record.result or {}),
                "delivered": [*(record.result or {}).get("delivered", []), str(instance.pk)],
            }
            record.save(update_fields=["kept_until", "status", "delivered_count", "result"])
        if deliveries:
            after_commit(lambda: send_deliveries(deliveries))


def clear_wait(instance_id: str, wait_id: str | None = None) -> None:
    rows = EventWaitRow.objects.filter(instance_id=instance_id)
    if wait_id:
        rows = rows.filter(wait_id=wait_id)
    rows.delete()


def default_topic() -> str:
    """The topic the bridge consumes (and the HTTP ingress writes to)."""
    return settings.KAFKA_EVENTS_TOPIC


def produced_topic() -> str:
    """Where the platform's own events go: never a topic the bridge consumes."""
    return settings.KAFKA_PRODUCED_TOPIC


def do_send_event(event: dict[str, Any], *, user) -> dict[str, Any]:
    """Write a checked CloudEvent to the consumed topic (binary mode), audited; the bridge
    routes it. Unavailable when the broker does not acknowledge it."""
    from apps.core.audit import record_platform_event
    from apps.workflows.eventcodec import EventRefused, max_event_bytes, to_kafka
    from apps.workflows.kafka import publish

    # Structured mode keeps any data exactly as sent, whatever its content type says.
    key, value, headers = to_kafka(event, structured=True)
    size = len(value) + sum(len(v) for _, v in headers)
    if size > max_event_bytes():
        raise EventRefused(
            f"The event is {size:,} bytes; events are at most {max_event_bytes():,} bytes."
        )
    topic = default_topic()
    sent = publish(topic, key=key, value=value, headers=headers)
    record_platform_event(
        "event_sent",
        actor=user,
        subject=f"{event['type']} {event['id']}"[:200],
        source=event["source"],
        topic=topic,
        partition=sent.partition,
        offset=sent.offset,
    )
    return {
        "id": event["id"],
        "source": event["source"],
        "type": event["type"],
        "topic": topic,
        "partition": sent.partition,
        "offset": sent.offset,
    }


def emit_event(emit: EmitEvent) -> str:
    """Write a produced CloudEvent to the outbox once per dedupe key; returns its id."""
    definition = emit.event or {}
    key = emit.dedupe_key or f"{emit.instance_id}:{uuid.uuid4()}"
    event_id = str(uuid.uuid5(XFLOW_NAMESPACE, key))
    # CloudEvents extension names are lowercase letters and digits (Kafka headers lose case).
    extensions = {
        name: value
        for key, value in (emit.context_attributes or {}).items()
        if (name := "".join(c for c in str(key).lower() if c.isascii() and c.isalnum()))
        and name not in SPEC_ATTRIBUTES
        and isinstance(value, str | int | bool)
    }
    attributes = {
        "specversion": "1.0",
        "id": event_id,
        "source": definition.get("source") or f"/xflow/instances/{emit.instance_id}",
        "type": definition.get("type") or definition.get("name") or "xflow.event",
        "time": timezone.now().isoformat(),
        "datacontenttype": definition.get("dataContentType") or "application/json",
        "xflowinstanceid": emit.instance_id,
        **extensions,
    }
    metadata = definition.get("metadata") or {}
    topic = metadata.get("topic") if isinstance(metadata, dict) else None
    row, _ = OutboxEvent.objects.get_or_create(
        dedupe_key=key[:300],
        defaults={
            "topic": topic or produced_topic(),
            "event_id": event_id,
            "event_type": attributes["type"],
            "source": attributes["source"],
            "attributes": attributes,
            "data": emit.data,
            "instance_id": emit.instance_id
            if WorkflowInstance.objects.filter(pk=emit.instance_id).exists()
            else None,
        },
    )
    return row.event_id
