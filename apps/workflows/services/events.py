"""CloudEvents in and out of workflows.

`deliver_event` is the one way an event reaches the engine: the Kafka bridge, the HTTP
ingress and tests all call it. Events workflows produce go into the outbox table in the
same transaction as the activity's bookkeeping, and the bridge publishes them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from apps.core import temporal
from apps.core.errors import ServiceError, Unavailable
from apps.workflows.engine.contracts import SIGNAL_EVENT, EmitEvent, EventWait
from apps.workflows.error_codes import WorkflowErrorCode
from apps.workflows.models import (
    EventWait as EventWaitRow,
)
from apps.workflows.models import (
    InboundEvent,
    OutboxEvent,
    WorkflowDefinition,
    WorkflowInstance,
)

REQUIRED_ATTRIBUTES = ("id", "source", "type")
SPEC_ATTRIBUTES = {
    "id",
    "source",
    "specversion",
    "type",
    "datacontenttype",
    "dataschema",
    "subject",
    "time",
    "data",
    "data_base64",
}
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
    """Check the CloudEvents 1.0 required attributes; answer in words what is missing."""
    if not isinstance(event, dict):
        raise ServiceError(
            "A CloudEvent must be a JSON object with id, source, type and specversion.",
            code=WorkflowErrorCode.EVENT_INVALID,
        )
    missing = [a for a in REQUIRED_ATTRIBUTES if not isinstance(event.get(a), str) or not event[a]]
    if missing:
        raise ServiceError(
            f"The CloudEvent lacks {', '.join(missing)} (each a non-empty string).",
            code=WorkflowErrorCode.EVENT_INVALID,
            fields={a: ["required"] for a in missing},
        )
    version = event.get("specversion", "1.0")
    if version != "1.0":
        raise ServiceError(
            f"specversion {version!r} is not supported; send CloudEvents 1.0.",
            code=WorkflowErrorCode.EVENT_INVALID,
            fields={"specversion": ["must be 1.0"]},
        )
    return {**event, "specversion": "1.0"}


def _correlation_matches(wait: EventWaitRow, event: dict[str, Any]) -> bool:
    for rule in wait.correlation or []:
        name = rule.get("name")
        if name not in event:
            return False
        expected = rule.get("value")
        if expected is not None and str(event[name]) != str(expected):
            return False
    return True


def _signal(instance: WorkflowInstance, event: dict[str, Any]) -> None:
    async def send(client):
        await client.get_workflow_handle(instance.workflow_id).signal(SIGNAL_EVENT, event)

    temporal.call(send, timeout=15)


def deliver_event(event: Any, *, user=None) -> DeliveryResult:
    """Route one CloudEvent: start instances that begin with it, wake instances waiting for it.

    Idempotent per (source, id): a redelivered event returns the first result. If the
    engine cannot be reached nothing is recorded, so the sender can simply retry.
    """
    event = normalize_cloud_event(event)
    from apps.workflows.services.instances import do_start_instance

    with transaction.atomic():
        try:
            with transaction.atomic():
                record = InboundEvent.objects.create(
                    source=event["source"], event_id=event["id"], event_type=event["type"]
                )
        except IntegrityError:
            previous = InboundEvent.objects.get(source=event["source"], event_id=event["id"])
            result = DeliveryResult(event_id=event["id"], duplicate=True)
            result.started = previous.result.get("started", [])
            result.delivered = previous.result.get("delivered", [])
            return result
        result = DeliveryResult(event_id=event["id"])
        try:
            waits = (
                EventWaitRow.objects.filter(event_type=event["type"])
                .select_related("instance")
                .order_by("created_at")
            )
            seen: set[str] = set()
            for wait in waits:
                if wait.source and wait.source != event["source"]:
                    continue
                if not _correlation_matches(wait, event) or str(wait.instance_id) in seen:
                    continue
                if not wait.instance.is_open:
                    continue
                _signal(wait.instance, event)
                seen.add(str(wait.instance_id))
                result.delivered.append(str(wait.instance_id))
            for definition in WorkflowDefinition.objects.starting_on_event(event["type"]):
                instance = do_start_instance(
                    definition=definition,
                    input={},
                    user=user,
                    start_event=event,
                    business_key=str(event.get("subject") or "")[:200],
                )
                result.started.append(str(instance.id))
        except ServiceError:
            raise
        except Exception as exc:
            raise Unavailable(
                f"The event could not be handed to the engine ({exc}); nothing was recorded, "
                "send it again.",
                code=WorkflowErrorCode.ENGINE_UNAVAILABLE,
            ) from exc
        record.result = result.as_dict()
        record.save(update_fields=["result"])
    return result


# --- used by the engine's activities ------------------------------------------------------


@transaction.atomic
def register_wait(wait: EventWait) -> None:
    """Remember what an instance waits for (replacing an earlier registration of this wait)."""
    EventWaitRow.objects.filter(instance_id=wait.instance_id, wait_id=wait.wait_id).delete()
    if not WorkflowInstance.objects.filter(pk=wait.instance_id).exists():
        return
    rows = []
    for spec in wait.events:
        if not spec.get("type"):
            continue
        rows.append(
            EventWaitRow(
                instance_id=wait.instance_id,
                wait_id=wait.wait_id,
                event_type=spec["type"],
                source=spec.get("source") or "",
                correlation=[
                    {
                        "name": rule.get("contextAttributeName") or rule.get("name"),
                        "value": rule.get("contextAttributeValue", rule.get("value")),
                    }
                    for rule in spec.get("correlation") or []
                    if isinstance(rule, dict)
                ],
            )
        )
    EventWaitRow.objects.bulk_create(rows, ignore_conflicts=True)


def clear_wait(instance_id: str, wait_id: str | None = None) -> None:
    rows = EventWaitRow.objects.filter(instance_id=instance_id)
    if wait_id:
        rows = rows.filter(wait_id=wait_id)
    rows.delete()


def default_topic() -> str:
    return f"{settings.KAFKA_TOPIC_PREFIX}events"


def emit_event(emit: EmitEvent) -> str:
    """Write a produced CloudEvent to the outbox once per dedupe key; returns its id."""
    definition = emit.event or {}
    key = emit.dedupe_key or f"{emit.instance_id}:{uuid.uuid4()}"
    event_id = str(uuid.uuid5(XFLOW_NAMESPACE, key))
    extensions = {
        k: v for k, v in (emit.context_attributes or {}).items() if k not in SPEC_ATTRIBUTES
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
            "topic": topic or default_topic(),
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
