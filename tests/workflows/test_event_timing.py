"""Events are never lost to timing: before the wait, during it, twice, and resent."""

from __future__ import annotations

import threading
import uuid

import pytest

from apps.workflows.models import EventDelivery, EventWait, InboundEvent, WorkflowInstance
from apps.workflows.services.events import deliver_event

from .conftest import wait_for_instance
from .test_events import event
from .test_instances_api import publish, start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

# Naps first, then waits for an approval correlated by the instance's own order id.
LATE_WAITER = {
    "id": "late-waiter",
    "version": "1",
    "specVersion": "0.8",
    "start": "Nap",
    "events": [
        {
            "name": "Approved",
            "type": "com.example.approved",
            "source": "/approvals",
            "correlation": [
                {"contextAttributeName": "orderid", "contextAttributeValue": "${ .orderid }"}
            ],
        }
    ],
    "states": [
        {"name": "Nap", "type": "sleep", "duration": "PT2S", "transition": "Await"},
        {
            "name": "Await",
            "type": "event",
            "onEvents": [
                {"eventRefs": ["Approved"], "eventDataFilter": {"toStateData": ".approval"}}
            ],
            "end": True,
        },
    ],
}


def _send(api, body):
    # The routing service the bridge calls for each consumed event (the HTTP ingress now
    # writes to Kafka and answers before routing): its answer is what these rules are about.
    return deliver_event(body).as_dict()


def test_an_event_sent_before_the_instance_waits_is_kept_and_delivered(api):
    publish(api, LATE_WAITER)
    instance_id = start(api, "late-waiter", {"orderid": "o-1"}).json()["id"]
    approved = event("com.example.approved", "/approvals", {"by": "kim"}, orderid="o-1")
    first = _send(api, approved)  # the instance is still napping: no wait matches yet
    assert first["delivered"] == [] and first["duplicate"] is False
    assert InboundEvent.objects.get(event_id=approved["id"]).kept_until is not None
    done = wait_for_instance(instance_id)
    assert done.status == "completed"
    assert done.output["approval"] == {"by": "kim"}
    record = InboundEvent.objects.get(event_id=approved["id"])
    assert record.kept_until is None and record.delivered_count == 1
    assert EventDelivery.objects.get(inbound=record).status == "signalled"


def test_a_kept_event_goes_only_to_the_instance_it_correlates_with(api):
    publish(api, LATE_WAITER)
    mine = start(api, "late-waiter", {"orderid": "o-2"}).json()["id"]
    other = start(api, "late-waiter", {"orderid": "o-3"}).json()["id"]
    _send(api, event("com.example.approved", "/approvals", {"by": "lee"}, orderid="o-2"))
    assert wait_for_instance(mine).output["approval"] == {"by": "lee"}
    other_row = wait_for_instance(other, statuses=("waiting",))
    assert other_row.status == "waiting"
    assert not EventDelivery.objects.filter(instance_id=other).exists()


def test_an_event_during_the_wait_reaches_it_and_its_resend_is_a_duplicate(api):
    publish(api, LATE_WAITER)
    instance_id = start(api, "late-waiter", {"orderid": "o-4"}).json()["id"]
    wait_for_instance(instance_id, statuses=("waiting",))
    approved = event("com.example.approved", "/approvals", {"by": "max"}, orderid="o-4")
    assert _send(api, approved)["delivered"] == [instance_id]
    again = _send(api, approved)
    assert again["duplicate"] is True and again["delivered"] == [instance_id]
    assert wait_for_instance(instance_id).output["approval"] == {"by": "max"}
    assert EventDelivery.objects.filter(instance_id=instance_id).count() == 1


def test_a_resent_event_that_reached_nobody_is_routed_again(api):
    publish(api, LATE_WAITER)
    lonely = event("com.example.approved", "/approvals", {"by": "ann"}, orderid="o-5")
    assert _send(api, lonely)["delivered"] == []
    # It expired unseen (say); the sender sends it again once an instance waits.
    InboundEvent.objects.filter(event_id=lonely["id"]).update(kept_until=None)
    instance_id = start(api, "late-waiter", {"orderid": "o-5"}).json()["id"]
    wait_for_instance(instance_id, statuses=("waiting",))
    resent = _send(api, lonely)
    assert resent["duplicate"] is False
    assert resent["delivered"] == [instance_id]
    assert wait_for_instance(instance_id).output["approval"] == {"by": "ann"}


def _send_and_let_go(api, body):
    """_send from a thread of its own, which gives its connection back to the pool (the
    worker's activities, in this process, share it)."""
    from django.db import connections

    try:
        _send(api, body)
    finally:
        connections.close_all()


def test_events_racing_their_wait_are_never_lost(api):
    """Many instances, each sent its event at a random moment around its wait."""
    publish(api, {**LATE_WAITER, "states": [LATE_WAITER["states"][1]], "start": "Await"})
    ids = [start(api, "late-waiter", {"orderid": f"r-{n}"}).json()["id"] for n in range(12)]
    senders = []
    for n in range(12):
        body = event("com.example.approved", "/approvals", {"n": n}, orderid=f"r-{n}")
        delay = (n % 4) * 0.05
        senders.append(threading.Timer(delay, _send_and_let_go, args=(api, body)))
    for s in senders:
        s.start()
    for s in senders:
        s.join()
    outputs = [wait_for_instance(i).output["approval"]["n"] for i in ids]
    assert outputs == list(range(12))
    assert not EventWait.objects.filter(instance_id__in=ids).exists()


def test_a_pending_delivery_is_resent_by_the_relay(api, settings):
    from apps.core import temporal
    from apps.workflows.services.events import resend_pending_deliveries

    publish(api, LATE_WAITER)
    instance_id = start(api, "late-waiter", {"orderid": "o-6"}).json()["id"]
    wait_for_instance(instance_id, statuses=("waiting",))
    real = settings.TEMPORAL_ADDRESS
    settings.TEMPORAL_ADDRESS = "127.0.0.1:1"
    temporal.reset()
    try:
        # Temporal is unreachable: the event is recorded with its delivery, not lost.
        answer = _send(api, event("com.example.approved", "/approvals", {"x": 1}, orderid="o-6"))
    finally:
        settings.TEMPORAL_ADDRESS = real
        temporal.reset()
    assert answer["delivered"] == [instance_id]
    delivery = EventDelivery.objects.get(instance_id=instance_id)
    assert delivery.status == "pending" and delivery.last_error
    EventDelivery.objects.filter(pk=delivery.pk).update(
        created_at=delivery.created_at.replace(year=2020)
    )
    assert resend_pending_deliveries() == 1
    assert wait_for_instance(instance_id).output["approval"] == {"x": 1}


def test_an_event_type_starting_two_definitions_with_one_refusing(api):
    starter = {
        "version": "1",
        "specVersion": "0.8",
        "start": "Begin",
        "events": [{"name": "Go", "type": "com.example.go", "source": "/go"}],
        "states": [
            {
                "name": "Begin",
                "type": "event",
                "onEvents": [{"eventRefs": ["Go"]}],
                "end": True,
            }
        ],
    }
    publish(api, {**starter, "id": "go-one"})
    # The second reads an environment variable the platform lacks: its start is refused.
    publish(api, {**starter, "id": "go-two", "envs": ["XFLOW_TEST_UNSET_VARIABLE"]})
    go = event("com.example.go", "/go", {"v": 1}, id=str(uuid.uuid4()))
    first = _send(api, go)
    assert len(first["started"]) == 1
    again = _send(api, go)
    assert again["duplicate"] is True and again["started"] == first["started"]
    assert WorkflowInstance.objects.filter(definition_key="go-one").count() == 1
    assert not WorkflowInstance.objects.filter(definition_key="go-two").exists()
    assert wait_for_instance(first["started"][0]).status == "completed"
    # ... and nothing was started in Temporal for the refused one.
    from apps.workflows.services.instances import instance_id_for, workflow_id_for

    from .test_instance_trust import _describe

    refused = instance_id_for("event", "/go", go["id"], "go-two")
    assert _describe(workflow_id_for(refused)) is None
