"""Switch state: data conditions (first true wins), default condition, event conditions."""

from .builders import definition

CONSTS = {"AGE": {"MIN_ADULT": 18}}


def _applicant_switch():
    return definition(
        {
            "name": "CheckApplicant",
            "type": "switch",
            "dataConditions": [
                {
                    "name": "adult",
                    "condition": "${ .applicant | .age >= $CONST.AGE.MIN_ADULT }",
                    "transition": "Approve",
                },
                {
                    "name": "teen",
                    "condition": "${ .applicant | .age >= 13 }",
                    "transition": "Reject",
                },
            ],
            "defaultCondition": {"end": True},
        },
        {"name": "Approve", "type": "inject", "data": {"decision": "approved"}, "end": True},
        {"name": "Reject", "type": "inject", "data": {"decision": "rejected"}, "end": True},
        constants=CONSTS,
    )


def test_first_true_condition_wins(engine):
    # given an applicant matching both conditions' thresholds... only the first applies
    out = engine.execute(_applicant_switch(), {"applicant": {"age": 30}})
    # then
    assert out == {"applicant": {"age": 30}, "decision": "approved"}


def test_second_condition(engine):
    assert engine.execute(_applicant_switch(), {"applicant": {"age": 15}})["decision"] == "rejected"


def test_default_condition_end_keeps_the_data(engine):
    assert engine.execute(_applicant_switch(), {"applicant": {"age": 5}}) == {
        "applicant": {"age": 5}
    }


def test_condition_with_end_and_fn_reference(engine):
    # given a condition referencing an expression function, ending the workflow
    doc = definition(
        {
            "name": "S",
            "type": "switch",
            "dataConditions": [{"condition": "${ fn:isAdult }", "end": {"terminate": True}}],
            "defaultCondition": {"transition": "Minor"},
            "stateDataFilter": {"output": "${ {adult: true} }"},
        },
        {"name": "Minor", "type": "inject", "data": {"adult": False}, "end": True},
        functions=[
            {"name": "isAdult", "type": "expression", "operation": ".applicant | .age >= 18"}
        ],
    )
    # when / then: the state's output filter applies before ending
    assert engine.execute(doc, {"applicant": {"age": 20}}) == {"adult": True}
    assert engine.execute(doc, {"applicant": {"age": 10}}) == {"adult": False}


def _visa_switch(timeout="PT1S"):
    return definition(
        {
            "name": "CheckVisaStatus",
            "type": "switch",
            "eventConditions": [
                {
                    "eventRef": "visaApprovedEvent",
                    "transition": "HandleApprovedVisa",
                    "eventDataFilter": {"toStateData": "${ .visa }"},
                },
                {"eventRef": "visaRejectedEvent", "transition": "HandleRejectedVisa"},
            ],
            "timeouts": {"eventTimeout": timeout},
            "defaultCondition": {"transition": "HandleNoVisaDecision"},
        },
        {
            "name": "HandleApprovedVisa",
            "type": "inject",
            "data": {"result": "approved"},
            "end": True,
        },
        {
            "name": "HandleRejectedVisa",
            "type": "inject",
            "data": {"result": "rejected"},
            "end": True,
        },
        {"name": "HandleNoVisaDecision", "type": "inject", "data": {"result": "none"}, "end": True},
        events=[
            {"name": "visaApprovedEvent", "type": "VisaApproved", "source": "visaCheckSource"},
            {"name": "visaRejectedEvent", "type": "VisaRejected", "source": "visaCheckSource"},
        ],
    )


def test_event_condition_takes_the_transition_of_the_event(engine):
    # given an instance waiting on the event-based switch
    started = engine.start(_visa_switch("PT1M"), {"applicant": "a"})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    # when the approval arrives
    engine.send_event(
        started, {"type": "VisaApproved", "source": "visaCheckSource", "data": {"id": 7}}
    )
    # then its data filter merged the payload and its transition was taken
    assert engine.result(started) == {"applicant": "a", "visa": {"id": 7}, "result": "approved"}


def test_event_timeout_takes_the_default_condition(engine):
    assert engine.execute(_visa_switch("PT1S"), {}) == {"result": "none"}


def test_event_timeout_on_the_state_as_in_spec_example_08(engine):
    # given the spec's example puts eventTimeout on the state itself
    doc = _visa_switch()
    state = doc["states"][0]
    del state["timeouts"]
    state["eventTimeout"] = "PT1S"
    # then it is honoured too
    assert engine.execute(doc, {}) == {"result": "none"}
