"""Routing CloudEvents to workflows, many events in one transaction.

`deliver_event` (one event) and the Kafka bridge (a partition's batch of messages) both route
here, so there is one set of rules. A batch costs a handful of statements whatever its size:
advisory locks for all its events, one INSERT ... ON CONFLICT for their rows (which tells new
events from redeliveries), one query for the waits they may reach, one per event type for the
definitions they start, one INSERT each for the new instances, their timeline entries and the
deliveries, one UPDATE for the events' outcomes. The workflows are started and signalled after
the commit, side by side (`send_routed`); what never got sent is in the database, and the
reconciler sends it.

The rules per event are those of the platform (PRODUCT.md §6, §8): once per (source, id); an
event reaches every open wait whose type, source and correlation match, in the order the
waits were opened; it starts one instance of each latest published definition whose start
state consumes its type (the instance id derived from the event, so a redelivery meets it);
operators' triggers apply; an event nobody took is kept `unrouted` for later waits; and an
event refused by every definition it would start, and taken by nothing else, is not recorded
at all: its sender hears why.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core.aftercommit import after_commit
from apps.core.errors import ServiceError
from apps.workflows.engine.contracts import InterpreterInput
from apps.workflows.models import (
    EventDelivery,
    InboundEvent,
    InstanceEvent,
    InstanceStatus,
    WorkflowDefinition,
    WorkflowInstance,
)
from apps.workflows.models import EventWait as EventWaitRow
from apps.workflows.services.eventlocks import event_lock_keys, lock_for_events
from apps.workflows.services.triggers import apply_triggers, enabled_triggers, trigger_matches

OPEN = InstanceStatus.open_values()
# One transaction routes at most XFLOW_BRIDGE_BATCH_EVENTS events, holding at most about this
# many advisory locks (Postgres keeps them in one shared table, max_locks_per_transaction x
# max_connections entries; when it is full every session's next lock fails).
MAX_BATCH_LOCKS = 500  # x XFLOW_BRIDGE_THREADS: well inside the default 6,400


def route_events(events: Sequence[tuple[Any, str]], *, user=None) -> list[Any]:
    """Route (event, origin) pairs; per pair its DeliveryResult, or the ServiceError that
    refused it (not a CloudEvent, or every start it asked for refused). Other errors (the
    database away) raise, and then nothing of the failing transaction is kept."""
    from apps.workflows.services.events import normalize_cloud_event

    outcomes: list[Any] = [None] * len(events)
    checked: list[tuple[int, dict[str, Any], str]] = []
    for index, (raw, origin) in enumerate(events):
        try:
            checked.append((index, normalize_cloud_event(raw), origin))
        except ServiceError as exc:
            outcomes[index] = exc
    for chunk in _chunks(checked):
        _route_chunk(chunk, outcomes, user=user)
    return outcomes


def _chunks(checked: list[tuple[int, dict[str, Any], str]]):
    size = max(1, settings.XFLOW_BRIDGE_BATCH_EVENTS)
    chunk: list[tuple[int, dict[str, Any], str]] = []
    locks = 0
    for item in checked:
        cost = len(event_lock_keys(item[1]))
        if chunk and (len(chunk) >= size or locks + cost > MAX_BATCH_LOCKS):
            yield chunk
            chunk, locks = [], 0
        chunk.append(item)
        locks += cost
    if chunk:
        yield chunk


@dataclasses.dataclass
class _Inbound:
    pk: int
    created: bool
    status: str = InboundEvent.Status.ROUTED
    result: dict[str, Any] = dataclasses.field(default_factory=dict)


def _route_chunk(chunk, outcomes: list[Any], *, user) -> None:
    from apps.workflows.services.events import DeliveryResult

    firsts: dict[tuple[str, str], int] = {}
    unique: list[tuple[int, dict[str, Any], str]] = []
    twins: list[tuple[int, int]] = []
    for index, event, origin in chunk:
        key = (event["source"], event["id"])
        if key in firsts:
            twins.append((index, firsts[key]))  # the same event twice in one batch
        else:
            firsts[key] = index
            unique.append((index, event, origin))
    with transaction.atomic():
        lock_for_events([event for _, event, _ in unique])
        records = _record_inbound(unique)
        todo = []
        for (index, event, _), record in zip(unique, records, strict=True):
            if not record.created and record.status == InboundEvent.Status.ROUTED:
                outcomes[index] = _duplicate(event["id"], record.result)
            else:
                todo.append((index, event, record))
        if todo:
            _route_new(todo, outcomes, user=user)
    for index, first in twins:
        outcome = outcomes[first]
        outcomes[index] = (
            outcome
            if not isinstance(outcome, DeliveryResult)
            else _duplicate(outcome.event_id, outcome.as_dict())
        )


def _duplicate(event_id: str, previous: dict[str, Any]):
    from apps.workflows.services.events import DeliveryResult

    return DeliveryResult(
        event_id=event_id,
        duplicate=True,
        started=list((previous or {}).get("started", [])),
        delivered=list((previous or {}).get("delivered", [])),
    )


_INBOUND_COLUMNS = [
    "source",
    "event_id",
    "event_type",
    "status",
    "origin",
    "received_at",
    "event",
    "result",
    "delivered_count",
]


def _record_inbound(unique: list[tuple[int, dict[str, Any], str]]) -> list[_Inbound]:
    """Each event's row, and whether this batch wrote it: one INSERT ... ON CONFLICT for all
    (a redelivered event keeps its row), then one SELECT for the rows that were there."""
    meta = InboundEvent._meta
    now = timezone.now()
    params: list[Any] = []
    # In (source, id) order: two batches holding the same events in another order would
    # otherwise each wait for a row the other inserted first (a deadlock).
    for _, event, origin in sorted(unique, key=lambda item: (item[1]["source"], item[1]["id"])):
        row = InboundEvent(
            source=event["source"],
            event_id=event["id"],
            event_type=event["type"],
            status=InboundEvent.Status.ROUTED,
            origin=origin[:400],
            received_at=now,
            event=event,
            result={},
            delivered_count=0,
        )
        params.extend(
            meta.get_field(name).get_db_prep_save(getattr(row, name), connection)
            for name in _INBOUND_COLUMNS
        )
    placeholders = "(" + ", ".join(["%s"] * len(_INBOUND_COLUMNS)) + ")"
    with connection.cursor() as cur:
        cur.execute(
            f"INSERT INTO {meta.db_table} ({', '.join(_INBOUND_COLUMNS)}) "
            f"VALUES {', '.join([placeholders] * len(unique))} "
            "ON CONFLICT (source, event_id) DO NOTHING RETURNING id, source, event_id",
            params,
        )
        written = {(source, event_id): pk for pk, source, event_id in cur.fetchall()}
    missing = [
        (event["source"], event["id"])
        for _, event, _ in unique
        if (event["source"], event["id"]) not in written
    ]
    found: dict[tuple[str, str], _Inbound] = {}
    if missing:
        which = Q()
        for source, event_id in missing:
            which |= Q(source=source, event_id=event_id)
        rows = InboundEvent.objects.filter(which).values_list(
            "pk", "source", "event_id", "status", "result"
        )
        for pk, source, event_id, status, result in rows:
            found[(source, event_id)] = _Inbound(pk, False, status, result or {})
    records = []
    for _, event, _ in unique:
        key = (event["source"], event["id"])
        records.append(_Inbound(written[key], True) if key in written else found[key])
    return records


class _Waits:
    """The open waits the batch's events may reach, one query for all of them."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        types = {event["type"] for event in events}
        waits = EventWaitRow.objects.filter(event_type__in=types, instance__status__in=OPEN)
        names: dict[str, list[list[str]]] = {}
        bound = (
            waits.exclude(correlation_key="")
            .values_list("event_type", "correlation_names")
            .order_by()
            .distinct()
        )
        for event_type, joined in bound:
            names.setdefault(event_type, []).append(joined.split(","))
        self.keys: list[list[str]] = []
        wanted: set[str] = set()
        for event in events:
            keys = [
                "&".join(f"{part}={event[part]}" for part in parts)
                for parts in names.get(event["type"], [])
                if all(part in event for part in parts)
            ]
            self.keys.append(keys)
            wanted.update(keys)
        rows = (
            waits.filter(Q(correlation_key="") | Q(correlation_key__in=wanted))
            .only("id", "instance_id", "event_type", "source", "correlation", "correlation_key")
            .order_by("created_at", "id")
        )
        self.by_key: dict[tuple[str, str], list[tuple[int, EventWaitRow]]] = {}
        for order, wait in enumerate(rows):
            self.by_key.setdefault((wait.event_type, wait.correlation_key), []).append(
                (order, wait)
            )

    def matching(self, position: int, event: dict[str, Any]) -> list[EventWaitRow]:
        from apps.workflows.services.events import _wait_matches

        found = list(self.by_key.get((event["type"], ""), []))
        for key in self.keys[position]:
            found.extend(self.by_key.get((event["type"], key), []))
        found.sort(key=lambda pair: pair[0])  # the order the waits were opened
        return [wait for _, wait in found if _wait_matches(wait, event)]


class _Starts:
    """The instances the batch's events start: definitions looked up once per type, their
    start parameters prepared once per definition, the rows written in one INSERT."""

    def __init__(self, events: list[dict[str, Any]], *, user) -> None:
        from apps.workflows.services.instances import instance_id_for

        self.user = user
        self.definitions: dict[str, list[WorkflowDefinition]] = {}
        for event_type in {event["type"] for event in events}:
            self.definitions[event_type] = list(
                WorkflowDefinition.objects.starting_on_event(event_type)
            )
        self.ids: dict[tuple[str, str, str], Any] = {}
        for event in events:
            for definition in self.definitions[event["type"]]:
                self.ids[(event["source"], event["id"], definition.key)] = instance_id_for(
                    "event", event["source"], event["id"], definition.key
                )
        self.existing = set(
            WorkflowInstance.objects.filter(pk__in=list(self.ids.values())).values_list(
                "pk", flat=True
            )
        )
        self.prepared: dict[int, InterpreterInput | ServiceError] = {}
        self.new: dict[Any, tuple[WorkflowDefinition, dict[str, Any]]] = {}  # not written yet
        self.params: dict[Any, InterpreterInput] = {}  # written: what each one starts with

    def _prepare(self, definition: WorkflowDefinition) -> InterpreterInput | ServiceError:
        """What do_start_instance checks before it writes a row (the input schema, envs,
        secrets, URI parts): the same for every event start of a definition."""
        from apps.workflows.services.instances import interpreter_input, validate_input

        if definition.pk not in self.prepared:
            try:
                validate_input(definition.document, {})
                self.prepared[definition.pk] = interpreter_input(
                    definition.document,
                    instance_id="",
                    definition_key=definition.key,
                    version=definition.version,
                    input={},
                )
            except ServiceError as exc:
                self.prepared[definition.pk] = exc
        return self.prepared[definition.pk]

    def start(self, event: dict[str, Any], started: list[str]) -> list[ServiceError]:
        """Add the instances the event starts to `started`; the refusals."""
        refusals: list[ServiceError] = []
        for definition in self.definitions[event["type"]]:
            instance_id = self.ids[(event["source"], event["id"], definition.key)]
            if (
                instance_id not in self.existing
                and instance_id not in self.new
                and instance_id not in self.params
            ):
                prepared = self._prepare(definition)
                if isinstance(prepared, ServiceError):
                    refusals.append(prepared)
                    continue
                self.new[instance_id] = (definition, event)
            if str(instance_id) not in started:
                started.append(str(instance_id))
        return refusals

    def write(self) -> None:
        """Write the rows (`starting`) not written yet, with their `started` timeline entries."""
        from apps.workflows.services.events import _business_key
        from apps.workflows.services.instances import workflow_id_for

        if not self.new:
            return
        now = timezone.now()
        rows, entries = [], []
        for instance_id, (definition, event) in self.new.items():
            business_key = _business_key(event)
            rows.append(
                WorkflowInstance(
                    id=instance_id,
                    definition=definition,
                    definition_key=definition.key,
                    version=definition.version,
                    business_key=business_key,
                    input={},
                    workflow_id=workflow_id_for(instance_id),
                    started_by=self.user,
                    status=InstanceStatus.STARTING,
                    start_spec={"kind": "start", "start_event": event},
                    start_requested_at=now,
                )
            )
            entries.append(
                InstanceEvent(
                    instance_id=instance_id,
                    event_type="started",
                    actor=self.user,
                    details={"business_key": business_key, "version": definition.version},
                )
            )
            self.params[instance_id] = dataclasses.replace(
                self.prepared[definition.pk], instance_id=str(instance_id)
            )
        WorkflowInstance.objects.bulk_create(rows)
        InstanceEvent.objects.bulk_create(entries)
        self.new = {}


def _route_new(todo, outcomes: list[Any], *, user) -> None:
    """Route the batch's events that are new (or were kept unrouted): decide for all, then
    write what was decided, a statement per kind of row."""
    from apps.workflows.services.events import DeliveryResult, retention

    events = [event for _, event, _ in todo]
    waits = _Waits(events)
    starts = _Starts(events, user=user)
    triggers = enabled_triggers()  # once for the batch
    planned: list[EventDelivery] = []

    def flush() -> None:
        """Write what was decided so far: the instances started and the deliveries, in the
        events' order (their ids are the order the signals go out in)."""
        starts.write()
        if planned:
            EventDelivery.objects.bulk_create(planned, ignore_conflicts=True)
            planned.clear()

    # Triggers write their deliveries as they fire; the query below finds them with the rest.
    trigger_deliveries: list[int] = []
    updates: list[InboundEvent] = []
    refused_rows: list[int] = []
    now = timezone.now()
    for position, (index, event, record) in enumerate(todo):
        result = DeliveryResult(event_id=event["id"])
        for wait in waits.matching(position, event):
            if str(wait.instance_id) not in result.delivered:
                result.delivered.append(str(wait.instance_id))
                planned.append(EventDelivery(inbound_id=record.pk, instance_id=wait.instance_id))
        refusals = starts.start(event, result.started)
        fired: list[dict[str, Any]] = []
        if triggers and any(trigger_matches(trigger, event) for trigger in triggers):
            # A trigger sees the batch so far as written, as if the events before this one
            # had been routed on their own (a signal finds the instances they started).
            flush()
            row = InboundEvent(
                pk=record.pk, source=event["source"], event_id=event["id"], event_type=event["type"]
            )
            row._state.adding = False
            fired = apply_triggers(
                row, event, result, trigger_deliveries, user=user, triggers=triggers
            )
        # A trigger that refused (its condition failed, its target refused) took nothing.
        took = [outcome for outcome in fired if "refused" not in outcome]
        if refusals and not (result.started or result.delivered or took):
            outcomes[index] = refusals[0]  # nobody took it: the sender hears why
            if record.created:
                refused_rows.append(record.pk)  # nothing of it is recorded
            continue
        routed = bool(result.delivered or result.started or took)
        updates.append(
            InboundEvent(
                pk=record.pk,
                delivered_count=len(result.delivered),
                status=InboundEvent.Status.ROUTED if routed else InboundEvent.Status.UNROUTED,
                kept_until=None if routed else now + retention(),
                result={
                    **result.as_dict(),
                    "triggers": fired,
                    "refused": [{"code": str(r.code), "message": r.message} for r in refusals],
                },
            )
        )
        outcomes[index] = result
    flush()
    if updates:
        InboundEvent.objects.bulk_update(
            updates, ["delivered_count", "status", "kept_until", "result"]
        )
    if refused_rows:
        InboundEvent.objects.filter(pk__in=refused_rows).delete()
    deliveries = list(
        EventDelivery.objects.filter(
            inbound_id__in=[record.pk for _, _, record in todo],
            status=EventDelivery.Status.PENDING,
        ).values_list("pk", flat=True)
    )
    params = starts.params
    if params or deliveries:
        after_commit(lambda: send_routed(params, deliveries))


def send_routed(params: dict[Any, InterpreterInput], deliveries: list[int]) -> None:
    """After the commit: start the new instances, then signal the deliveries."""
    from apps.workflows.services.events import send_deliveries
    from apps.workflows.services.starts import dispatch_starts

    if params:
        dispatch_starts(params)
    if deliveries:
        send_deliveries(deliveries)
