"""Routing many events in one transaction (what the bridge does with a partition's batch):
each event gets its own outcome, effects happen once, order is kept, and the cost of a batch
does not grow with its size."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core.errors import ServiceError
from apps.workflows.models import EventDelivery, InboundEvent, WorkflowInstance
from apps.workflows.services.routing import route_events

from .conftest import wait_for_instance
from .test_events import event, eventually, wait_until_waiting
from .test_instances_api import publish, start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

STARTER = {
    "id": "batch-starter",
    "version": "1",
    "specVersion": "0.8",
    "start": "Begin",
    "events": [{"name": "Go", "type": "batch.go", "source": "/batch"}],
    "states": [
        {
            "name": "Begin",
            "type": "event",
            "onEvents": [{"eventRefs": ["Go"], "eventDataFilter": {"toStateData": ".go"}}],
            "end": True,
        }
    ],
}
# Waits for two steps of its own order, one after the other.
STEPPER = {
    "id": "batch-stepper",
    "version": "1",
    "specVersion": "0.8",
    "start": "Open",
    "events": [
        {
            "name": "Step",
            "type": "batch.step",
            "source": "/batch",
            "correlation": [
                {"contextAttributeName": "orderid", "contextAttributeValue": "${ .orderid }"}
            ],
        }
    ],
    "states": [
        {"name": "Open", "type": "inject", "data": {"opened": True}, "transition": "First"},
        {
            "name": "First",
            "type": "event",
            "onEvents": [{"eventRefs": ["Step"], "eventDataFilter": {"toStateData": ".first"}}],
            "transition": "Second",
        },
        {
            "name": "Second",
            "type": "event",
            "onEvents": [{"eventRefs": ["Step"], "eventDataFilter": {"toStateData": ".second"}}],
            "end": True,
        },
    ],
}
# Starts on its event, but needs a secret the store does not have: every start is refused.
NEEDS_SECRET = {
    "id": "batch-needs-secret",
    "version": "1",
    "specVersion": "0.8",
    "start": "Begin",
    "secrets": ["batch-missing-secret"],
    "events": [{"name": "Go", "type": "batch.refused", "source": "/batch"}],
    "states": [
        {"name": "Begin", "type": "event", "onEvents": [{"eventRefs": ["Go"]}], "end": True}
    ],
}


def _route(events):
    return route_events([(e, "test") for e in events])


def test_each_event_of_a_batch_gets_its_own_outcome_and_its_effect_once(api):
    publish(api, STARTER)
    publish(api, STEPPER)
    publish(api, NEEDS_SECRET)
    waiting = [start(api, "batch-stepper", {"orderid": f"o-{n}"}).json()["id"] for n in (1, 2)]
    for instance_id in waiting:
        wait_until_waiting(instance_id)
    go = event("batch.go", "/batch", {"n": 1})
    step_1 = event("batch.step", "/batch", {"s": "one"}, orderid="o-1")
    step_2 = event("batch.step", "/batch", {"s": "two"}, orderid="o-2")
    refused = event("batch.refused", "/batch", {})
    nobody = event("batch.nobody", "/batch", {})
    not_an_event = {"id": "x", "data": {}}  # no source, type or specversion
    batch = [go, step_1, dict(go), not_an_event, step_2, refused, nobody]

    outcomes = _route(batch)

    started = outcomes[0].started
    assert len(started) == 1 and outcomes[0].duplicate is False
    assert outcomes[1].delivered == [waiting[0]]
    # The same event twice in one batch: the second is a redelivery of the first.
    assert outcomes[2].duplicate is True and outcomes[2].started == started
    assert isinstance(outcomes[3], ServiceError) and "source" in outcomes[3].message
    assert outcomes[4].delivered == [waiting[1]]
    # Every start it asked for was refused and nothing else took it: the sender hears why,
    # and nothing of it is recorded.
    assert isinstance(outcomes[5], ServiceError)
    assert "batch-missing-secret" in outcomes[5].message
    assert not InboundEvent.objects.filter(event_id=refused["id"]).exists()
    assert outcomes[6].delivered == [] and outcomes[6].started == []
    kept = InboundEvent.objects.get(event_id=nobody["id"])
    assert kept.status == "unrouted" and kept.kept_until is not None

    # The whole batch delivered again (a bridge restarted before committing its offsets).
    again = _route(batch)
    assert again[0].duplicate and again[0].started == started
    assert again[1].duplicate and again[1].delivered == [waiting[0]]
    assert isinstance(again[3], ServiceError) and isinstance(again[5], ServiceError)
    assert WorkflowInstance.objects.filter(definition_key="batch-starter").count() == 1
    assert EventDelivery.objects.filter(instance_id__in=waiting).count() == 2

    assert wait_for_instance(started[0]).output == {"go": {"n": 1}}
    # Each waiting instance got its own step (and only that): it waits for its second one.
    for instance_id in waiting:
        eventually(
            lambda i=instance_id: WorkflowInstance.objects.get(pk=i).current_states == ["Second"],
            what="the instance moving on to its second step",
        )
        assert EventDelivery.objects.get(instance_id=instance_id).status == "signalled"
    _route([event("batch.step", "/batch", {"s": f"{n}b"}, orderid=f"o-{n}") for n in (1, 2)])
    for instance_id, n, step in zip(waiting, (1, 2), ("one", "two"), strict=True):
        done = wait_for_instance(instance_id)
        assert done.output == {
            "orderid": f"o-{n}",
            "opened": True,
            "first": {"s": step},
            "second": {"s": f"{n}b"},
        }


def test_two_events_for_one_instance_in_one_batch_arrive_in_their_order(api):
    publish(api, STEPPER)
    instance_id = start(api, "batch-stepper", {"orderid": "o-9"}).json()["id"]
    wait_until_waiting(instance_id)
    first = event("batch.step", "/batch", {"s": "first"}, orderid="o-9")
    second = event("batch.step", "/batch", {"s": "second"}, orderid="o-9")

    outcomes = _route([first, second])

    assert outcomes[0].delivered == [instance_id] and outcomes[1].delivered == [instance_id]
    done = wait_for_instance(instance_id)
    assert done.status == "completed"
    assert done.output["first"] == {"s": "first"} and done.output["second"] == {"s": "second"}


def test_a_batch_costs_the_same_number_of_statements_whatever_its_size(api):
    publish(api, STARTER)
    publish(api, STEPPER)
    waiting = [start(api, "batch-stepper", {"orderid": f"q-{n}"}).json()["id"] for n in range(40)]
    for instance_id in waiting:
        wait_until_waiting(instance_id)

    def batch(numbers):
        return [
            event("batch.go", "/batch", {"n": n})
            if n % 2
            else event("batch.step", "/batch", {"n": n}, orderid=f"q-{n}")
            for n in numbers
        ]

    with CaptureQueriesContext(connection) as small:
        outcomes = _route(batch(range(4)))
    with CaptureQueriesContext(connection) as large:
        outcomes += _route(batch(range(4, 40)))

    # Routing, the starts and the signals after the commit included.
    assert len(large.captured_queries) == len(small.captured_queries), [
        q["sql"][:120] for q in large.captured_queries
    ]
    assert all(not isinstance(o, ServiceError) for o in outcomes)
    assert sum(len(o.started) for o in outcomes) == 20
    assert sum(len(o.delivered) for o in outcomes) == 20
    for instance_id in waiting[::2]:
        wait_for_instance(instance_id, statuses=("waiting",))
        assert EventDelivery.objects.get(instance_id=instance_id).status == "signalled"


def test_an_event_only_a_refused_trigger_matched_is_kept_for_later_waits(api):
    from apps.workflows.models import EventTrigger
    from apps.workflows.services.triggers import do_save_trigger

    do_save_trigger(
        EventTrigger(
            name="failing-condition",
            event_type="batch.audit",
            action=EventTrigger.Action.REPUBLISH,
            topic="xflow-test.audit-copies",
            condition='error("the condition cannot decide")',
        ),
        user=None,
    )
    audit = event("batch.audit", "/batch", {})

    (outcome,) = _route([audit])

    record = InboundEvent.objects.get(event_id=audit["id"])
    assert outcome.started == [] and outcome.delivered == []
    # The trigger took nothing: the event counts as unrouted and waits for a later taker.
    assert record.status == "unrouted" and record.kept_until is not None
    (fired,) = record.result["triggers"]
    assert fired["trigger"] == "failing-condition"
    assert "the condition cannot decide" in fired["refused"]


def test_a_signal_trigger_reaches_an_instance_started_earlier_in_the_same_batch(api):
    from apps.workflows.models import EventTrigger
    from apps.workflows.services.triggers import do_save_trigger

    publish(api, STARTER)
    do_save_trigger(
        EventTrigger(name="notes", event_type="batch.note", action=EventTrigger.Action.SIGNAL),
        user=None,
    )
    go = event("batch.go", "/batch", {"n": 1}, subject="case-1")
    note = event("batch.note", "/crm", {"x": 1}, subject="case-1")

    started, noted = _route([go, note])

    # As if routed one after the other: the note finds the instance the first event started.
    assert noted.delivered == started.started


def test_a_trigger_signal_and_a_wait_keep_the_order_of_the_events(api):
    from apps.workflows.models import EventTrigger
    from apps.workflows.services.triggers import do_save_trigger

    publish(api, STEPPER)
    do_save_trigger(
        EventTrigger(name="steps", event_type="batch.step", action=EventTrigger.Action.SIGNAL),
        user=None,
    )
    instance_id = start(api, "batch-stepper", {"orderid": "o-7"}, businessKey="bk-7").json()["id"]
    wait_until_waiting(instance_id)
    first = event("batch.step", "/batch", {"s": "first"}, orderid="o-7")  # reaches the wait
    second = event("batch.step", "/batch", {"s": "second"}, orderid="o-7", subject="bk-7")

    _route([first, second])

    done = wait_for_instance(instance_id)
    assert done.output["first"] == {"s": "first"} and done.output["second"] == {"s": "second"}


def test_two_bridges_holding_the_same_events_in_another_order_do_not_deadlock():
    import threading

    from django.db import connections

    failures: list[BaseException] = []
    for round_ in range(10):
        events = [event("batch.nobody", "/dup", {"n": n}) for n in range(200)]
        barrier = threading.Barrier(2)

        def run(batch, barrier=barrier):
            try:
                barrier.wait()
                _route(batch)
            except BaseException as exc:  # noqa: BLE001 - reported below
                failures.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=run, args=(b,)) for b in (events, events[::-1])]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert InboundEvent.objects.filter(source="/dup").count() == 200 * (round_ + 1)
    assert failures == []
