"""Event state: exclusive and non-exclusive, correlation, event data filters, timeouts."""

from .builders import definition

EVENTS = [
    {
        "name": "HighTemp",
        "type": "vitals.temperature",
        "source": "monitor",
        "correlation": [{"contextAttributeName": "patientid"}],
    },
    {
        "name": "HighPressure",
        "type": "vitals.pressure",
        "source": "monitor",
        "correlation": [{"contextAttributeName": "patientid"}],
    },
    {"name": "Full", "type": "vitals.full", "source": "monitor", "dataOnly": False},
]


def _event_state(**extra):
    state = {
        "name": "Monitor",
        "type": "event",
        "onEvents": [
            {"eventRefs": ["HighTemp"], "actions": [{"functionRef": "tempAction"}]},
            {"eventRefs": ["HighPressure"], "actions": [{"functionRef": "pressureAction"}]},
        ],
        "end": True,
    }
    state.update(extra)
    return definition(
        state,
        events=EVENTS,
        functions=[
            {"name": "tempAction", "type": "expression", "operation": '{handled: "temp"}'},
            {"name": "pressureAction", "type": "expression", "operation": '{handled: "pressure"}'},
        ],
    )


def test_exclusive_event_state_runs_the_actions_of_the_event_that_came(engine):
    # given an instance waiting in an exclusive event state
    started = engine.start(_event_state(), {"patient": "p1"})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    # when the pressure event arrives
    engine.send_event(
        started,
        {"type": "vitals.pressure", "source": "monitor", "patientid": "p1", "data": {"value": 180}},
    )
    # then its payload is merged and only its actions ran
    assert engine.result(started) == {"patient": "p1", "value": 180, "handled": "pressure"}
    wait = engine.recorder.waits[started.instance_id][0]
    assert {e["type"] for e in wait.events} == {"vitals.temperature", "vitals.pressure"}
    assert engine.recorder.cleared[started.instance_id][0].wait_id == wait.wait_id


def test_non_exclusive_event_state_waits_for_all_correlated_events(engine):
    # given a non-exclusive state; the first event fixes the correlation value
    started = engine.start(_event_state(exclusive=False), {})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    # when a temperature event for p1, one for another patient, then pressure for p1 arrive
    engine.send_event(
        started,
        {"type": "vitals.temperature", "source": "monitor", "patientid": "p1", "data": {"t": 39}},
    )
    engine.send_event(
        started,
        {"type": "vitals.pressure", "source": "monitor", "patientid": "p2", "data": {"p": 1}},
    )
    engine.send_event(
        started,
        {"type": "vitals.pressure", "source": "monitor", "patientid": "p1", "data": {"p": 180}},
    )
    # then both p1 payloads merged and both action sets ran (onEvents order)
    assert engine.result(started) == {"t": 39, "p": 180, "handled": "pressure"}


def test_event_sent_with_start_is_consumed_by_the_start_state(engine):
    # given the event arrives with the start (signal-with-start, as the bridge does)
    doc = _event_state()
    # when
    out = engine.execute(
        doc,
        {},
        events=[
            {
                "id": "e1",
                "type": "vitals.temperature",
                "source": "monitor",
                "patientid": "p9",
                "data": {"t": 40},
            }
        ],
    )
    # then no wait was registered: the buffered event satisfied the state at once
    assert out == {"t": 40, "handled": "temp"}


def test_event_with_wrong_source_is_not_consumed(engine):
    # given
    started = engine.start(_event_state(), {})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    # when an event of the right type but another source, then the right one, arrive
    engine.send_event(
        started,
        {"type": "vitals.temperature", "source": "elsewhere", "patientid": "p1", "data": {"t": 1}},
    )
    engine.send_event(
        started,
        {"type": "vitals.temperature", "source": "monitor", "patientid": "p1", "data": {"t": 2}},
    )
    # then
    assert engine.result(started) == {"t": 2, "handled": "temp"}


def test_event_data_filter_data_and_to_state_data(engine):
    # given the spec's "Using multiple data filters" example, with a stubbed greeting function
    # (the function returns what the spec assumes it returns)
    engine.services.add(
        "greeting",
        {
            "execInfo": {"execTime": "10ms", "failures": False},
            "greetingMessageResult": "Hola John Michaels!",
        },
    )
    doc = {
        "id": "GreetCustomersWorkflow",
        "name": "Greet Customers when they arrive",
        "version": "1.0",
        "specVersion": "0.8",
        "start": "WaitForCustomerToArrive",
        "states": [
            {
                "name": "WaitForCustomerToArrive",
                "type": "event",
                "onEvents": [
                    {
                        "eventRefs": ["CustomerArrivesEvent"],
                        "eventDataFilter": {
                            "data": "${ .customer }",
                            "toStateData": "${ .customerInfo }",
                        },
                        "actions": [
                            {
                                "functionRef": {
                                    "refName": "greetingFunction",
                                    "arguments": {
                                        "greeting": "${ .spanish } ",
                                        "customerName": "${ .customerInfo.name } ",
                                    },
                                },
                                "actionDataFilter": {
                                    "fromStateData": "${ .hello }",
                                    "results": "${ .greetingMessageResult }",
                                    "toStateData": "${ .finalCustomerGreeting }",
                                },
                            }
                        ],
                    }
                ],
                "stateDataFilter": {
                    "input": "${ .greetings } ",
                    "output": "${ .finalCustomerGreeting }",
                },
                "end": True,
            }
        ],
        "events": [
            {
                "name": "CustomerArrivesEvent",
                "type": "customer-arrival-type",
                "source": "customer-arrival-event-source",
            }
        ],
        "functions": [
            {"name": "greetingFunction", "operation": "http://my.api.org/myapi.json#greeting"}
        ],
    }
    data = {
        "greetings": {
            "hello": {"english": "Hello", "spanish": "Hola"},
            "goodbye": {"english": "Goodbye"},
        }
    }
    event = {
        "type": "customer-arrival-type",
        "source": "customer-arrival-event-source",
        "data": {"customer": {"name": "John Michaels", "age": 40}},
    }
    # when
    out = engine.execute(doc, data, events=[event])
    # then the output filter selects the final greeting (spec step 4)
    assert out == "Hola John Michaels!"
    # and the arguments were evaluated over fromStateData (.hello)
    assert engine.services.calls["greeting"][-1]["arguments"]["greeting"] == "Hola"


def test_data_only_false_exposes_context_attributes(engine):
    # given an event definition with dataOnly=false
    doc = definition(
        {
            "name": "Wait",
            "type": "event",
            "onEvents": [
                {
                    "eventRefs": ["Full"],
                    "eventDataFilter": {"data": "${ {kind: .type, payload: .data} }"},
                }
            ],
            "end": True,
        },
        events=EVENTS,
    )
    # when
    out = engine.execute(
        doc, {}, events=[{"type": "vitals.full", "source": "monitor", "data": {"x": 1}}]
    )
    # then
    assert out == {"kind": "vitals.full", "payload": {"x": 1}}


def test_use_data_false_ignores_the_payload(engine):
    doc = definition(
        {
            "name": "Wait",
            "type": "event",
            "onEvents": [{"eventRefs": ["Full"], "eventDataFilter": {"useData": False}}],
            "end": True,
        },
        events=EVENTS,
    )
    assert engine.execute(
        doc, {"keep": 1}, events=[{"type": "vitals.full", "source": "monitor", "data": {"x": 1}}]
    ) == {"keep": 1}


def test_event_timeout_transitions_without_actions(engine):
    # given an event state (not the start state) with a 1 second eventTimeout
    doc = _event_state(timeouts={"eventTimeout": "PT1S"})
    doc["states"].insert(
        0, {"name": "Begin", "type": "inject", "data": {}, "transition": "Monitor"}
    )
    # when no event arrives
    out = engine.execute(doc, {"patient": "p1"})
    # then the state ends without running actions
    assert out == {"patient": "p1"}


def test_correlation_with_context_attribute_value(engine):
    # given a definition correlating on a fixed department value
    events = [
        {
            "name": "Reading",
            "type": "reading",
            "source": "s",
            "correlation": [
                {"contextAttributeName": "department", "contextAttributeValue": "UrgentCare"}
            ],
        }
    ]
    doc = definition(
        {"name": "W", "type": "event", "onEvents": [{"eventRefs": ["Reading"]}], "end": True},
        events=events,
    )
    started = engine.start(doc, {})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    # when a reading of another department, then one of UrgentCare arrive
    engine.send_event(
        started, {"type": "reading", "source": "s", "department": "Other", "data": {"v": 1}}
    )
    engine.send_event(
        started, {"type": "reading", "source": "s", "department": "UrgentCare", "data": {"v": 2}}
    )
    # then
    assert engine.result(started) == {"v": 2}
    assert engine.recorder.waits[started.instance_id][0].events[0]["correlation"] == [
        {"contextAttributeName": "department", "contextAttributeValue": "UrgentCare"}
    ]


def test_duplicate_event_ids_are_delivered_once(engine):
    # given an instance waiting for two readings in sequence
    events = [{"name": "Reading", "type": "reading", "source": "s"}]
    doc = definition(
        {
            "name": "A",
            "type": "event",
            "onEvents": [
                {"eventRefs": ["Reading"], "eventDataFilter": {"toStateData": "${ .first }"}}
            ],
            "transition": "B",
        },
        {
            "name": "B",
            "type": "event",
            "onEvents": [
                {"eventRefs": ["Reading"], "eventDataFilter": {"toStateData": "${ .second }"}}
            ],
            "end": True,
        },
        events=events,
    )
    started = engine.start(doc, {})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    # when the same event (same id and source) is delivered twice, then another one
    dup = {"id": "same", "type": "reading", "source": "s", "data": {"n": 1}}
    engine.send_event(started, dup)
    engine.send_event(started, dup)
    engine.send_event(started, {"type": "reading", "source": "s", "data": {"n": 2}})
    # then
    assert engine.result(started) == {"first": {"n": 1}, "second": {"n": 2}}


def test_status_query_shows_the_waiting_state_and_its_data(engine):
    # given an instance waiting for an event
    started = engine.start(
        _event_state(stateDataFilter={"input": "${ {patient} }"}), {"patient": "p1", "x": 2}
    )
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    # when an operator asks for its status
    status = engine.query(started)
    # then it names the current state, its (filtered) data and the timeline so far
    assert status["status"] == "waiting"
    assert status["current_states"] == ["Monitor"]
    assert status["data"] == {"patient": "p1"}
    assert [e["kind"] for e in status["timeline"]] == ["started", "state", "waiting"]
    engine.send_event(
        started, {"type": "vitals.temperature", "source": "monitor", "patientid": "p1", "data": {}}
    )
    assert engine.result(started) == {"patient": "p1", "handled": "temp"}


def test_without_a_filter_only_the_data_section_merges_even_if_data_only_is_false(engine):
    # spec (Data Merging): by default "its entire data section (payload)" is merged
    doc = definition(
        {"name": "Wait", "type": "event", "onEvents": [{"eventRefs": ["Full"]}], "end": True},
        events=EVENTS,
    )
    event = {"type": "vitals.full", "source": "monitor", "data": {"x": 1}}
    assert engine.execute(doc, {}, events=[event]) == {"x": 1}


def test_start_event_state_exclusive_ignores_event_timeout(engine):
    # spec (Event Timeout Definition): a starting, exclusive event state ignores eventTimeout
    started = engine.start(_event_state(timeouts={"eventTimeout": "PT1S"}), {})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    import time

    time.sleep(1.5)
    engine.send_event(
        started, {"type": "vitals.temperature", "source": "monitor", "patientid": "p", "data": {}}
    )
    assert engine.result(started) == {"handled": "temp"}


def test_start_event_state_not_exclusive_times_from_the_first_event(engine):
    # spec: "The first eventTimeout would start once any of the referenced events are consumed"
    started = engine.start(_event_state(exclusive=False, timeouts={"eventTimeout": "PT1S"}), {})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    engine.send_event(
        started,
        {"type": "vitals.temperature", "source": "monitor", "patientid": "p", "data": {"t": 1}},
    )
    # then the second event never comes within 1 s: the state moves on without actions
    assert engine.result(started) == {}
