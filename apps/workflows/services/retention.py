"""Retention of the event tables: what the event plumbing no longer needs is deleted.

A periodic job (Celery beat, `xflow.workflows.purge_event_records`, hourly by default;
`manage.py purge_events [--dry-run]` by hand). Per table, older than its setting (days; 0 or
less keeps that table's rows for ever):
- inbound events (XFLOW_INBOUND_RETENTION_DAYS, by `received_at`) once routed, or unrouted
  and no longer kept for a later wait; with their signalled/closed deliveries. Never an event
  with a delivery still pending: the senders and the reconciler read it from there;
- outbox rows (XFLOW_OUTBOX_RETENTION_DAYS, by `published_at`) once sent; pending rows are
  work, failed ones an operator's problem;
- dead letters (XFLOW_DEADLETTER_RETENTION_DAYS, by `replayed_at`, when an operator handled
  them) once replayed or discarded; new ones and failed replays wait for an operator.

Rows go in batches, each batch its own short transaction (the rows locked with
`FOR UPDATE SKIP LOCKED`, then deleted by id), so a large backlog never holds locks long or
builds one huge transaction, and rows another process holds are left for the next run.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from apps.core.audit import record_platform_event
from apps.workflows.models import DeadLetter, EventDelivery, InboundEvent, OutboxEvent, OutboxStatus

INBOUND = "inbound_events"
DELIVERIES = "event_deliveries"
OUTBOX = "outbox_events"
DEAD_LETTERS = "dead_letters"
TABLES = (INBOUND, DELIVERIES, OUTBOX, DEAD_LETTERS)
HANDLED_DEAD_LETTERS = (DeadLetter.Status.REPLAYED, DeadLetter.Status.DISCARDED)


def retention_days() -> dict[str, float]:
    """Each purged table's retention in days (0 or less: kept for ever)."""
    return {
        INBOUND: settings.XFLOW_INBOUND_RETENTION_DAYS,
        OUTBOX: settings.XFLOW_OUTBOX_RETENTION_DAYS,
        DEAD_LETTERS: settings.XFLOW_DEADLETTER_RETENTION_DAYS,
    }


def kept_for(table: str) -> str:
    """How long a table's finished rows are kept, in words (the admin's list pages)."""
    days = retention_days()[table]
    if days <= 0:
        return "kept for ever (retention off)"
    return f"kept {days:g} day{'s' if days != 1 else ''}"


def _pending_delivery():
    return EventDelivery.objects.filter(inbound=OuterRef("pk"), status=EventDelivery.Status.PENDING)


def _inbound_sweeps(now: datetime) -> list[QuerySet]:
    """The purgeable inbound events, as two queries that each walk the (status, received_at)
    index in order: routed ones, and unrouted ones whose keeping time has passed."""
    days = settings.XFLOW_INBOUND_RETENTION_DAYS
    if days <= 0:
        return []
    old = InboundEvent.objects.filter(received_at__lt=now - timedelta(days=days)).filter(
        ~Exists(_pending_delivery())
    )
    return [
        old.filter(status=InboundEvent.Status.ROUTED).order_by("received_at"),
        old.filter(status=InboundEvent.Status.UNROUTED)
        .filter(Q(kept_until__isnull=True) | Q(kept_until__lte=now))
        .order_by("received_at"),
    ]


def _outbox_sweep(now: datetime) -> QuerySet | None:
    days = settings.XFLOW_OUTBOX_RETENTION_DAYS
    if days <= 0:
        return None
    return OutboxEvent.objects.filter(
        status=OutboxStatus.SENT, published_at__lt=now - timedelta(days=days)
    ).order_by("published_at")


def _dead_letter_sweep(now: datetime) -> QuerySet | None:
    days = settings.XFLOW_DEADLETTER_RETENTION_DAYS
    if days <= 0:
        return None
    return DeadLetter.objects.filter(
        status__in=HANDLED_DEAD_LETTERS, replayed_at__lt=now - timedelta(days=days)
    ).order_by("replayed_at")


def _delete_by_id(table: str, column: str, ids: list[int]) -> int:
    with connection.cursor() as cur:
        cur.execute(f"DELETE FROM {table} WHERE {column} = ANY(%s)", [ids])
        return cur.rowcount


def _delete_inbound(ids: list[int], counts: dict[str, int]) -> None:
    # The rows are locked (FOR UPDATE): no delivery can be added to them now. One committed
    # after the sweep's query started is seen by this fresh query, and keeps its event.
    ids = list(
        InboundEvent.objects.filter(pk__in=ids)
        .filter(~Exists(_pending_delivery()))
        .values_list("pk", flat=True)
    )
    if not ids:
        return
    counts[DELIVERIES] += _delete_by_id(EventDelivery._meta.db_table, "inbound_id", ids)
    counts[INBOUND] += _delete_by_id(InboundEvent._meta.db_table, "id", ids)


def _sweep(rows: QuerySet, batch: int, delete: Callable[[list[int]], None]) -> None:
    while True:
        with transaction.atomic():
            ids = list(
                rows.select_for_update(skip_locked=True).values_list("pk", flat=True)[:batch]
            )
            if not ids:
                return
            delete(ids)


def purge_event_records(now: datetime | None = None, *, batch: int = 5000) -> dict[str, int]:
    """Delete what the retention settings let go; the number of rows deleted per table.

    One audit row (`event_records_purged`) per run that deleted something.
    """
    if batch < 1:
        raise ValueError("batch must be at least 1")
    now = now or timezone.now()
    counts = dict.fromkeys(TABLES, 0)
    for rows in _inbound_sweeps(now):
        _sweep(rows, batch, lambda ids: _delete_inbound(ids, counts))

    def plain(model, key):
        def delete(ids: list[int]) -> None:
            counts[key] += _delete_by_id(model._meta.db_table, "id", ids)

        return delete

    outbox = _outbox_sweep(now)
    if outbox is not None:
        _sweep(outbox, batch, plain(OutboxEvent, OUTBOX))
    letters = _dead_letter_sweep(now)
    if letters is not None:
        _sweep(letters, batch, plain(DeadLetter, DEAD_LETTERS))
    if any(counts.values()):
        record_platform_event(
            "event_records_purged",
            subject="event tables",
            **counts,
            retention_days=retention_days(),
        )
    return counts


def purgeable_event_records(now: datetime | None = None) -> dict[str, int]:
    """What `purge_event_records` would delete now, per table (deletes nothing)."""
    now = now or timezone.now()
    counts = dict.fromkeys(TABLES, 0)
    for rows in _inbound_sweeps(now):
        counts[INBOUND] += rows.count()
        counts[DELIVERIES] += EventDelivery.objects.filter(inbound__in=rows.values("pk")).count()
    outbox = _outbox_sweep(now)
    if outbox is not None:
        counts[OUTBOX] = outbox.count()
    letters = _dead_letter_sweep(now)
    if letters is not None:
        counts[DEAD_LETTERS] = letters.count()
    return counts
