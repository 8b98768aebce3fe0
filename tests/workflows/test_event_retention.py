"""Retention of the event tables: what the rules let go is deleted, nothing else."""

from __future__ import annotations

import uuid
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.utils import timezone

from apps.core.models import PlatformEvent
from apps.workflows.models import (
    DeadLetter,
    EventDelivery,
    InboundEvent,
    OutboxEvent,
    WorkflowInstance,
)
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.instances import workflow_id_for
from apps.workflows.services.retention import purge_event_records

from .test_instances_api import GREETING

pytestmark = pytest.mark.django_db

DAY = timedelta(days=1)


@pytest.fixture
def instance():
    definition = do_save_definition(source=GREETING, publish=True)[0]
    pk = uuid.uuid4()
    return WorkflowInstance.objects.create(
        id=pk,
        definition=definition,
        definition_key=definition.key,
        version=definition.version,
        workflow_id=workflow_id_for(pk),
        status="running",
    )


def inbound(age: timedelta, *, status="routed", kept_for: timedelta | None = None):
    row = InboundEvent.objects.create(
        source="/retention",
        event_id=str(uuid.uuid4()),
        event_type="com.example.kept",
        status=status,
        kept_until=timezone.now() + kept_for if kept_for is not None else None,
    )
    InboundEvent.objects.filter(pk=row.pk).update(received_at=timezone.now() - age)
    return row


def delivery(event, instance, status: str) -> EventDelivery:
    return EventDelivery.objects.create(inbound=event, instance=instance, status=status)


def outbox(age: timedelta, status: str) -> OutboxEvent:
    now = timezone.now()
    row = OutboxEvent.objects.create(
        dedupe_key=str(uuid.uuid4()),
        topic="nowhere",
        event_id=str(uuid.uuid4()),
        event_type="com.example.out",
        source="/retention",
        status=status,
    )
    OutboxEvent.objects.filter(pk=row.pk).update(
        created_at=now - age, published_at=now - age if status == "sent" else None
    )
    return row


def dead_letter(age: timedelta, status: str) -> DeadLetter:
    row = DeadLetter.objects.create(
        topic="xflow.events",
        partition=0,
        offset=DeadLetter.objects.count(),
        reason="not a CloudEvent",
        status=status,
    )
    handled = timezone.now() - age if status != "new" else None
    DeadLetter.objects.filter(pk=row.pk).update(
        created_at=timezone.now() - age - 30 * DAY, replayed_at=handled
    )
    return row


def remaining(model, rows) -> set[int]:
    return set(model.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))


def test_a_run_deletes_exactly_what_the_rules_let_go(instance):
    # Given rows of every kind, old and recent
    old, recent = 8 * DAY, 6 * DAY
    routed_old = inbound(old)
    signalled_old = inbound(old)
    delivery(signalled_old, instance, "signalled")
    closed_old = inbound(old)
    delivery(closed_old, instance, "closed")
    pending_old = inbound(old)  # its signal is still to be sent: the relay reads it here
    pending = delivery(pending_old, instance, "pending")
    routed_recent = inbound(recent)
    delivery(routed_recent, instance, "signalled")
    unrouted_expired = inbound(old, status="unrouted", kept_for=-DAY)
    unrouted_still_kept = inbound(old, status="unrouted", kept_for=DAY)
    unrouted_recent = inbound(recent, status="unrouted", kept_for=-DAY)

    sent_old, sent_recent = outbox(old, "sent"), outbox(recent, "sent")
    pending_out, failed_out = outbox(old * 3, "pending"), outbox(old * 3, "failed")

    replayed_old = dead_letter(31 * DAY, "replayed")
    discarded_old = dead_letter(31 * DAY, "discarded")
    replayed_recent = dead_letter(29 * DAY, "replayed")  # received 59 days ago
    new_old = dead_letter(90 * DAY, "new")
    failed_replay_old = dead_letter(90 * DAY, "replay_failed")

    # When the purge runs
    counts = purge_event_records()

    # Then exactly the finished, old rows are gone
    assert counts == {
        "inbound_events": 4,
        "event_deliveries": 2,
        "outbox_events": 1,
        "dead_letters": 2,
    }
    kept_inbound = [pending_old, routed_recent, unrouted_still_kept, unrouted_recent]
    gone_inbound = [routed_old, signalled_old, closed_old, unrouted_expired]
    assert remaining(InboundEvent, kept_inbound + gone_inbound) == {r.pk for r in kept_inbound}
    assert EventDelivery.objects.filter(pk=pending.pk, status="pending").exists()
    assert set(EventDelivery.objects.values_list("inbound_id", flat=True)) == {
        pending_old.pk,
        routed_recent.pk,
    }
    kept_out = [sent_recent, pending_out, failed_out]
    assert remaining(OutboxEvent, [sent_old, *kept_out]) == {r.pk for r in kept_out}
    kept_letters = [replayed_recent, new_old, failed_replay_old]
    assert remaining(DeadLetter, [replayed_old, discarded_old, *kept_letters]) == {
        r.pk for r in kept_letters
    }
    audit = PlatformEvent.objects.get(event_type="event_records_purged")
    assert audit.details["inbound_events"] == 4 and audit.details["dead_letters"] == 2

    # A second run finds nothing left to delete, and writes no audit row
    assert sum(purge_event_records().values()) == 0
    assert PlatformEvent.objects.filter(event_type="event_records_purged").count() == 1


def test_an_event_whose_pending_delivery_was_signalled_goes_at_the_next_run(instance):
    event = inbound(8 * DAY)
    row = delivery(event, instance, "pending")
    assert purge_event_records()["inbound_events"] == 0
    EventDelivery.objects.filter(pk=row.pk).update(status="signalled")
    assert purge_event_records()["inbound_events"] == 1
    assert not EventDelivery.objects.filter(pk=row.pk).exists()


def test_batches_delete_a_backlog_a_few_rows_at_a_time():
    rows = [outbox(8 * DAY, "sent") for _ in range(5)]
    events = [inbound(8 * DAY) for _ in range(5)]
    deletes: list[str] = []

    def watch(execute, sql, params, many, context):
        if sql.startswith("DELETE FROM workflows_outboxevent"):
            deletes.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(watch):
        counts = purge_event_records(batch=2)

    assert len(deletes) == 3  # 2 + 2 + 1 rows
    assert counts["outbox_events"] == 5 and counts["inbound_events"] == 5
    assert not remaining(OutboxEvent, rows) and not remaining(InboundEvent, events)


@pytest.mark.django_db(transaction=True)
def test_each_batch_commits_on_its_own(monkeypatch):
    from apps.workflows.services import retention

    for _ in range(5):
        outbox(8 * DAY, "sent")
    real, calls = retention._delete_by_id, []

    def dies_at_the_third_batch(table, column, ids):
        calls.append(ids)
        if len(calls) == 3:
            raise DatabaseError("the connection was lost")
        return real(table, column, ids)

    monkeypatch.setattr(retention, "_delete_by_id", dies_at_the_third_batch)
    with pytest.raises(DatabaseError):
        purge_event_records(batch=2)
    assert OutboxEvent.objects.count() == 1  # the first two batches stay deleted

    monkeypatch.setattr(retention, "_delete_by_id", real)
    assert purge_event_records(batch=2)["outbox_events"] == 1


@pytest.mark.parametrize("setting", ["XFLOW_INBOUND_RETENTION_DAYS", "XFLOW_OUTBOX_RETENTION_DAYS"])
def test_zero_or_negative_days_keep_that_table(settings, setting):
    setattr(settings, setting, 0)
    settings.XFLOW_DEADLETTER_RETENTION_DAYS = -1
    events = [inbound(400 * DAY) for _ in range(2)]
    rows = [outbox(400 * DAY, "sent") for _ in range(2)]
    letters = [dead_letter(400 * DAY, "replayed")]

    counts = purge_event_records()

    assert counts["dead_letters"] == 0 and len(remaining(DeadLetter, letters)) == 1
    if setting == "XFLOW_INBOUND_RETENTION_DAYS":
        assert counts["inbound_events"] == 0 and len(remaining(InboundEvent, events)) == 2
        assert counts["outbox_events"] == 2
    else:
        assert counts["outbox_events"] == 0 and len(remaining(OutboxEvent, rows)) == 2
        assert counts["inbound_events"] == 2


def test_the_retention_is_measured_in_the_configured_days(settings):
    settings.XFLOW_OUTBOX_RETENTION_DAYS = 0.5
    younger, older = outbox(timedelta(hours=11), "sent"), outbox(timedelta(hours=13), "sent")
    assert purge_event_records()["outbox_events"] == 1
    assert remaining(OutboxEvent, [younger, older]) == {younger.pk}


def test_the_command_dry_run_counts_and_deletes_nothing(instance):
    event = inbound(8 * DAY)
    delivery(event, instance, "signalled")
    outbox(8 * DAY, "sent")
    dead_letter(31 * DAY, "discarded")
    out = StringIO()

    call_command("purge_events", "--dry-run", stdout=out)

    assert out.getvalue().splitlines() == [
        "inbound_events: would delete 1 (kept 7 days)",
        "event_deliveries: would delete 1 (with their events)",
        "outbox_events: would delete 1 (kept 7 days)",
        "dead_letters: would delete 1 (kept 30 days)",
    ]
    assert InboundEvent.objects.count() == 1 and EventDelivery.objects.count() == 1
    assert OutboxEvent.objects.count() == 1 and DeadLetter.objects.count() == 1
    assert not PlatformEvent.objects.filter(event_type="event_records_purged").exists()

    out = StringIO()
    call_command("purge_events", stdout=out)
    assert "inbound_events: deleted 1 (kept 7 days)" in out.getvalue()
    assert not InboundEvent.objects.exists() and not DeadLetter.objects.exists()


def test_the_beat_task_purges(settings):
    from apps.workflows.tasks import purge_event_records as task

    assert settings.CELERY_BEAT_SCHEDULE["purge-event-records"]["task"] == task.name
    outbox(8 * DAY, "sent")
    assert task.apply().get()["outbox_events"] == 1


def test_the_admin_pages_say_how_long_rows_are_kept(client, operator, settings):
    settings.XFLOW_DEADLETTER_RETENTION_DAYS = 0
    client.force_login(operator)
    pages = {
        "inboundevent": "kept 7 days once routed",
        "outboxevent": "sent rows kept 7 days",
        "deadletter": "replayed or discarded ones kept for ever (retention off)",
    }
    for page, text in pages.items():
        response = client.get(f"/admin/workflows/{page}/")
        assert response.status_code == 200
        assert text in response.content.decode(), page


def test_an_operator_discards_dead_letters_and_they_age_out(client, operator, make_user):
    fresh = dead_letter(timedelta(0), "new")
    replayed = dead_letter(timedelta(0), "replayed")
    viewer = make_user("viewer", staff=True, perms=["workflows.view_deadletter"])
    client.force_login(viewer)
    client.post(
        "/admin/workflows/deadletter/",
        {"action": "discard_selected", "_selected_action": [fresh.pk]},
    )
    fresh.refresh_from_db()
    assert fresh.status == "new"  # looking is not handling
    client.force_login(operator)
    response = client.post(
        "/admin/workflows/deadletter/",
        {"action": "discard_selected", "_selected_action": [fresh.pk, replayed.pk]},
        follow=True,
    )
    assert "1 dead letter(s) discarded." in response.content.decode()
    fresh.refresh_from_db()
    replayed.refresh_from_db()
    assert fresh.status == "discarded" and fresh.replayed_at is not None
    assert replayed.status == "replayed"  # a replayed letter stays what it was
    assert PlatformEvent.objects.filter(event_type="dead_letters_discarded").exists()
    assert purge_event_records()["dead_letters"] == 0  # handled just now: kept 30 days
    assert purge_event_records(timezone.now() + 31 * DAY)["dead_letters"] == 2
