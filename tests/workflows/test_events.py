"""CloudEvents reach instances through the one delivery service (HTTP ingress here)."""

from __future__ import annotations

import uuid

import pytest

from apps.workflows.models import EventWait, OutboxEvent, WorkflowInstance

from .conftest import wait_for_instance

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
            "end": {"produceEvents": [{"eventRef": "Shipped", "data": "${ .order }"}]},
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


def wait_until_waiting(instance_id, timeout=20.0):
    import time

    deadline = time.monotonic() + timeout
    while not EventWait.objects.filter(instance_id=instance_id).exists():
        assert time.monotonic() < deadline, "the instance never registered its wait"
        time.sleep(0.05)


def test_an_event_starts_an_instance_and_a_correlated_event_completes_it(api):
    api.post("/api/v1/definitions/?publish=true", ORDER_FLOW, format="json")
    placed = event("com.example.order.placed", "/shop", {"sku": "A-1", "qty": 2}, orderid="o-17")
    response = api.post("/api/v1/events/", placed, format="json")
    assert response.status_code == 202, response.json()
    [instance_id] = response.json()["started"]
    wait_until_waiting(instance_id)

    # An event for another order does not wake this instance
    other = event("com.example.order.paid", "/payments", {"amount": 1}, orderid="o-99")
    assert api.post("/api/v1/events/", other, format="json").json()["delivered"] == []

    paid = event("com.example.order.paid", "/payments", {"amount": 30}, orderid="o-17")
    assert api.post("/api/v1/events/", paid, format="json").json()["delivered"] == [instance_id]
    instance = wait_for_instance(instance_id)
    assert instance.status == "completed"
    assert instance.output == {"order": {"sku": "A-1", "qty": 2}, "payment": {"amount": 30}}
    produced = OutboxEvent.objects.get(instance_id=instance_id)
    assert produced.event_type == "com.example.order.shipped"
    assert produced.data == {"sku": "A-1", "qty": 2}
    assert produced.attributes["specversion"] == "1.0"


def test_a_redelivered_event_starts_nothing_twice(api):
    api.post("/api/v1/definitions/?publish=true", ORDER_FLOW, format="json")
    placed = event("com.example.order.placed", "/shop", {"sku": "B"}, orderid="o-2")
    first = api.post("/api/v1/events/", placed, format="json").json()
    again = api.post("/api/v1/events/", placed, format="json").json()
    assert again["duplicate"] is True
    assert again["started"] == first["started"]
    assert WorkflowInstance.objects.count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source": "/x", "type": "t"}, "id"),
        ({"id": "1", "type": "t"}, "source"),
        ({"id": "1", "source": "/x", "type": "t", "specversion": "0.3"}, "specversion"),
    ],
)
def test_an_invalid_cloud_event_is_refused_with_the_reason(api, body, field):
    response = api.post("/api/v1/events/", body, format="json")
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "event_invalid"
    assert field in error["fields"]
