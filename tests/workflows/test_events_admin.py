"""What an operator sees of the event plumbing in the admin, and what they can do there."""

from __future__ import annotations

import uuid

import pytest

from apps.core.models import PlatformEvent
from apps.workflows.models import DeadLetter, EventTrigger, OutboxEvent
from apps.workflows.services.events import deliver_event

from .test_event_timing import LATE_WAITER
from .test_events import event, wait_until_waiting
from .test_instances_api import publish, start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]


@pytest.fixture
def operator_client(client, operator):
    client.force_login(operator)
    return client


def _outbox(status: str, error: str = "") -> OutboxEvent:
    return OutboxEvent.objects.create(
        dedupe_key=str(uuid.uuid4()),
        topic="nowhere",
        event_id=str(uuid.uuid4()),
        event_type="com.example.out",
        source="/s",
        status=status,
        attempts=10 if status == "failed" else 0,
        last_error=error,
    )


def test_an_operator_sees_why_an_event_landed_or_not(api, operator_client):
    publish(api, {**LATE_WAITER, "states": [LATE_WAITER["states"][1]], "start": "Await"})
    instance_id = start(api, "late-waiter", {"orderid": "o-1"}).json()["id"]
    wait_until_waiting(instance_id)

    waits = operator_client.get("/admin/workflows/eventwait/").content.decode()
    assert "com.example.approved" in waits and instance_id in waits
    assert "orderid = o-1" in waits  # the correlation it waits with

    lonely = event("com.example.nobody", "/x", {})
    deliver_event(lonely)
    reached = event("com.example.approved", "/approvals", {"by": "kim"}, orderid="o-1")
    deliver_event(reached)
    listing = operator_client.get("/admin/workflows/inboundevent/?status=unrouted")
    assert lonely["id"] in listing.content.decode()
    assert reached["id"] not in listing.content.decode()
    from apps.workflows.models import InboundEvent

    record = InboundEvent.objects.get(event_id=reached["id"])
    page = operator_client.get(f"/admin/workflows/inboundevent/{record.pk}/change/")
    assert page.status_code == 200
    assert instance_id in page.content.decode()  # the instance it reached, linked


def test_the_outbox_page_counts_and_retries_failed_rows(operator_client):
    failed = _outbox("failed", "the broker said no")
    _outbox("pending")
    page = operator_client.get("/admin/workflows/outboxevent/").content.decode()
    assert "1 pending, 1 failed" in page
    assert "the broker said no" in page
    response = operator_client.post(
        "/admin/workflows/outboxevent/",
        {"action": "retry_selected", "_selected_action": [failed.pk]},
    )
    assert response.status_code == 302
    failed.refresh_from_db()
    assert failed.status == "pending" and failed.attempts == 0
    assert PlatformEvent.objects.filter(event_type="outbox_retried", actor__isnull=False).exists()


def test_a_dead_letter_is_replayed_from_the_admin(operator_client):
    good = event("com.example.nobody", "/x", {"v": 1})
    from apps.workflows.eventcodec import to_kafka

    key, value, headers = to_kafka(good)
    letter = DeadLetter.objects.create(
        topic="t",
        partition=0,
        offset=7,
        key=key,
        value=value,
        value_size=len(value),
        headers=[[n, v.decode()] for n, v in headers],
        reason="internal error: the database was away",
    )
    page = operator_client.get("/admin/workflows/deadletter/").content.decode()
    assert "1 new" in page and "the database was away" in page
    operator_client.post(
        "/admin/workflows/deadletter/",
        {"action": "replay_selected", "_selected_action": [letter.pk]},
    )
    letter.refresh_from_db()
    assert letter.status == "replayed"
    assert PlatformEvent.objects.filter(event_type="dead_letter_replayed").exists()


def test_a_trigger_made_in_the_admin_is_checked_and_audited(operator_client, settings):
    form = {
        "name": "loop",
        "enabled": "on",
        "event_type": "a.b",
        "source": "",
        "extensions": "{}",
        "action": "republish",
        "definition_key": "",
        "business_key_attribute": "subject",
        "url": "",
        "topic": settings.KAFKA_EVENTS_TOPIC,
    }
    refused = operator_client.post("/admin/workflows/eventtrigger/add/", form)
    assert refused.status_code == 200
    assert "would loop" in refused.content.decode()
    assert not EventTrigger.objects.exists()
    accepted = operator_client.post(
        "/admin/workflows/eventtrigger/add/", {**form, "topic": "elsewhere"}
    )
    assert accepted.status_code == 302
    assert EventTrigger.objects.get().topic == "elsewhere"
    assert PlatformEvent.objects.filter(event_type="event_trigger_created").count() == 1
