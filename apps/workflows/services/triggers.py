"""Operators' triggers: events matching a filter start, signal, call a webhook or republish.

Triggers apply inside `deliver_event`'s transaction, so they fire once per event (source,
id) like the rest of routing: a start gets an id derived from the event and the trigger, a
signal is a delivery row, and a webhook call or a republish is an outbox row the relay sends
(retried with backoff, through the outbound policy for webhooks).
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from apps.core.audit import record_platform_event
from apps.core.errors import ServiceError
from apps.workflows.error_codes import WorkflowErrorCode
from apps.workflows.models import (
    EventDelivery,
    EventTrigger,
    InboundEvent,
    InstanceStatus,
    OutboxEvent,
    WorkflowInstance,
)

Action = EventTrigger.Action


def trigger_matches(trigger: EventTrigger, event: dict[str, Any]) -> bool:
    """Type and source equal when set; every listed extension attribute equal."""
    if trigger.event_type and trigger.event_type != event.get("type"):
        return False
    if trigger.source and trigger.source != event.get("source"):
        return False
    for name, expected in (trigger.extensions or {}).items():
        if name not in event or str(event[name]) != str(expected):
            return False
    return True


def apply_triggers(
    record: InboundEvent,
    event: dict[str, Any],
    result,
    deliveries: list[int],
    *,
    user=None,
) -> list[dict[str, Any]]:
    """Fire the enabled triggers matching the event; what each did, for the event's record."""
    fired: list[dict[str, Any]] = []
    for trigger in EventTrigger.objects.filter(enabled=True).order_by("name"):
        if not trigger_matches(trigger, event):
            continue
        try:
            with transaction.atomic():
                outcome = _FIRE[trigger.action](trigger, record, event, result, deliveries, user)
        except ServiceError as exc:
            outcome = {"refused": exc.message}
        fired.append({"trigger": trigger.name, "action": trigger.action, **outcome})
    return fired


def _start(trigger, record, event, result, deliveries, user) -> dict[str, Any]:
    from apps.workflows.services.instances import (
        do_start_instance,
        instance_id_for,
        resolve_definition,
    )

    definition = resolve_definition(trigger.definition_key)
    instance = do_start_instance(
        definition=definition,
        input=event.get("data") if isinstance(event.get("data"), dict) else {},
        user=user,
        business_key=str(event.get("subject") or "")[:200],
        instance_id=instance_id_for("trigger", trigger.pk, event["source"], event["id"]),
    )
    if str(instance.id) not in result.started:
        result.started.append(str(instance.id))
    return {"started": str(instance.id)}


def _signal(trigger, record, event, result, deliveries, user) -> dict[str, Any]:
    key = event.get(trigger.business_key_attribute or "subject")
    if not key:
        return {"refused": f"the event has no {trigger.business_key_attribute or 'subject'}"}
    reached = []
    instances = WorkflowInstance.objects.filter(
        business_key=str(key), status__in=InstanceStatus.open_values()
    )
    for instance in instances.order_by("created_at"):
        delivery, new = EventDelivery.objects.get_or_create(inbound=record, instance=instance)
        if new:
            deliveries.append(delivery.pk)
        if str(instance.pk) not in result.delivered:
            result.delivered.append(str(instance.pk))
        reached.append(str(instance.pk))
    return {"delivered": reached}


def _outbox(trigger, record, event, *, topic: str = "", url: str = "") -> OutboxEvent:
    attributes = {k: v for k, v in event.items() if k not in ("data", "data_base64")}
    row, _ = OutboxEvent.objects.get_or_create(
        dedupe_key=f"trigger:{trigger.pk}:{record.pk}"[:300],
        defaults={
            "topic": topic,
            "webhook_url": url,
            "event_id": event["id"],
            "event_type": event["type"],
            "source": event["source"],
            "attributes": attributes,
            "data": event.get("data"),
        },
    )
    return row


def _webhook(trigger, record, event, result, deliveries, user) -> dict[str, Any]:
    row = _outbox(trigger, record, event, url=trigger.url)
    return {"outbox": row.pk}


def _republish(trigger, record, event, result, deliveries, user) -> dict[str, Any]:
    row = _outbox(trigger, record, event, topic=trigger.topic)
    return {"outbox": row.pk}


_FIRE = {Action.START: _start, Action.SIGNAL: _signal, Action.WEBHOOK: _webhook}
_FIRE[Action.REPUBLISH] = _republish


# --- the operators' side: triggers changed through services, with an audit row -----------


def validate_trigger(trigger: EventTrigger) -> None:
    """Refuse a trigger that cannot fire: the action's target missing or refused."""
    from django.conf import settings

    problems: dict[str, list[str]] = {}
    if trigger.action == Action.START and not trigger.definition_key:
        problems["definition_key"] = ["a start trigger names a definition"]
    if trigger.action == Action.WEBHOOK and not trigger.url.startswith(("http://", "https://")):
        problems["url"] = ["a webhook is an http(s) URL"]
    if trigger.action == Action.REPUBLISH:
        consumed = {settings.KAFKA_EVENTS_TOPIC}
        if not trigger.topic:
            problems["topic"] = ["a republish trigger names a topic"]
        elif trigger.topic in consumed:
            problems["topic"] = ["the bridge consumes this topic: the event would loop"]
    if not isinstance(trigger.extensions, dict):
        problems["extensions"] = ['a JSON object: {"attribute": "value"}']
    if problems:
        first = next(iter(problems.items()))
        raise ServiceError(
            f"The trigger is not valid: {first[0]}: {first[1][0]}.",
            code=WorkflowErrorCode.EVENT_INVALID,
            fields=problems,
        )


def do_save_trigger(trigger: EventTrigger, *, user) -> EventTrigger:
    """Create or change a trigger (checked first), with an audit row."""
    validate_trigger(trigger)
    created = trigger.pk is None
    with transaction.atomic():
        trigger.save()
        record_platform_event(
            "event_trigger_created" if created else "event_trigger_changed",
            actor=user,
            subject=trigger.name,
            action=trigger.action,
            enabled=trigger.enabled,
        )
    return trigger


def do_delete_trigger(trigger: EventTrigger, *, user) -> None:
    with transaction.atomic():
        name = trigger.name
        trigger.delete()
        record_platform_event("event_trigger_deleted", actor=user, subject=name)
