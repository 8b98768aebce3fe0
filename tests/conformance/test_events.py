"""Event state, event data filters, correlation, switch event conditions, callback, eventRef."""

from __future__ import annotations

from .conftest import call, expr_fn, inject, operation, wf

SRC = "conformance"


def event_def(name: str, type_: str | None = None, **props) -> dict:
    return {"name": name, "type": type_ or f"org.test.{name.lower()}", "source": SRC, **props}


def ce(type_: str, data, **attrs) -> dict:
    return {"type": type_, "source": attrs.pop("source", SRC), "data": data, **attrs}


def event_state(name: str, on_events: list[dict], **props) -> dict:
    state = {"name": name, "type": "event", "onEvents": on_events, **props}
    if "transition" not in state:
        state.setdefault("end", True)
    return state


# --- Event data filters --------------------------------------------------------------------


def test_whole_event_payload_is_merged_by_default(run):
    # "By default, with no data filters specified, when an event is consumed, its entire data
    # section (payload) should be merged to the state data."
    definition = wf(
        event_state("Wait", [{"eventRefs": ["Arrived"]}]),
        events=[event_def("Arrived", "org.arrived")],
    )
    events = [ce("org.arrived", {"customer": {"name": "Ann"}})]
    assert run(definition, {"x": 1}, events=events) == {"x": 1, "customer": {"name": "Ann"}}


def test_event_data_filter_data_selects_part_of_the_payload(run):
    # "Filter the event payload to select only the data that should be added/merged into the
    # state data using its `data` property."
    definition = wf(
        event_state(
            "Wait",
            [{"eventRefs": ["Arrived"], "eventDataFilter": {"data": "${ .customer }"}}],
        ),
        events=[event_def("Arrived", "org.arrived")],
    )
    events = [ce("org.arrived", {"customer": {"name": "Ann"}, "noise": 1})]
    assert run(definition, {"x": 1}, events=events) == {"x": 1, "name": "Ann"}


def test_event_data_filter_to_state_data(run):
    # "Select the part of state data into which the event payload should be added/merged into
    # using the `toStateData` property."
    definition = wf(
        event_state(
            "Wait",
            [
                {
                    "eventRefs": ["Arrived"],
                    "eventDataFilter": {
                        "data": "${ .customer }",
                        "toStateData": "${ .customerInfo }",
                    },
                }
            ],
        ),
        events=[event_def("Arrived", "org.arrived")],
    )
    events = [ce("org.arrived", {"customer": {"name": "Ann"}})]
    assert run(definition, {"customerInfo": {"id": 1}}, events=events) == {
        "customerInfo": {"id": 1, "name": "Ann"}
    }


def test_event_data_filter_use_data_false(run):
    # "In the case event data/payload should not be added/merged to state data, we can set the
    # `useData` property to `false`. In this case, the `data` and `toStateData` properties
    # should be ignored, and nothing is added/merged to state data."
    definition = wf(
        event_state(
            "Wait",
            [
                {
                    "eventRefs": ["Arrived"],
                    "eventDataFilter": {
                        "useData": False,
                        "data": "${ .customer }",
                        "toStateData": "${ .c }",
                    },
                }
            ],
        ),
        events=[event_def("Arrived", "org.arrived")],
    )
    events = [ce("org.arrived", {"customer": {"name": "Ann"}})]
    assert run(definition, {"x": 1}, events=events) == {"x": 1}


def test_data_only_false_filters_see_context_attributes(run):
    # "If it is set to `false`, the expressions should be evaluated against the entire
    # CloudEvent (including its context attributes)."
    definition = wf(
        event_state(
            "Wait",
            [
                {
                    "eventRefs": ["Reading"],
                    "eventDataFilter": {
                        "data": "${ {patient: .patientId, value: .data.value, type: .type} }"
                    },
                }
            ],
        ),
        events=[event_def("Reading", "org.reading", dataOnly=False)],
    )
    events = [ce("org.reading", {"value": "80bpm"}, patientId="PID-1")]
    assert run(definition, {}, events=events) == {
        "patient": "PID-1",
        "value": "80bpm",
        "type": "org.reading",
    }


def test_data_only_default_true_filters_see_only_the_payload(run):
    # "If this property is not defined (has default value of `true`), Event data filter
    # expressions are evaluated against the event payload (the CloudEvents `data` attribute
    # only)."
    definition = wf(
        event_state(
            "Wait",
            [
                {
                    "eventRefs": ["Reading"],
                    "eventDataFilter": {"data": "${ {value: .value, patient: .patientId} }"},
                }
            ],
        ),
        events=[event_def("Reading", "org.reading")],
    )
    events = [ce("org.reading", {"value": "80bpm"}, patientId="PID-1")]
    assert run(definition, {}, events=events) == {"value": "80bpm", "patient": None}


def greet_customers(run, rest, *, output_filter: bool):
    """Run the GreetCustomersWorkflow of "Using multiple data filters" (verbatim but for the
    function operation, and optionally without its output filter); its output."""
    path = rest.route(
        {
            "execInfo": {"execTime": "10ms", "failures": False},
            "greetingMessageResult": "Hola John Michaels!",
        }
    )
    definition = {
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
                    **({"output": "${ .finalCustomerGreeting }"} if output_filter else {}),
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
        "functions": [rest.function("greetingFunction", path)],
    }
    greetings = {
        "greetings": {
            "hello": {
                "english": "Hello",
                "spanish": "Hola",
                "german": "Hallo",
                "russian": "Здравствуйте",
            },
            "goodbye": {
                "english": "Goodbye",
                "spanish": "Adiós",
                "german": "Auf Wiedersehen",
                "russian": "Прощай",
            },
        }
    }
    event = ce(
        "customer-arrival-type",
        {
            "customer": {
                "name": "John Michaels",
                "address": "111 Some Street, SomeCity, SomeCountry",
                "age": 40,
            }
        },
        source="customer-arrival-event-source",
    )
    output = run(definition, greetings, events=[event])
    # "(3) ... it selects the "hello" property from the current state data" for the arguments
    assert rest.calls(path)[0].body["greeting"] == "Hola"
    return output


def test_using_multiple_data_filters_steps_1_to_3(run, rest):
    # "Using multiple data filters", the state data "At this point" of step (3): greetings
    # selected by the input filter (1), the customer merged at "customerInfo" (2), the greeting
    # result at "finalCustomerGreeting" (3). (The output filter is left out here.)
    output = greet_customers(run, rest, output_filter=False)
    assert output == {
        "hello": {
            "english": "Hello",
            "spanish": "Hola",
            "german": "Hallo",
            "russian": "Здравствуйте",
        },
        "goodbye": {
            "english": "Goodbye",
            "spanish": "Adiós",
            "german": "Auf Wiedersehen",
            "russian": "Прощай",
        },
        "customerInfo": {
            "name": "John Michaels",
            "address": "111 Some Street, SomeCity, SomeCountry",
            "age": 40,
        },
        "finalCustomerGreeting": "Hola John Michaels!",
    }


def test_using_multiple_data_filters_spec_example(run, rest):
    # "(4) ... the states "stateDataFilter" "output" filter expression is executed to filter the
    # state data to create the final state data output." The walk-through prints
    # {"finalCustomerGreeting": "Hola John Michaels!"}, but its filter "${ .finalCustomerGreeting }"
    # selects the string in jq, and examples.md's Event Based Greeting shows the same kind of
    # filter ("${ .payload.greeting }") giving the bare value as the workflow output
    # ("Welcome to Serverless Workflow, John!"). Asserted: the jq value, as example 03 shows.
    output = greet_customers(run, rest, output_filter=True)
    assert output == "Hola John Michaels!"


# --- Event state ------------------------------------------------------------------------------


def test_event_state_actions_run_after_the_event(run):
    # "Event states await one or more events and perform actions when they are received."
    definition = wf(
        event_state(
            "Wait",
            [{"eventRefs": ["Go"], "actions": [call("act")]}],
        ),
        events=[event_def("Go", "org.go")],
        functions=[expr_fn("act", "{acted: .payload}")],
    )
    assert run(definition, {}, events=[ce("org.go", {"payload": "p"})]) == {
        "payload": "p",
        "acted": "p",
    }


def test_exclusive_true_any_event_triggers_its_own_actions(run):
    # "If `exclusive` is set to "true", the consumption of **either** the `HighBodyTemperature`
    # or `HighBloodPressure` events will trigger action execution." -- the MonitorVitals
    # example: each onEvents entry has its own actions.
    definition = wf(
        event_state(
            "MonitorVitals",
            [
                {"eventRefs": ["HighBodyTemperature"], "actions": [call("sendTylenolOrder")]},
                {"eventRefs": ["HighBloodPressure"], "actions": [call("callNurse")]},
            ],
            exclusive=True,
        ),
        events=[
            event_def("HighBodyTemperature", "org.temp"),
            event_def("HighBloodPressure", "org.pressure"),
        ],
        functions=[
            expr_fn("sendTylenolOrder", '{"tylenol": true}'),
            expr_fn("callNurse", '{"nurse": true}'),
        ],
    )
    output = run(definition, {"patientId": "P1"}, events=[ce("org.pressure", {"bp": "180/95"})])
    assert output == {"patientId": "P1", "bp": "180/95", "nurse": True}


def test_exclusive_defaults_to_true(run):
    # exclusive: 'Default is "true"'
    definition = wf(
        event_state("Wait", [{"eventRefs": ["A"]}, {"eventRefs": ["B"]}]),
        events=[event_def("A", "org.a"), event_def("B", "org.b")],
    )
    assert run(definition, {}, events=[ce("org.b", {"b": 1})]) == {"b": 1}


def test_exclusive_false_waits_for_all_events(run, history):
    # "If `exclusive` is set to "false", the consumption of **both** the `HighBodyTemperature`
    # and `HighBloodPressure` events will trigger action execution."
    definition = wf(
        event_state(
            "Wait",
            [{"eventRefs": ["A", "B"], "actions": [call("act")]}],
            exclusive=False,
        ),
        events=[event_def("A", "org.a"), event_def("B", "org.b")],
        functions=[expr_fn("act", "{both: (.a + .b)}")],
    )
    events = [ce("org.a", {"a": 1}), (1.5, ce("org.b", {"b": 2}))]
    output = run(definition, {}, events=events)
    # the action saw both events' data: it ran only once the second had arrived
    assert output == {"a": 1, "b": 2, "both": 3}
    h = history()
    assert len(h.signals) == 2 and h.closed > max(h.signals)


def test_exclusive_false_across_on_events_entries(run):
    # "If "false", all of the defined events must be consumed in order for actions to be
    # performed."
    definition = wf(
        event_state(
            "Wait",
            [
                {"eventRefs": ["A"], "actions": [call("actA")]},
                {"eventRefs": ["B"], "actions": [call("actB")]},
            ],
            exclusive=False,
        ),
        events=[event_def("A", "org.a"), event_def("B", "org.b")],
        functions=[expr_fn("actA", '{"didA": true}'), expr_fn("actB", '{"didB": true}')],
    )
    events = [ce("org.b", {"b": 2}), (1.0, ce("org.a", {"a": 1}))]
    assert run(definition, {}, events=events) == {
        "a": 1,
        "b": 2,
        "didA": True,
        "didB": True,
    }


def test_event_of_another_source_is_not_consumed(run):
    # "The `source` property matches this event definition with the source property of the
    # CloudEvent required attributes."
    definition = wf(
        event_state("Wait", [{"eventRefs": ["A"]}]),
        events=[event_def("A", "org.a")],
    )
    events = [
        ce("org.a", {"from": "elsewhere"}, source="elsewhere"),
        (1.0, ce("org.a", {"from": "right"})),
    ]
    assert run(definition, {}, events=events) == {"from": "right"}


def test_event_state_after_another_state(run):
    # An event state that is not the start state waits for its event once active.
    definition = wf(
        inject("First", {"first": True}, transition="Wait"),
        event_state("Wait", [{"eventRefs": ["A"]}]),
        events=[event_def("A", "org.a")],
    )
    assert run(definition, {}, events=[(1.0, ce("org.a", {"a": 1}))]) == {
        "first": True,
        "a": 1,
    }


def test_event_state_event_timeout_moves_on_without_actions(run, history):
    # "If the event state is not a workflow starting state, the `eventTimeout` property is
    # relative to the time when the state becomes active. If the defined event conditions ...
    # are not satisfied within the defined timeout period, the event state should transition
    # to the next state or end the workflow instance in case it is an end state without
    # performing any actions."
    definition = wf(
        inject("First", {"first": True}, transition="Wait"),
        event_state(
            "Wait",
            [{"eventRefs": ["A"], "actions": [call("act")]}],
            timeouts={"eventTimeout": "PT1S"},
            transition="After",
        ),
        inject("After", {"after": True}),
        events=[event_def("A", "org.a")],
        functions=[expr_fn("act", '{"acted": true}')],
    )
    assert run(definition, {}) == {"first": True, "after": True}
    # it moved on because its 1s event timeout fired, with no event received
    h = history()
    assert h.timer(1).outcome == "fired"
    assert h.signals == []


def test_top_level_event_timeout_is_the_default(run):
    # "eventTimeout: Default timeout for consuming defined events" (workflow timeouts), which
    # states inherit when they do not define their own.
    definition = wf(
        inject("First", {}, transition="Wait"),
        event_state("Wait", [{"eventRefs": ["A"]}], transition="After"),
        inject("After", {"after": True}),
        events=[event_def("A", "org.a")],
        timeouts={"eventTimeout": "PT1S"},
    )
    assert run(definition, {}) == {"after": True}


# --- Correlation ------------------------------------------------------------------------------


def test_correlation_context_attribute_value_must_match(run):
    # "The second rule says that these events must all have a context attribute named
    # "department" with the value of "UrgentCare"."
    definition = wf(
        event_state("Wait", [{"eventRefs": ["Reading"]}]),
        events=[
            event_def(
                "Reading",
                "org.reading",
                correlation=[
                    {"contextAttributeName": "department", "contextAttributeValue": "UrgentCare"}
                ],
            )
        ],
    )
    events = [
        ce("org.reading", {"value": "other"}, department="Cardiology"),
        (1.0, ce("org.reading", {"value": "urgent"}, department="UrgentCare")),
    ]
    assert run(definition, {}, events=events) == {"value": "urgent"}


def test_correlation_same_attribute_value_across_events(run):
    # "all other consumed events from the defined source and with the defined type that have
    # the same "patientId" as the event that triggered the workflow instance should then also
    # be associated with the same instance."
    definition = wf(
        event_state(
            "Both",
            [{"eventRefs": ["Heart", "Pressure"]}],
            exclusive=False,
        ),
        events=[
            event_def("Heart", "org.heart", correlation=[{"contextAttributeName": "patientId"}]),
            event_def(
                "Pressure", "org.pressure", correlation=[{"contextAttributeName": "patientId"}]
            ),
        ],
    )
    events = [
        ce("org.heart", {"heart": "80bpm"}, patientId="PID-1"),
        (0.5, ce("org.pressure", {"pressure": "wrong patient"}, patientId="PID-2")),
        (1.5, ce("org.pressure", {"pressure": "110/70"}, patientId="PID-1")),
    ]
    assert run(definition, {}, events=events) == {"heart": "80bpm", "pressure": "110/70"}


# --- Switch event conditions -----------------------------------------------------------------


def visa_switch(**extra) -> dict:
    return wf(
        {
            "name": "CheckVisaStatus",
            "type": "switch",
            "eventConditions": [
                {"eventRef": "visaApprovedEvent", "transition": "HandleApprovedVisa", **extra},
                {"eventRef": "visaRejectedEvent", "transition": "HandleRejectedVisa"},
            ],
            "timeouts": {"eventTimeout": "PT1S"},
            "defaultCondition": {"transition": "HandleNoVisaDecision"},
        },
        inject("HandleApprovedVisa", {"visa": "approved"}),
        inject("HandleRejectedVisa", {"visa": "rejected"}),
        inject("HandleNoVisaDecision", {"visa": "undecided"}),
        events=[
            event_def("visaApprovedEvent", "org.visa.approved"),
            event_def("visaRejectedEvent", "org.visa.rejected"),
        ],
    )


def test_switch_event_condition_takes_the_arrived_event_transition(run):
    # "Upon arrival of this event, the associated transition is taken." and the event payload
    # is merged (consumed event data is merged to state data).
    output = run(visa_switch(), {"id": 1}, events=[ce("org.visa.rejected", {"reason": "late"})])
    assert output == {"id": 1, "reason": "late", "visa": "rejected"}


def test_switch_event_condition_event_data_filter(run):
    # "The `eventDataFilter` property can be used to filter event data when it is received."
    definition = visa_switch(eventDataFilter={"data": "${ {by: .officer} }"})
    events = [ce("org.visa.approved", {"officer": "K", "noise": 1})]
    assert run(definition, {"id": 1}, events=events) == {"id": 1, "by": "K", "visa": "approved"}


def test_switch_event_timeout_takes_the_default_condition(run):
    # "If events defined in event-based conditions do not arrive before the states
    # `eventTimeout` property expires, state transitions are based on the defined
    # `defaultCondition` property."
    assert run(visa_switch(), {"id": 1}) == {"id": 1, "visa": "undecided"}


# --- Callback state ---------------------------------------------------------------------------


def callback(**extra) -> dict:
    state = {
        "name": "CheckCredit",
        "type": "callback",
        "action": call("callCreditCheckMicroservice", {"customer": "${ .customer }"}),
        "eventRef": "CreditCheckCompletedEvent",
        "transition": "EvaluateDecision",
        **extra,
    }
    return state


def callback_workflow(rest, **extra):
    path = rest.route({"requested": True})
    definition = wf(
        callback(**extra),
        inject("EvaluateDecision", {"evaluated": True}),
        functions=[rest.function("callCreditCheckMicroservice", path)],
        events=[event_def("CreditCheckCompletedEvent", "org.credit.done")],
    )
    return definition, path


def test_callback_runs_the_action_then_merges_the_callback_event(run, rest):
    # "Once the action executes, the callback state will wait for a CloudEvent ... The callback
    # event payload is merged with the Callback state data"
    definition, path = callback_workflow(rest)
    events = [(1.0, ce("org.credit.done", {"decision": "Approved"}))]
    output = run(definition, {"customer": "c1"}, events=events)
    assert output == {
        "customer": "c1",
        "requested": True,
        "decision": "Approved",
        "evaluated": True,
    }
    assert rest.calls(path)[0].body == {"customer": "c1"}


def test_callback_event_data_filter(run, rest):
    # "... and can be filtered via the "eventDataFilter" definition."
    definition, _ = callback_workflow(
        rest, eventDataFilter={"data": "${ .decision }", "toStateData": "${ .credit }"}
    )
    events = [(0.5, ce("org.credit.done", {"decision": "Denied", "noise": 1}))]
    assert run(definition, {"customer": "c1"}, events=events) == {
        "customer": "c1",
        "requested": True,
        "credit": "Denied",
        "evaluated": True,
    }


def test_callback_event_timeout_transitions(run, rest):
    # "If the defined callback event has not been received during this time period, the state
    # should transition to the next state or end workflow execution if it is an end state."
    definition, _ = callback_workflow(rest, timeouts={"eventTimeout": "PT1S"})
    output = run(definition, {"customer": "c1"})
    assert output == {"customer": "c1", "requested": True, "evaluated": True}


# --- eventRef actions -------------------------------------------------------------------------


def vet_workflow(**event_ref) -> dict:
    return wf(
        operation(
            "MakeAppointment",
            {
                "eventRef": {
                    "triggerEventRef": "MakeVetAppointment",
                    "data": "${ .patientInfo }",
                    "resultEventRef": "VetAppointmentInfo",
                    **event_ref,
                },
                "actionDataFilter": {"toStateData": "${ .appointmentInfo }"},
            },
        ),
        events=[
            {"name": "MakeVetAppointment", "type": "org.vet.make", "kind": "produced"},
            event_def("VetAppointmentInfo", "org.vet.info"),
        ],
    )


def test_event_ref_action_result_is_the_result_event_payload(run):
    # EventRef: "References a `produced` and `consumed` event definitions via the
    # "triggerEventRef" and `resultEventRef` properties" -- the result event's payload is the
    # action result (filtered by the actionDataFilter).
    definition = vet_workflow()
    events = [(1.0, ce("org.vet.info", {"time": "10:00"}))]
    assert run(definition, {"patientInfo": {"name": "Rex"}}, events=events) == {
        "patientInfo": {"name": "Rex"},
        "appointmentInfo": {"time": "10:00"},
    }


def test_event_ref_result_event_timeout_raises_a_handleable_error(run):
    # "If the event defined by the `resultEventRef` property is not received in that set time,
    # action invocation should raise an error that can be handled in the states `onErrors`
    # definition." (The error's code is runtime-specific: xflow's is "Timeout".)
    definition = vet_workflow(resultEventTimeout="PT1S")
    state = definition["states"][0]
    state["onErrors"] = [{"errorRef": "No appointment", "transition": "NoAppointment"}]
    state.pop("end")
    state["transition"] = "Done"
    definition["states"] += [inject("NoAppointment", {"booked": False}), inject("Done", {})]
    definition["errors"] = [{"name": "No appointment", "code": "Timeout"}]
    assert run(definition, {"patientInfo": {"name": "Rex"}}) == {
        "patientInfo": {"name": "Rex"},
        "booked": False,
    }


def test_event_ref_async_does_not_wait_for_the_result(run):
    # "If set to `async`, workflow execution should just produce the trigger event and should
    # not wait for the result event. Note that in this case the action does not produce any
    # results"
    definition = vet_workflow(invoke="async")
    assert run(definition, {"patientInfo": {"name": "Rex"}}, timeout=15) == {
        "patientInfo": {"name": "Rex"}
    }


def test_exclusive_on_events_with_several_event_refs(run):
    # "If `exclusive` is set to "true", the consumption of **either** the `HighBodyTemperature`
    # or `HighBloodPressure` events will trigger action execution."
    definition = wf(
        event_state(
            "Wait",
            [
                {
                    "eventRefs": ["HighBodyTemperature", "HighBloodPressure"],
                    "actions": [call("SendTylenolOrder"), call("CallNurse")],
                }
            ],
            exclusive=True,
        ),
        events=[
            event_def("HighBodyTemperature", "org.temp"),
            event_def("HighBloodPressure", "org.pressure"),
        ],
        functions=[
            expr_fn("SendTylenolOrder", '{"tylenol": true}'),
            expr_fn("CallNurse", '{"nurse": true}'),
        ],
    )
    events = [ce("org.temp", {"temp": 40})]
    assert run(definition, {}, events=events) == {"temp": 40, "tylenol": True, "nurse": True}


def test_event_without_data_merges_nothing(run):
    # "event payload, if available, should be added/merged to state data"
    definition = wf(
        event_state("Wait", [{"eventRefs": ["A"]}]),
        events=[event_def("A", "org.a")],
    )
    event = {"type": "org.a", "source": SRC}
    assert run(definition, {"x": 1}, events=[event]) == {"x": 1}


def test_event_ref_result_timeout_defaults_to_action_exec_timeout(run, history):
    # resultEventTimeout: "If not defined it should default to the actionExecutionTimeout"; "If
    # the event ... is not received in that set time, action invocation should raise an error
    # that can be handled in the states `onErrors` definition." (code: xflow's "Timeout")
    definition = vet_workflow()
    state = definition["states"][0]
    state["timeouts"] = {"actionExecTimeout": "PT1S"}
    state["onErrors"] = [{"errorRef": "No appointment", "transition": "NoAppointment"}]
    state.pop("end")
    state["transition"] = "Done"
    definition["states"] += [inject("NoAppointment", {"booked": False}), inject("Done", {})]
    definition["errors"] = [{"name": "No appointment", "code": "Timeout"}]
    output = run(definition, {"patientInfo": {"name": "Rex"}})
    assert output == {"patientInfo": {"name": "Rex"}, "booked": False}
    # the wait for the result event was bounded by the 1s actionExecTimeout, which fired
    first = min((t for t in history().timers if t.seconds == 1), key=lambda t: t.started)
    assert first.outcome == "fired"


def test_event_state_data_filters_of_each_event_with_exclusive_false(run):
    # Each onEvents entry's eventDataFilter applies to its own events.
    definition = wf(
        event_state(
            "Both",
            [
                {"eventRefs": ["A"], "eventDataFilter": {"toStateData": "${ .fromA }"}},
                {"eventRefs": ["B"], "eventDataFilter": {"data": "${ .v }"}},
            ],
            exclusive=False,
        ),
        events=[event_def("A", "org.a"), event_def("B", "org.b")],
    )
    events = [ce("org.a", {"v": 1}), (0.5, ce("org.b", {"v": {"b": 2}}))]
    assert run(definition, {}, events=events) == {"fromA": {"v": 1}, "b": 2}


def test_start_event_state_exclusive_ignores_event_timeout(run):
    # Event Timeout Definition: "If the Event state is a workflow starting state, incoming
    # events may trigger workflow instances. In this case, if the `exclusive` property is set
    # to true, the `eventTimeout` property should be ignored."
    definition = wf(
        event_state("Start", [{"eventRefs": ["A"]}], timeouts={"eventTimeout": "PT1S"}),
        events=[event_def("A", "org.a")],
    )
    events = [(2.0, ce("org.a", {"late": True}))]
    assert run(definition, {}, events=events) == {"late": True}


def test_correlation_value_as_expression(run):
    # "Event correlation can be based on equality ..., but it can also be based on comparing
    # it to custom defined values (string, or expression)."
    definition = wf(
        inject("First", {}, transition="Wait"),
        event_state("Wait", [{"eventRefs": ["Reading"]}]),
        events=[
            event_def(
                "Reading",
                "org.reading",
                correlation=[
                    {"contextAttributeName": "patientid", "contextAttributeValue": "${ .patient }"}
                ],
            )
        ],
    )
    events = [
        ce("org.reading", {"value": "other"}, patientid="P-2"),
        (1.0, ce("org.reading", {"value": "mine"}, patientid="P-1")),
    ]
    assert run(definition, {"patient": "P-1"}, events=events) == {"patient": "P-1", "value": "mine"}


def test_event_missing_the_correlation_attribute_is_not_consumed(run):
    # "these events must all have a context attribute named "department" with the value of
    # "UrgentCare"" -- an event without the attribute does not match.
    definition = wf(
        event_state("Wait", [{"eventRefs": ["Reading"]}]),
        events=[
            event_def(
                "Reading",
                "org.reading",
                correlation=[
                    {"contextAttributeName": "department", "contextAttributeValue": "UrgentCare"}
                ],
            )
        ],
    )
    events = [
        ce("org.reading", {"value": "no attribute"}),
        (1.0, ce("org.reading", {"value": "urgent"}, department="UrgentCare")),
    ]
    assert run(definition, {}, events=events) == {"value": "urgent"}


def test_data_only_false_without_filter_merges_the_data_section(run):
    # Data Merging: "By default, with no data filters specified, when an event is consumed, its
    # entire data section (payload) should be merged to the state data." dataOnly false makes
    # the context attributes "accessible" to filters; with no filter the data section is what
    # merges. (Ambiguous: "accessible" could also mean merged; asserted: the literal sentence.)
    definition = wf(
        event_state("Wait", [{"eventRefs": ["Reading"]}]),
        events=[event_def("Reading", "org.reading", dataOnly=False)],
    )
    events = [ce("org.reading", {"value": "80bpm"}, patientId="PID-1")]
    assert run(definition, {"x": 1}, events=events) == {"x": 1, "value": "80bpm"}


def test_callback_not_received_within_state_exec_timeout_transitions(run, rest):
    # Callback State (its example sets "timeouts": {"stateExecTimeout": "PT15M"}): "If the
    # defined callback event has not been received during this time period, the state should
    # transition to the next state or end workflow execution if it is an end state."
    # (Ambiguous: "this time period" may mean eventTimeout; asserted: the example's timeout.)
    definition, _ = callback_workflow(rest, timeouts={"stateExecTimeout": "PT1S"})
    output = run(definition, {"customer": "c1"})
    assert output == {"customer": "c1", "requested": True, "evaluated": True}


def test_a_consumed_event_is_not_consumed_again_by_the_next_state(run):
    # Each event state consumes its own event occurrence: the second state waits for a new one.
    definition = wf(
        event_state(
            "First",
            [{"eventRefs": ["E"], "eventDataFilter": {"toStateData": "${ .first }"}}],
            transition="Second",
        ),
        event_state(
            "Second", [{"eventRefs": ["E"], "eventDataFilter": {"toStateData": "${ .second }"}}]
        ),
        events=[event_def("E", "org.e")],
    )
    events = [ce("org.e", {"v": 1}), (1.0, ce("org.e", {"v": 2}))]
    assert run(definition, {}, events=events) == {"first": {"v": 1}, "second": {"v": 2}}


def test_exclusive_false_timeout_with_one_event_missing_runs_no_actions(run):
    # "If the defined event conditions (regardless of the value of the exclusive property) are
    # not satisfied within the defined timeout period, the event state should transition to
    # the next state ... without performing any actions."
    definition = wf(
        inject("First", {}, transition="Wait"),
        event_state(
            "Wait",
            [{"eventRefs": ["A", "B"], "actions": [call("act")]}],
            exclusive=False,
            timeouts={"eventTimeout": "PT1S"},
            transition="After",
        ),
        inject("After", {"after": True}),
        events=[event_def("A", "org.a"), event_def("B", "org.b")],
        functions=[expr_fn("act", '{"acted": true}')],
    )
    output = run(definition, {}, events=[ce("org.a", {"a": 1})])
    assert output["after"] is True
    assert "acted" not in output


def test_switch_event_conditions_with_state_data_filter_output(run):
    # The switch's stateDataFilter output applies after the event data is merged.
    definition = wf(
        {
            "name": "S",
            "type": "switch",
            "eventConditions": [{"eventRef": "E", "transition": "Next"}],
            "defaultCondition": {"transition": "Next"},
            "timeouts": {"eventTimeout": "PT5S"},
            "stateDataFilter": {"output": "${ {got: .v} }"},
        },
        inject("Next", {"next": True}),
        events=[event_def("E", "org.e")],
    )
    assert run(definition, {"x": 1}, events=[ce("org.e", {"v": 7})]) == {"got": 7, "next": True}


def test_start_event_state_exclusive_false_event_timeout_is_time_between_events(run):
    # "If the `exclusive` property is set to false, in this case, the defined `eventTimeout`
    # represents the time between arrival of specified events. ... The first `eventTimeout`
    # would start once any of the referenced events are consumed." -- A at 1.5s, B at 3s:
    # 1.5s apart, within the 2s eventTimeout (though 3s after the instance started).
    definition = wf(
        event_state(
            "ExampleEventState",
            [{"eventRefs": ["ExampleEvent1", "ExampleEvent2"], "actions": [call("act")]}],
            exclusive=False,
            timeouts={"eventTimeout": "PT2S"},
            end={"terminate": True},
        ),
        events=[event_def("ExampleEvent1", "org.one"), event_def("ExampleEvent2", "org.two")],
        functions=[expr_fn("act", '{"acted": true}')],
    )
    events = [(1.5, ce("org.one", {"one": 1})), (3.0, ce("org.two", {"two": 2}))]
    assert run(definition, {}, events=events) == {"one": 1, "two": 2, "acted": True}
