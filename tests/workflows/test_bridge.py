"""The bridge as a Kafka user meets it: dead letters, replay, shutdown."""

from __future__ import annotations

import json

import pytest

from apps.workflows.eventcodec import to_kafka
from apps.workflows.kafka import new_producer
from apps.workflows.models import DeadLetter, InboundEvent, WorkflowInstance
from apps.workflows.services.deadletters import do_replay_dead_letter

from .conftest import read_topic, wait_for_instance
from .test_events import event, eventually, routed

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

HUGE = 1024 * 1024 + 512 * 1024


def test_malformed_messages_land_in_the_dead_letter_topic_with_the_reason(bridge):
    producer = new_producer(max_request_size=4 * 1024 * 1024)
    bad = {
        b"not-json": (b"{this is not json", []),
        b"no-source": (b'{"id": "1", "type": "t", "specversion": "1.0"}', []),
        b"old-spec": (b'{"id": "1", "source": "/s", "type": "t", "specversion": "0.3"}', []),
        b"huge": (
            json.dumps(
                {"id": "h", "source": "/s", "type": "t", "specversion": "1.0", "data": "x" * HUGE}
            ).encode(),
            [("content-type", b"application/cloudevents+json")],
        ),
    }
    for key, (value, headers) in bad.items():
        producer.send(bridge.events, key=key, value=value, headers=headers).get(timeout=10)
    producer.close()

    letters = {m.key: m for m in read_topic(bridge.deadletter, expect=4)}
    assert set(letters) == set(bad)  # each keeps its original key
    reasons = {}
    for key, message in letters.items():
        headers = dict(message.headers)
        assert headers["xflow_dlq_topic"] == bridge.events.encode()
        partition, offset = int(headers["xflow_dlq_partition"]), int(headers["xflow_dlq_offset"])
        row = DeadLetter.objects.get(topic=bridge.events, partition=partition, offset=offset)
        assert row.reason == headers["xflow_dlq_reason"].decode()
        assert message.value == bad[key][0]  # the original message, as it was
        reasons[key] = row.reason
    assert "not JSON" in reasons[b"not-json"]
    assert "lacks source" in reasons[b"no-source"]
    assert "'0.3' is not supported" in reasons[b"old-spec"]
    assert "events are at most" in reasons[b"huge"]
    assert not InboundEvent.objects.exists()


def test_a_dead_letter_is_replayed_once_its_cause_is_fixed(api, bridge, monkeypatch):
    monkeypatch.delenv("XFLOW_TEST_REPLAY_VAR", raising=False)
    definition = {
        "id": "needs-env",
        "version": "1",
        "specVersion": "0.8",
        "start": "Begin",
        "envs": ["XFLOW_TEST_REPLAY_VAR"],
        "events": [{"name": "Go", "type": "com.example.replay.go", "source": "/go"}],
        "states": [
            {"name": "Begin", "type": "event", "onEvents": [{"eventRefs": ["Go"]}], "end": True}
        ],
    }
    response = api.post("/api/v1/definitions/?publish=true", definition, format="json")
    assert response.status_code == 201, response.json()
    go = event("com.example.replay.go", "/go", {"v": 1})
    key, value, headers = to_kafka(go)
    producer = new_producer()
    producer.send(bridge.events, key=key, value=value, headers=headers).get(timeout=10)
    producer.close()
    letter = eventually(lambda: DeadLetter.objects.first(), what="the dead letter")
    assert "XFLOW_TEST_REPLAY_VAR" in letter.reason  # the start was refused: nothing routed it
    assert not WorkflowInstance.objects.exists()

    monkeypatch.setenv("XFLOW_TEST_REPLAY_VAR", "set now")
    outcome = do_replay_dead_letter(letter, user=None)
    assert outcome["ok"] is True
    letter.refresh_from_db()
    assert letter.status == "replayed"
    [instance] = WorkflowInstance.objects.all()
    assert wait_for_instance(instance.pk).status == "completed"
    # Replayed twice: still one instance (the event's (source, id) is known).
    assert do_replay_dead_letter(letter, user=None)["duplicate"] is True
    assert WorkflowInstance.objects.count() == 1


def test_a_stopped_bridge_has_committed_what_it_handled(kafka_topics, engine_worker):
    """Stop (as on SIGTERM) and start again: nothing handled is handled twice."""
    import threading

    from apps.workflows.bridge import run_bridge

    def run_until(stop):
        thread = threading.Thread(target=run_bridge, args=(stop,), kwargs={"poll_seconds": 0.2})
        thread.start()
        return thread

    producer = new_producer()
    first = [event("com.example.nobody", "/s", {"n": n}) for n in range(20)]
    for e in first:
        k, v, h = to_kafka(e)
        producer.send(kafka_topics.events, key=k, value=v, headers=h)
    producer.flush()
    stop = threading.Event()
    thread = run_until(stop)
    eventually(lambda: InboundEvent.objects.count() == 20, what="the first 20 routed")
    stop.set()
    thread.join(30)
    assert not thread.is_alive()

    # Rows of the first run are marked: a second routing of them would be seen as `duplicate`.
    InboundEvent.objects.update(result={"first": True})
    last = event("com.example.nobody", "/s", {"n": "last"})
    k, v, h = to_kafka(last)
    producer.send(kafka_topics.events, key=k, value=v, headers=h).get(timeout=10)
    producer.close()
    stop = threading.Event()
    thread = run_until(stop)
    try:
        routed(last["id"])
    finally:
        stop.set()
        thread.join(30)
    assert InboundEvent.objects.filter(result={"first": True}).count() == 20
    assert InboundEvent.objects.count() == 21


def test_two_bridges_share_the_partitions_and_each_event_has_one_effect(
    kafka_topics, engine_worker, caplog
):
    import threading

    from apps.workflows.bridge import run_bridge
    from apps.workflows.services.definitions import do_save_definition
    from apps.workflows.services.instances import do_start_instance

    from .test_bridge_reliability import STARTER, WAITER

    do_save_definition(source=STARTER, publish=True)
    waiter, _ = do_save_definition(source=WAITER, publish=True)
    waiting = {
        str(do_start_instance(definition=waiter, input={"orderid": f"o-{n}"}).pk): n
        for n in range(50)
    }
    stops = [threading.Event(), threading.Event()]
    bridges = [
        threading.Thread(target=run_bridge, args=(stop,), kwargs={"poll_seconds": 0.2})
        for stop in stops
    ]
    caplog.set_level("INFO", logger="xflow.bridge")
    for bridge in bridges:
        bridge.start()
    producer = new_producer()
    for n in range(50):
        for e in (
            event("com.example.rel.go", "/rel", {"n": n}),
            event("com.example.rel.done", "/rel", {"n": n}, orderid=f"o-{n}"),
        ):
            key, value, headers = to_kafka(e)
            producer.send(kafka_topics.events, key=key, value=value, headers=headers)
    producer.flush()
    producer.close()
    try:
        eventually(
            lambda: WorkflowInstance.objects.filter(status="completed").count() == 100,
            timeout=90,
            what="every event's effect",
        )
    finally:
        for stop in stops:
            stop.set()
        for bridge in bridges:
            bridge.join(30)
    holders = {
        r.getMessage().split()[0]
        for r in caplog.records
        if r.name == "xflow.bridge" and " handles " in r.getMessage() and "/" in r.getMessage()
    }
    assert len(holders) == 2  # both bridges held partitions
    origins = InboundEvent.objects.values_list("origin", flat=True)
    assert len(origins) == 100
    assert {o.split("/")[1].split("@")[0] for o in origins} == {"0", "1", "2", "3"}
    started = WorkflowInstance.objects.filter(definition_key="rel-starter")
    assert sorted(i.output["go"]["n"] for i in started) == list(range(50))
    for instance in WorkflowInstance.objects.filter(pk__in=list(waiting)):
        assert instance.output["done"] == {"n": waiting[str(instance.pk)]}
