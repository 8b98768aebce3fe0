"""Operators' triggers: events matching a filter start, signal, call a webhook or republish.

Triggers apply inside `deliver_event`'s transaction, so they fire once per event (source,
id) like the rest of routing: a start gets an id derived from the event and the trigger, a
signal is a delivery row, and a webhook call or a republish is an outbox row the relay sends
(retried with backoff, through the outbound policy for webhooks; authenticated with a
secret the relay reads when it sends, see apps.workflows.webhookauth).

A trigger's filter is equality on type, source and extension attributes, then an optional
jq `condition` over the event, run by the platform's evaluator under its limits. A condition
that fails or is stopped refuses that trigger only (recorded in the event's result); the
event is routed to everything else as usual.
"""

from __future__ import annotations

import json
import logging
import re
from typing import Any

from django.db import transaction

from apps.core import jqeval
from apps.core.audit import record_platform_event
from apps.core.errors import ServiceError
from apps.workflows.dsl.expressions import is_true, strip_wrapper
from apps.workflows.error_codes import WorkflowErrorCode
from apps.workflows.models import (
    EventDelivery,
    EventTrigger,
    InboundEvent,
    InstanceStatus,
    OutboxEvent,
    Secret,
    WebhookAuth,
    WorkflowInstance,
)

Action = EventTrigger.Action
log = logging.getLogger("xflow.triggers")

# A condition is a filter, not a program: long texts are refused when saved.
MAX_CONDITION_CHARS = 4000


class ConditionRefused(Exception):
    """The condition could not say yes or no: it failed, or a limit stopped it."""


def condition_problem(text: str) -> str | None:
    """Why a trigger condition cannot be used, as a predicate ("does not compile: ..."), or None."""
    body = strip_wrapper(text)
    if not body:
        return "is empty"
    if len(body) > MAX_CONDITION_CHARS:
        return f"is longer than {MAX_CONDITION_CHARS} characters"
    refused = jqeval.refused_uses(body)
    if refused:
        return f"uses {refused[0].name}, which is not available in expressions: {refused[0].reason}"
    try:
        problem = jqeval.compile_problem(body)
    except jqeval.JqLimitExceeded as exc:
        return f"could not be compiled: {exc}"
    except Exception as exc:  # noqa: BLE001 - a bad condition is refused, never a 500
        return f"does not compile: {exc or type(exc).__name__}"
    return _plain_jq_error(problem) if problem else None


_JQ_LOCATION = re.compile(r"\s*at <top-level>,? line (\d+), column (\d+):?$")


def _plain_jq_error(raw: str) -> str:
    first = raw.strip().splitlines()[0].removeprefix("jq: error: ").strip()
    first = first.replace(" (Unix shell quoting issues?)", "")
    location = _JQ_LOCATION.search(first)
    if location:
        first = first[: location.start()]
        line, column = location.groups()
        first += f" (at column {column})" if line == "1" else f" (at line {line}, column {column})"
    variable = re.match(r"^\$(\w+) is not defined", first)
    if variable:
        return (
            f"uses ${variable.group(1)}, which is not defined: a condition reads only the"
            " event (`.type`, `.source`, `.subject`, extension attributes, `.data`)"
        )
    return "does not compile: " + first


def condition_holds(trigger: EventTrigger, event_json: str) -> bool:
    """The trigger's condition on the event (JSON text): its first output is not false/null."""
    try:
        outputs = jqeval.run(strip_wrapper(trigger.condition), event_json)
    except jqeval.JqLimitExceeded as exc:
        raise ConditionRefused(f"the condition was stopped: {exc}") from None
    except jqeval.JqError as exc:
        # jq's message may quote the event (`error(.data)`): kept short in the event's record.
        raise ConditionRefused(f"the condition failed: {str(exc).strip()[:300]}") from None
    except jqeval.JqStopped:
        raise  # the process is stopping: routing is retried, not the trigger refused
    except Exception as exc:  # noqa: BLE001 - a trigger's condition never breaks routing
        log.exception("trigger %r: evaluating the condition", trigger.name)
        raise ConditionRefused(
            f"the condition could not be evaluated ({type(exc).__name__})"
        ) from None
    return bool(outputs) and is_true(outputs[0])


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


def enabled_triggers() -> list[EventTrigger]:
    """The enabled triggers, by name: what routing applies (a batch loads them once)."""
    return list(EventTrigger.objects.filter(enabled=True).order_by("name"))


def apply_triggers(
    record: InboundEvent,
    event: dict[str, Any],
    result,
    deliveries: list[int],
    *,
    user=None,
    triggers: list[EventTrigger] | None = None,
) -> list[dict[str, Any]]:
    """Fire the enabled triggers matching the event; what each did, for the event's record.

    `triggers`: the enabled triggers (`enabled_triggers()`) when the caller routes a batch
    and loaded them once; by default they are loaded here. No trigger, no further query.
    """
    if triggers is None:
        triggers = enabled_triggers()
    fired: list[dict[str, Any]] = []
    event_json: str | None = None
    for trigger in triggers:
        if not trigger_matches(trigger, event):
            continue
        if trigger.condition:
            if event_json is None:
                event_json = json.dumps(event, separators=(",", ":"))
            try:
                if not condition_holds(trigger, event_json):
                    continue
            except ConditionRefused as exc:
                log.warning("trigger %r refused for event %s: %s", trigger.name, event["id"], exc)
                fired.append(
                    {"trigger": trigger.name, "action": trigger.action, "refused": str(exc)}
                )
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
    # The secret's name only: the relay reads its value when it sends.
    auth = trigger.auth if url and trigger.auth != WebhookAuth.NONE else ""
    row, _ = OutboxEvent.objects.get_or_create(
        dedupe_key=f"trigger:{trigger.pk}:{record.pk}"[:300],
        defaults={
            "topic": topic,
            "webhook_url": url,
            "webhook_auth": auth,
            "webhook_secret": trigger.secret_name if auth else "",
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
    """Refuse a trigger that cannot fire: target missing or refused, condition or auth unusable."""
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
    if trigger.condition and trigger.condition.strip():
        problem = condition_problem(trigger.condition)
        if problem:
            shown = trigger.condition.strip()
            shown = shown if len(shown) <= 80 else shown[:77] + "..."
            problems["condition"] = [f"the jq condition {shown!r} {problem}"]
    problems.update(_auth_problems(trigger))
    if problems:
        first = next(iter(problems.items()))
        raise ServiceError(
            f"The trigger is not valid: {first[0]}: {first[1][0]}.",
            code=WorkflowErrorCode.EVENT_INVALID,
            fields=problems,
        )


def _auth_problems(trigger: EventTrigger) -> dict[str, list[str]]:
    auth = trigger.auth or WebhookAuth.NONE
    if auth not in WebhookAuth.values:
        return {"auth": [f"one of {', '.join(WebhookAuth.values)}"]}
    if trigger.action != Action.WEBHOOK:
        if auth != WebhookAuth.NONE or trigger.secret_name:
            return {"auth": ["auth and a secret apply to webhook triggers only"]}
        return {}
    if auth == WebhookAuth.NONE:
        if trigger.secret_name:
            return {"secret_name": ["choose bearer or hmac auth to use a secret, or clear it"]}
        return {}
    if not trigger.secret_name:
        return {"secret_name": [f"{auth} auth names the secret holding the key"]}
    if not Secret.objects.filter(name=trigger.secret_name).exists():
        return {
            "secret_name": [
                f"there is no secret named {trigger.secret_name!r} in the secrets store"
                " (add it first: admin, Secrets)"
            ]
        }
    return {}


def do_save_trigger(trigger: EventTrigger, *, user) -> EventTrigger:
    """Create or change a trigger (checked first), with an audit row."""
    trigger.condition = (trigger.condition or "").strip()
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
            condition=trigger.condition,
            auth=trigger.auth,
            secret_name=trigger.secret_name,  # the name only; values stay in the store
        )
    return trigger


def do_delete_trigger(trigger: EventTrigger, *, user) -> None:
    with transaction.atomic():
        name = trigger.name
        trigger.delete()
        record_platform_event("event_trigger_deleted", actor=user, subject=name)
