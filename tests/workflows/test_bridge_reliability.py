"""Kill -9 the bridge while events are in flight: every event has its effect exactly once.

XFLOW_TEST_BRIDGE_EVENTS (default 200) sets how many events; the issue's case is 1,000:
`XFLOW_TEST_BRIDGE_EVENTS=1000 pytest tests/workflows/test_bridge_reliability.py`.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.db.models import Count

from apps.workflows.eventcodec import to_kafka
from apps.workflows.kafka import new_producer
from apps.workflows.models import (
    DeadLetter,
    EventDelivery,
    InboundEvent,
    WorkflowDefinition,
    WorkflowInstance,
)
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.events import resend_pending_deliveries
from apps.workflows.services.instances import do_start_instance
from apps.workflows.services.reconcile import reconcile_instances

from .test_events import event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

ROOT = Path(__file__).resolve().parents[2]
EVENTS = int(os.environ.get("XFLOW_TEST_BRIDGE_EVENTS", "200"))

STARTER = {
    "id": "rel-starter",
    "version": "1",
    "specVersion": "0.8",
    "start": "Begin",
    "events": [{"name": "Go", "type": "com.example.rel.go", "source": "/rel"}],
    "states": [
        {
            "name": "Begin",
            "type": "event",
            "onEvents": [{"eventRefs": ["Go"], "eventDataFilter": {"toStateData": ".go"}}],
            "end": True,
        }
    ],
}
WAITER = {
    "id": "rel-waiter",
    "version": "1",
    "specVersion": "0.8",
    "start": "Open",  # not an event state: the events only wake instances, never start them
    "events": [
        {
            "name": "Done",
            "type": "com.example.rel.done",
            "source": "/rel",
            "correlation": [
                {"contextAttributeName": "orderid", "contextAttributeValue": "${ .orderid }"}
            ],
        }
    ],
    "states": [
        {"name": "Open", "type": "inject", "data": {"opened": True}, "transition": "Await"},
        {
            "name": "Await",
            "type": "event",
            "onEvents": [{"eventRefs": ["Done"], "eventDataFilter": {"toStateData": ".done"}}],
            "end": True,
        },
    ],
}


def spawn(command: str, log: Path, **env: str) -> subprocess.Popen:
    """`manage.py <command>` on the test database and task queues (stderr to `log`); `env`
    adds to or overrides this process's environment."""
    db = connection.settings_dict
    environment = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "TEMPORAL_QUEUE_PREFIX": settings.TEMPORAL_QUEUE_PREFIX,
        "HEARTBEAT_SECONDS": "1",
        **env,
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", command],
        cwd=ROOT,
        env=environment,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
    )


def spawn_bridge(kafka_topics, log: Path) -> subprocess.Popen:
    """`manage.py run_bridge` on the test's topics."""
    return spawn(
        "run_bridge",
        log,
        KAFKA_EVENTS_TOPIC=kafka_topics.events,
        KAFKA_PRODUCED_TOPIC=kafka_topics.produced,
        KAFKA_DEADLETTER_TOPIC=kafka_topics.deadletter,
        KAFKA_CONSUMER_GROUP=kafka_topics.group,
        # Small batches: many commits, so that the kill lands between two of them.
        XFLOW_BRIDGE_BATCH_EVENTS="5",
    )


def publish_shuffled(topic: str, half: int, *, seed: int) -> None:
    """`half` events that start instances and `half` that wake the waiting instances o-0...,
    shuffled, produced to `topic` in binary mode."""
    sent = [event("com.example.rel.go", "/rel", {"n": n}) for n in range(half)]
    sent += [event("com.example.rel.done", "/rel", {"n": n}, orderid=f"o-{n}") for n in range(half)]
    random.Random(seed).shuffle(sent)
    producer = new_producer(linger_ms=5)
    for e in sent:
        key, value, headers = to_kafka(e)
        producer.send(topic, key=key, value=value, headers=headers)
    producer.flush()
    producer.close()


def reconciler_pass() -> None:
    """What celery beat's reconciler does: starts and signals a dead process left unsent."""
    reconcile_instances(idle=timedelta(days=1), starting_grace=timedelta(0))
    resend_pending_deliveries(older_than=timedelta(0))


def test_killing_the_bridge_mid_stream_loses_and_doubles_nothing(kafka_topics, tmp_path):
    log = tmp_path / "bridge.log"
    do_save_definition(source=STARTER, publish=True)
    waiter = do_save_definition(source=WAITER, publish=True)[0]
    half = EVENTS // 2
    waiting = {}
    for n in range(half):
        instance = do_start_instance(definition=waiter, input={"orderid": f"o-{n}"})
        waiting[str(instance.pk)] = n
    publish_shuffled(kafka_topics.events, half, seed=7)

    bridge = spawn_bridge(kafka_topics, log)
    try:
        deadline = time.monotonic() + 120
        while InboundEvent.objects.count() < EVENTS // 5:
            assert bridge.poll() is None, "the bridge exited"
            assert time.monotonic() < deadline, "the bridge routed nothing"
            time.sleep(0.05)
        os.kill(bridge.pid, signal.SIGKILL)  # mid-stream: offsets of the last batch uncommitted
        bridge.wait(10)
        killed_at = InboundEvent.objects.count()
        assert killed_at < EVENTS, "everything was routed before the kill: raise the count"

        bridge = spawn_bridge(kafka_topics, log)
        deadline = time.monotonic() + 60 + EVENTS * 0.3
        while True:
            reconciler_pass()
            done = WorkflowInstance.objects.filter(status="completed").count()
            if InboundEvent.objects.count() == EVENTS and done == EVENTS:
                break
            assert time.monotonic() < deadline, (
                f"{InboundEvent.objects.count()} of {EVENTS} events routed, {done} instances "
                f"done; the bridges said:\n{log.read_text()[-3000:]}"
            )
            time.sleep(0.5)
        bridge.send_signal(signal.SIGTERM)  # graceful: finishes, commits, leaves the group
        assert bridge.wait(30) == 0
    finally:
        if bridge.poll() is None:
            os.kill(bridge.pid, signal.SIGKILL)
            bridge.wait(10)

    starter = WorkflowDefinition.objects.get(key="rel-starter")
    started = WorkflowInstance.objects.filter(definition=starter)
    assert started.count() == half  # no instance started twice
    assert sorted(i.output["go"]["n"] for i in started) == list(range(half))
    for instance in WorkflowInstance.objects.filter(pk__in=list(waiting)):
        assert instance.output["done"] == {"n": waiting[str(instance.pk)]}  # its own signal
    deliveries = EventDelivery.objects.filter(instance_id__in=list(waiting))
    assert deliveries.count() == half  # one per waiting instance
    # None left to send. A send whose answer was lost (a timeout on the loaded machine) may be
    # sent again after the instance ended: that row says `closed`, the effect happened once.
    statuses = dict(deliveries.values_list("status").annotate(n=Count("id")))
    assert set(statuses) <= {"signalled", "closed"}, statuses
    assert not DeadLetter.objects.exists()
