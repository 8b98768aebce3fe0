"""The outbox relay: publish the events the platform wrote to its outbox table.

Rows are claimed in a short transaction (`FOR UPDATE SKIP LOCKED`, then a lease:
`claimed_until`, `claimed_by`), so several bridges share the work and no row lock is held
while sending. A batch is sent at once and the broker's acknowledgements are awaited
together. A row that fails is tried again later (backoff doubling from 1 s, at most 5
minutes) and marked failed after XFLOW_OUTBOX_MAX_ATTEMPTS, visible in the admin; the rows
after it go out meanwhile. A bridge that dies mid-batch leaves its claim to expire, and the
rows are sent by whoever claims them next (at least once: consumers deduplicate by id).
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from apps.workflows.eventcodec import to_http, to_kafka
from apps.workflows.models import OutboxEvent, OutboxStatus

log = logging.getLogger("xflow.outbox")

MAX_BACKOFF_SECONDS = 300


def backoff(attempts: int) -> timedelta:
    """How long a row waits after its `attempts`-th failure."""
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), MAX_BACKOFF_SECONDS))


def event_of(row: OutboxEvent) -> dict[str, Any]:
    event = dict(row.attributes or {})
    if row.data is not None:
        event["data"] = row.data
    return event


def claim(worker: str, *, limit: int | None = None) -> list[OutboxEvent]:
    """Lease the next due pending rows to `worker` (oldest first)."""
    now = timezone.now()
    limit = limit or settings.XFLOW_OUTBOX_BATCH
    with transaction.atomic():
        ids = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(status=OutboxStatus.PENDING, published_at__isnull=True)
            .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("id")
            .values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return []
        lease = now + timedelta(seconds=settings.XFLOW_OUTBOX_LEASE_SECONDS)
        OutboxEvent.objects.filter(pk__in=ids).update(claimed_until=lease, claimed_by=worker)
    return list(OutboxEvent.objects.filter(pk__in=ids).order_by("id"))


def relay_outbox(
    producer, *, worker: str | None = None, limit: int | None = None, on_producer_error=None
) -> int:
    """Claim and send one batch; the number of rows published. `on_producer_error` is called
    when the broker (not a row) failed the batch, so the caller can make a new producer."""
    worker = worker or f"relay-{uuid.uuid4().hex[:8]}"
    rows = claim(worker, limit=limit)
    if not rows:
        return 0
    failures: dict[int, str] = {}
    pending: list[tuple[OutboxEvent, Any]] = []
    hooks = [row for row in rows if row.webhook_url]
    for row in rows:
        if row.webhook_url:
            continue
        try:
            key, value, headers = to_kafka(event_of(row))
            pending.append((row, producer.send(row.topic, key=key, value=value, headers=headers)))
        except Exception as exc:  # noqa: BLE001 - an unencodable row fails alone
            failures[row.pk] = f"{type(exc).__name__}: {exc}"
    if pending:
        try:
            # A broker that is down must not hold the relay (nor the batch's lease) for long:
            # what is not acknowledged by then is tried again after its backoff.
            producer.flush(timeout=settings.XFLOW_OUTBOX_SEND_TIMEOUT_SECONDS)
        except Exception as exc:  # noqa: BLE001 - each future below says what happened
            log.warning("outbox flush: %s", exc)
    sent: list[int] = []
    broker_failed = False
    for row, future in pending:
        if not future.is_done:
            failures[row.pk] = "the broker did not acknowledge it in time"
            broker_failed = True
            continue
        try:
            future.get(timeout=0)
            sent.append(row.pk)
        except Exception as exc:  # noqa: BLE001 - the broker refused or never answered
            failures[row.pk] = f"{type(exc).__name__}: {exc}"
            broker_failed = True
    if broker_failed and on_producer_error is not None:
        on_producer_error()
    for row, error in zip(hooks, _call_webhooks(hooks), strict=True):
        if error:
            failures[row.pk] = error
        else:
            sent.append(row.pk)
    if sent:
        OutboxEvent.objects.filter(pk__in=sent).update(
            status=OutboxStatus.SENT,
            published_at=timezone.now(),
            attempts=F("attempts") + 1,
            claimed_until=None,
            last_error="",
        )
    for row in rows:
        if row.pk in failures:
            _failed(row, failures[row.pk], worker)
    return len(sent)


def _failed(row: OutboxEvent, error: str, worker: str) -> None:
    attempts = row.attempts + 1
    gave_up = attempts >= settings.XFLOW_OUTBOX_MAX_ATTEMPTS
    OutboxEvent.objects.filter(pk=row.pk, claimed_by=worker).update(
        attempts=attempts,
        last_error=error[:1000],
        next_attempt_at=timezone.now() + backoff(attempts),
        claimed_until=None,
        status=OutboxStatus.FAILED if gave_up else OutboxStatus.PENDING,
    )
    log.warning(
        "outbox %s (%s) not published, attempt %d%s: %s",
        row.event_id,
        row.event_type,
        attempts,
        " - gave up" if gave_up else "",
        error,
    )


def _call_webhooks(rows: list[OutboxEvent]) -> list[str | None]:
    """POST each row's event to its webhook (binary mode); None or the error, per row.

    A row with auth gets its secret's current value (read now, so a rotation applies); a
    secret that is missing fails the attempt with the reason, and the row is retried.
    """
    if not rows:
        return []
    from apps.workflows.webhookauth import WebhookKeyError, auth_headers, webhook_keys

    keys = webhook_keys(rows)

    async def call_all() -> list[str | None]:
        from apps.core.http.client import HttpRequest, send
        from apps.core.http.transport import new_client

        timeout = settings.XFLOW_OUTBOUND_TIMEOUT_SECONDS
        async with new_client(timeout) as client:

            async def call(row: OutboxEvent) -> str | None:
                try:
                    headers, body = to_http(event_of(row))
                    if row.pk in keys:
                        key = keys[row.pk]
                        if isinstance(key, WebhookKeyError):
                            return str(key)
                        headers.update(auth_headers(row.webhook_auth, key, body))
                    request = HttpRequest("POST", row.webhook_url, headers=headers, content=body)
                    response = await send(client, request, parse=False)
                except WebhookKeyError as exc:
                    return str(exc)
                except Exception as exc:  # noqa: BLE001 - refused by the policy, or unreachable
                    return f"{type(exc).__name__}: {getattr(exc, 'message', exc)}"
                if not response.ok:
                    return f"the webhook answered {response.status}"
                return None

            return list(await asyncio.gather(*(call(row) for row in rows)))

    return asyncio.run(call_all())
