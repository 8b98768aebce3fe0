"""Operators' triggers: a filter on type, source and extensions, then start, signal, call, send."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from apps.core.models import PlatformEvent
from apps.workflows.kafka import new_producer
from apps.workflows.models import EventTrigger, InboundEvent, OutboxEvent, WorkflowInstance
from apps.workflows.outbox import relay_outbox
from apps.workflows.services.events import deliver_event
from apps.workflows.services.triggers import do_save_trigger

from .conftest import read_topic, wait_for_instance
from .test_events import event

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

NAPPER = {
    "id": "trigger-napper",
    "version": "1",
    "specVersion": "0.8",
    "start": "Nap",
    "states": [{"name": "Nap", "type": "sleep", "duration": "PT30S", "end": True}],
}
ECHO = {
    "id": "trigger-echo",
    "version": "1",
    "specVersion": "0.8",
    "start": "Done",
    "states": [{"name": "Done", "type": "inject", "data": {"echoed": True}, "end": True}],
}


def trigger(**fields) -> EventTrigger:
    return do_save_trigger(EventTrigger(**fields), user=None)


def test_a_start_trigger_fires_on_matching_type_source_and_extensions_only(api):
    api.post("/api/v1/definitions/?publish=true", ECHO, format="json")
    trigger(
        name="eu orders",
        event_type="com.example.order",
        source="/shop",
        extensions={"region": "eu"},
        action="start",
        definition_key="trigger-echo",
    )
    miss_region = deliver_event(event("com.example.order", "/shop", {"n": 1}, region="us"))
    miss_source = deliver_event(event("com.example.order", "/else", {"n": 2}, region="eu"))
    assert miss_region.started == [] and miss_source.started == []
    hit = event("com.example.order", "/shop", {"n": 3}, region="eu")
    first = deliver_event(hit)
    [instance_id] = first.started
    assert wait_for_instance(instance_id).output == {"n": 3, "echoed": True}
    assert deliver_event(hit).duplicate is True  # once per event
    assert WorkflowInstance.objects.count() == 1
    record = InboundEvent.objects.get(event_id=hit["id"])
    assert record.status == "routed"
    assert record.result["triggers"][0]["trigger"] == "eu orders"
    assert PlatformEvent.objects.filter(event_type="event_trigger_created").count() == 1


def test_a_signal_trigger_reaches_the_instances_with_the_business_key(api):
    api.post("/api/v1/definitions/?publish=true", NAPPER, format="json")
    started = api.post(
        "/api/v1/instances/",
        {"definition": "trigger-napper", "businessKey": "case-7"},
        format="json",
    )
    assert started.status_code == 201, started.json()
    instance_id = started.json()["id"]
    trigger(name="cases", event_type="com.example.case.note", action="signal")
    result = deliver_event(event("com.example.case.note", "/crm", {"x": 1}, subject="case-7"))
    assert result.delivered == [instance_id]
    other = deliver_event(event("com.example.case.note", "/crm", {"x": 1}, subject="case-8"))
    assert other.delivered == []


def test_a_republish_trigger_sends_the_event_to_its_topic(kafka_topics):
    target = kafka_topics.produced + ".copy"
    trigger(name="copy", event_type="com.example.copy", action="republish", topic=target)
    sent = event("com.example.copy", "/s", {"v": 1}, subject="k-1")
    deliver_event(sent)
    producer = new_producer()
    try:
        assert relay_outbox(producer) == 1
    finally:
        producer.close()
    [message] = read_topic(target, expect=1)
    assert message.key == b"k-1"
    assert dict(message.headers)["ce_id"] == sent["id"].encode()
    assert json.loads(message.value) == {"v": 1}


def test_a_republish_trigger_to_the_consumed_topic_is_refused(kafka_topics):
    from apps.core.errors import ServiceError

    with pytest.raises(ServiceError) as refused:
        trigger(name="loop", action="republish", topic=kafka_topics.events)
    assert "loop" in refused.value.message or "topic" in refused.value.fields


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_webhook_trigger_posts_the_event_through_the_outbound_policy(
    kafka_topics, webhook, allow_outbound
):
    trigger(
        name="hook",
        event_type="com.example.hook",
        action="webhook",
        url=f"http://{webhook}/events",
    )
    producer = new_producer()
    try:
        # Loopback is refused by the outbound policy until allowed: the row waits and retries.
        deliver_event(event("com.example.hook", "/s", {"v": 1}, orderid="o-1"))
        assert relay_outbox(producer) == 0
        row = OutboxEvent.objects.get(webhook_url__startswith="http://")
        assert row.attempts == 1 and "loopback" in row.last_error
        assert _Hook.received == []

        allow_outbound(webhook)
        OutboxEvent.objects.filter(pk=row.pk).update(next_attempt_at=None)
        assert relay_outbox(producer) == 1
    finally:
        producer.close()
    [(headers, body)] = _Hook.received
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["ce-type"] == "com.example.hook"
    assert lowered["ce-orderid"] == "o-1"
    assert json.loads(body) == {"v": 1}
