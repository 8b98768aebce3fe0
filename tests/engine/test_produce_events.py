"""Produced events: end/transition produceEvents and eventRef actions (trigger + result)."""

from .builders import definition, operation

EVENTS = [
    {"name": "provisioningCompleteEvent", "type": "provisioning.complete", "kind": "produced"},
    {
        "name": "MakeVetAppointment",
        "source": "VetServiceSource",
        "type": "events.vet.appointments",
        "kind": "produced",
    },
    {
        "name": "VetAppointmentInfo",
        "source": "VetServiceSource",
        "type": "events.vet.appointments.info",
        "kind": "consumed",
    },
]


def test_end_produce_events_with_data_and_context_attributes(engine):
    # given an end that produces an event from the state data output
    doc = definition(
        {
            "name": "Done",
            "type": "inject",
            "data": {"provisionedOrders": [1, 2], "buyerId": "b7"},
            "end": {
                "produceEvents": [
                    {
                        "eventRef": "provisioningCompleteEvent",
                        "data": "${ .provisionedOrders }",
                        "contextAttributes": [{"buyerId": "${ .buyerId }"}],
                    }
                ]
            },
        },
        events=EVENTS,
    )
    # when
    started = engine.start(doc, {})
    engine.result(started)
    # then one event went to the outbox activity, with a stable dedupe key
    [emitted] = engine.recorder.emitted[started.instance_id]
    assert emitted.event["type"] == "provisioning.complete"
    assert emitted.data == [1, 2]
    assert emitted.context_attributes == {"buyerId": "b7"}
    assert emitted.dedupe_key.endswith(":event:provisioningCompleteEvent:1")


def test_transition_produce_events_before_next_state(engine):
    doc = definition(
        {
            "name": "A",
            "type": "inject",
            "data": {"v": 1},
            "transition": {
                "nextState": "B",
                "produceEvents": [
                    {
                        "eventRef": "provisioningCompleteEvent",
                        "data": {"value": "${ .v }", "fixed": "x"},
                    }
                ],
            },
        },
        {"name": "B", "type": "inject", "data": {"w": 2}, "end": True},
        events=EVENTS,
    )
    started = engine.start(doc, {})
    assert engine.result(started) == {"v": 1, "w": 2}
    assert engine.recorder.emitted[started.instance_id][0].data == {"value": 1, "fixed": "x"}


def test_event_ref_action_waits_for_the_result_event(engine):
    # given the spec's vet appointment example
    doc = definition(
        operation(
            "MakeVetAppointmentState",
            {
                "name": "MakeAppointmentAction",
                "eventRef": {
                    "triggerEventRef": "MakeVetAppointment",
                    "data": "${ .patientInfo }",
                    "resultEventRef": "VetAppointmentInfo",
                },
                "actionDataFilter": {"results": "${ .appointmentInfo }"},
            },
            timeouts={"actionExecTimeout": "PT15M"},
        ),
        events=EVENTS,
    )
    started = engine.start(doc, {"patientInfo": {"name": "Mia", "breed": "German Shepherd"}})
    engine.wait_for(lambda: engine.recorder.emitted[started.instance_id])
    # when the result event arrives
    engine.send_event(
        started,
        {
            "type": "events.vet.appointments.info",
            "source": "VetServiceSource",
            "data": {"appointmentInfo": {"date": "2026-12-01"}},
        },
    )
    # then the trigger carried the patient info and the result merged
    assert engine.result(started) == {
        "patientInfo": {"name": "Mia", "breed": "German Shepherd"},
        "date": "2026-12-01",
    }
    assert engine.recorder.emitted[started.instance_id][0].data == {
        "name": "Mia",
        "breed": "German Shepherd",
    }


def test_event_ref_result_timeout_is_an_error(engine):
    doc = definition(
        operation(
            "Ask",
            {
                "eventRef": {
                    "triggerEventRef": "MakeVetAppointment",
                    "resultEventRef": "VetAppointmentInfo",
                    "resultEventTimeout": "PT1S",
                }
            },
        ),
        events=EVENTS,
    )
    assert engine.failure(doc, {}).type == "Timeout"


def test_async_event_ref_does_not_wait(engine):
    doc = definition(
        operation(
            "Tell",
            {
                "eventRef": {
                    "triggerEventRef": "MakeVetAppointment",
                    "resultEventRef": "VetAppointmentInfo",
                    "invoke": "async",
                }
            },
        ),
        events=EVENTS,
    )
    assert engine.execute(doc, {"a": 1}) == {"a": 1}
