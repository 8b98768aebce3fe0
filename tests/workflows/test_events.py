"""CloudEvents reach instances through Kafka and the bridge (HTTP ingress writes to Kafka)."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from apps.core.models import PlatformEvent
from apps.workflows.eventcodec import to_kafka
from apps.workflows.models import EventWait, InboundEvent, OutboxEvent, WorkflowInstance

from .conftest import produce, read_topic, wait_for_instance

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

ORDER_FLOW = {
    "id": "order-flow",
    "version": "1",
    "specVersion": "0.8",
    "start": "OrderPlaced",
    "events": [
        {
            "name": "Placed",
            "type": "com.example.order.placed",
            "source": "/shop",
            "correlation": [{"contextAttributeName": "orderid"}],
        },
        {
            "name": "Paid",
            "type": "com.example.order.paid",
            "source": "/payments",
            "correlation": [{"contextAttributeName": "orderid"}],
        },
        {
            "name": "Shipped",
            "type": "com.example.order.shipped",
            "kind": "produced",
            "source": "/xflow/orders",
        },
    ],
    "states": [
        {
            "name": "OrderPlaced",
            "type": "event",
            "onEvents": [{"eventRefs": ["Placed"], "eventDataFilter": {"toStateData": ".order"}}],
            "transition": "AwaitPayment",
        },
        {
            "name": "AwaitPayment",
            "type": "event",
            "onEvents": [{"eventRefs": ["Paid"], "eventDataFilter": {"toStateData": ".payment"}}],
            "end": {
                "produceEvents": [
                    {
                        "eventRef": "Shipped",
                        "data": "${ .order }",
                        "contextAttributes": {"subject": "${ .order.sku }"},
                    }
                ]
            },
        },
    ],
}


def event(type_, source, data, **extra):
    return {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "type": type_,
        "source": source,
        "datacontenttype": "application/json",
        "data": data,
        **extra,
    }


def eventually(check, *, timeout=30.0, what="the condition"):
    """Poll `check` until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} never happened"
        time.sleep(0.05)


def wait_until_waiting(instance_id, timeout=20.0):
    eventually(
        lambda: EventWait.objects.filter(instance_id=instance_id).exists(),
        timeout=timeout,
        what="the instance's wait",
    )


def routed(event_id):
    return eventually(
        lambda: InboundEvent.objects.filter(event_id=event_id).first(),
        what=f"routing of {event_id}",
    )


def test_events_sent_over_http_in_each_mode_start_and_complete_an_instance(api, bridge):
    api.post("/api/v1/definitions/?publish=true", ORDER_FLOW, format="json")

    # Plain JSON: accepted (written to the consumed topic), routed by the bridge.
    placed = event("com.example.order.placed", "/shop", {"sku": "A-1", "qty": 2}, orderid="o-17")
    response = api.post("/api/v1/events/", placed, format="json")
    assert response.status_code == 202, response.json()
    assert response.json()["topic"] == bridge.events
    [instance_id] = routed(placed["id"]).result["started"]
    wait_until_waiting(instance_id)

    # Structured mode: an event for another order does not wake this instance.
    other = event("com.example.order.paid", "/payments", {"amount": 1}, orderid="o-99")
    response = api.generic(
        "POST", "/api/v1/events/", json.dumps(other), content_type="application/cloudevents+json"
    )
    assert response.status_code == 202, response.json()
    assert routed(other["id"]).status == "unrouted"

    # Binary mode: attributes in ce-* headers, the data is the body.
    paid_id = str(uuid.uuid4())
    response = api.generic(
        "POST",
        "/api/v1/events/",
        json.dumps({"amount": 30}),
        content_type="application/json",
        HTTP_CE_ID=paid_id,
        HTTP_CE_SOURCE="/payments",
        HTTP_CE_TYPE="com.example.order.paid",
        HTTP_CE_SPECVERSION="1.0",
        HTTP_CE_ORDERID="o-17",
    )
    assert response.status_code == 202, response.json()
    assert routed(paid_id).result["delivered"] == [instance_id]
    instance = wait_for_instance(instance_id)
    assert instance.status == "completed"
    assert instance.output == {"order": {"sku": "A-1", "qty": 2}, "payment": {"amount": 30}}

    # The produced event is published to the produced topic, keyed by its subject ...
    produced = OutboxEvent.objects.get(instance_id=instance_id)
    eventually(lambda: OutboxEvent.objects.get(pk=produced.pk).status == "sent", what="relay")
    [message] = read_topic(bridge.produced, expect=1)
    assert message.key == b"A-1"
    headers = dict(message.headers)
    assert headers["ce_type"] == b"com.example.order.shipped"
    assert headers["ce_subject"] == b"A-1"
    assert json.loads(message.value) == {"sku": "A-1", "qty": 2}
    # ... never to the topic the bridge consumes: it holds only the three events sent.
    assert len(read_topic(bridge.events, expect=4, timeout=3)) == 3
    assert not InboundEvent.objects.filter(event_type="com.example.order.shipped").exists()
    assert PlatformEvent.objects.filter(event_type="event_sent").count() == 3


def test_a_redelivered_message_starts_nothing_twice(api, bridge):
    api.post("/api/v1/definitions/?publish=true", ORDER_FLOW, format="json")
    placed = event("com.example.order.placed", "/shop", {"sku": "B"}, orderid="o-2")
    key, value, headers = to_kafka(placed)
    produce(bridge.events, key=key, value=value, headers=headers)
    # The same event again, in structured mode this time: the same (source, id).
    key, value, headers = to_kafka(placed, structured=True)
    produce(bridge.events, key=key, value=value, headers=headers)
    marker = event("com.example.nobody", "/shop", {})
    produce(bridge.events, key=b"o-2", value=json.dumps(marker).encode())
    routed(marker["id"])
    eventually(lambda: WorkflowInstance.objects.exists(), what="the start")
    time.sleep(0.5)
    assert WorkflowInstance.objects.count() == 1
    assert InboundEvent.objects.filter(event_id=placed["id"]).count() == 1


def test_an_event_type_nobody_listens_for_is_recorded_unrouted(api, bridge):
    lonely = event("com.example.nobody.listens", "/x", {"n": 1})
    key, value, headers = to_kafka(lonely)
    produce(bridge.events, key=key, value=value, headers=headers)
    record = routed(lonely["id"])
    assert record.status == "unrouted"
    assert record.kept_until is not None  # kept for a wait that comes later
    assert record.origin.startswith(bridge.events + "/")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source": "/x", "type": "t"}, "id"),
        ({"id": "1", "type": "t"}, "source"),
        ({"id": "1", "source": "/x", "type": "t", "specversion": "0.3"}, "specversion"),
        ({"id": "1", "source": "/x", "type": "t", "subject": "s" * 501}, "subject"),
        ({"id": "1", "source": "/x", "type": "t", "orderId": "1"}, "orderId"),
    ],
)
def test_an_invalid_cloud_event_is_refused_with_the_reason(api, body, field):
    response = api.post("/api/v1/events/", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "event_invalid"
    assert field in error["fields"]


def test_binary_mode_over_http_is_checked_like_the_rest(api):
    response = api.generic(
        "POST",
        "/api/v1/events/",
        b"{}",
        content_type="application/json",
        HTTP_CE_ID="1",
        HTTP_CE_TYPE="t",
        HTTP_CE_SPECVERSION="1.0",
    )
    assert response.status_code == 400
    assert "source" in response.json()["error"]["fields"]


def test_a_body_that_is_no_event_format_is_415(api):
    response = api.generic("POST", "/api/v1/events/", b"a,b", content_type="text/csv")
    assert response.status_code == 415
    assert "binary mode" in response.json()["error"]["message"]


def test_the_ingress_answers_503_when_the_broker_is_down(api, settings, kafka_topics):
    from apps.workflows.kafka import reset_shared_producer

    settings.KAFKA_BOOTSTRAP_SERVERS = ["127.0.0.1:1"]
    reset_shared_producer()
    try:
        response = api.post("/api/v1/events/", event("t.x", "/s", {}), format="json")
    finally:
        reset_shared_producer()
    assert response.status_code == 503
    assert "not reachable" in response.json()["error"]["message"]
    assert not PlatformEvent.objects.filter(event_type="event_sent").exists()
