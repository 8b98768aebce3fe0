"""Dead letters and the outbox, as operators act on them (admin actions call these)."""

from __future__ import annotations

import base64
from typing import Any

from django.db import transaction
from django.utils import timezone

from apps.core.audit import record_platform_event
from apps.core.errors import ServiceError
from apps.workflows.eventcodec import from_kafka
from apps.workflows.models import DeadLetter, OutboxEvent, OutboxStatus

DLQ_HEADER_PREFIX = "xflow_dlq_"


def header_text(value: bytes | None) -> str:
    """A header value as text for the admin (base64 when it is not UTF-8)."""
    try:
        return (value or b"").decode("utf-8")
    except UnicodeDecodeError:
        return "base64:" + base64.b64encode(value or b"").decode()


def header_bytes(text: str) -> bytes:
    if text.startswith("base64:"):
        return base64.b64decode(text[7:])
    return text.encode()


def record_dead_letter(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes | None]],
    reason: str,
    keep_bytes: int,
) -> DeadLetter:
    """The dead letter's row, once per message (a bridge that died before committing the offset
    reads the message again: the row is not written twice)."""
    original = [(n, v) for n, v in headers or [] if not n.startswith(DLQ_HEADER_PREFIX)]
    row, _ = DeadLetter.objects.get_or_create(
        topic=topic,
        partition=partition,
        offset=offset,
        defaults={
            "key": key,
            "value": (value or b"")[:keep_bytes],
            "value_size": len(value or b""),
            "headers": [[n, header_text(v)] for n, v in original],
            "reason": reason[:4000],
            "event_id": _header(original, "ce_id")[:200],
            "event_type": _header(original, "ce_type")[:300],
        },
    )
    return row


def _header(headers: list[tuple[str, bytes | None]], name: str) -> str:
    for header, value in headers:
        if header.lower() == name:
            return header_text(value)
    return ""


def do_replay_dead_letter(letter: DeadLetter, *, user) -> dict[str, Any]:
    """Route a dead letter again (after its cause was fixed): parsed and delivered as if it
    had just been consumed; the outcome is kept on the row and audited."""
    from apps.workflows.services.events import deliver_event

    if letter.value_size > len(bytes(letter.value or b"")):
        raise ServiceError(
            f"{letter} was {letter.value_size:,} bytes, over the event size limit: only its "
            "beginning was kept, so it cannot be replayed."
        )
    headers = [(n, header_bytes(v)) for n, v in letter.headers or []]
    key = bytes(letter.key) if letter.key is not None else None
    try:
        event = from_kafka(key, bytes(letter.value or b""), headers)
        result = deliver_event(event, user=user, origin=f"replay of {letter}").as_dict()
        status, outcome = DeadLetter.Status.REPLAYED, {"ok": True, **result}
    except ServiceError as exc:
        status, outcome = DeadLetter.Status.REPLAY_FAILED, {"ok": False, "reason": exc.message}
    with transaction.atomic():
        DeadLetter.objects.filter(pk=letter.pk).update(
            status=status, replayed_at=timezone.now(), replay_result=outcome
        )
        record_platform_event(
            "dead_letter_replayed", actor=user, subject=str(letter), ok=outcome["ok"]
        )
    letter.refresh_from_db()
    return outcome


def do_discard_dead_letters(rows, *, user) -> int:
    """Mark dead letters an operator decided not to replay as discarded (audited); handled
    letters are deleted XFLOW_DEADLETTER_RETENTION_DAYS later. Replayed ones stay replayed."""
    with transaction.atomic():
        ids = list(
            rows.filter(status__in=[DeadLetter.Status.NEW, DeadLetter.Status.REPLAY_FAILED])
            .select_for_update()
            .values_list("pk", flat=True)
        )
        DeadLetter.objects.filter(pk__in=ids).update(
            status=DeadLetter.Status.DISCARDED, replayed_at=timezone.now()
        )
        if ids:
            record_platform_event(
                "dead_letters_discarded", actor=user, subject="dead letters", rows=ids[:100]
            )
    return len(ids)


def do_retry_outbox(rows, *, user) -> int:
    """Send failed (or waiting) outbox rows again now, with a fresh attempt count."""
    with transaction.atomic():
        ids = list(
            rows.filter(published_at__isnull=True)
            .exclude(status=OutboxStatus.SENT)
            .values_list("pk", flat=True)
        )
        OutboxEvent.objects.filter(pk__in=ids).update(
            status=OutboxStatus.PENDING, attempts=0, next_attempt_at=None, claimed_until=None
        )
        record_platform_event("outbox_retried", actor=user, subject="outbox", rows=ids[:100])
    return len(ids)
