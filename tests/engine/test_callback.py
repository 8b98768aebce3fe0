"""Callback state: run the action, then wait for the callback event and merge its payload."""

from .builders import definition


def _doc(**extra):
    state = {
        "name": "CheckCredit",
        "type": "callback",
        "action": {
            "functionRef": {
                "refName": "callCreditCheckMicroservice",
                "arguments": {"customer": "${ .customer }"},
            },
            "actionDataFilter": {"toStateData": "${ .request }"},
        },
        "eventRef": "CreditCheckCompletedEvent",
        "eventDataFilter": {"data": "${ .decision }", "toStateData": "${ .creditCheck }"},
        "timeouts": {"stateExecTimeout": "PT15M"},
        "end": True,
    }
    state.update(extra)
    return definition(
        state,
        functions=[
            {"name": "callCreditCheckMicroservice", "operation": "http://x/api.json#creditCheck"}
        ],
        events=[
            {
                "name": "CreditCheckCompletedEvent",
                "type": "creditCheckCompleteType",
                "source": "creditCheckSource",
                "correlation": [{"contextAttributeName": "customerId"}],
            }
        ],
    )


def test_callback_merges_action_result_then_event_payload(engine):
    # given the credit check service accepts the request
    engine.services.add("creditCheck", {"accepted": True})
    started = engine.start(_doc(), {"customer": {"id": "c1"}})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    # when the decision event arrives
    engine.send_event(
        started,
        {
            "type": "creditCheckCompleteType",
            "source": "creditCheckSource",
            "customerId": "c1",
            "data": {"decision": {"approved": True}},
        },
    )
    # then
    assert engine.result(started) == {
        "customer": {"id": "c1"},
        "request": {"accepted": True},
        "creditCheck": {"approved": True},
    }
    assert engine.recorder.calls[started.instance_id][0].arguments == {"customer": {"id": "c1"}}


def test_callback_event_timeout_moves_on(engine):
    engine.services.add("creditCheck", {"accepted": True})
    out = engine.execute(_doc(timeouts={"eventTimeout": "PT1S"}), {"customer": {"id": "c2"}})
    assert out == {"customer": {"id": "c2"}, "request": {"accepted": True}}


def test_callback_not_received_within_state_exec_timeout_moves_on(engine):
    # spec (Callback State): not received "during this time period" -> transition
    engine.services.add("creditCheck", {"accepted": True})
    out = engine.execute(_doc(timeouts={"stateExecTimeout": "PT1S"}), {"customer": {"id": "c3"}})
    assert out == {"customer": {"id": "c3"}, "request": {"accepted": True}}
