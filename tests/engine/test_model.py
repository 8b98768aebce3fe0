"""The typed model: shorthand forms the spec allows, defaults, and the parse cache."""

from apps.workflows.dsl.model import (
    CallbackState,
    EventState,
    ForEachState,
    OperationState,
    SwitchState,
    UserTaskState,
    parse_workflow,
)


def _doc(*states, **extra):
    return {"id": "m", "specVersion": "0.8", "states": list(states), **extra}


def test_shorthand_forms():
    wf = parse_workflow(
        _doc(
            {
                "name": "A",
                "type": "operation",
                "actions": [{"functionRef": "f", "subFlowRef": "child"}],
                "transition": "B",
            },
            {"name": "B", "type": "operation", "actions": [], "end": {"continueAs": "other"}},
            start="A",
        )
    )
    a, b = wf.states
    assert isinstance(a, OperationState)
    assert a.transition.next_state == "B" and a.end is None
    assert a.actions[0].function_ref.ref_name == "f" and a.actions[0].function_ref.invoke == "sync"
    assert a.actions[0].sub_flow_ref.workflow_id == "child"
    assert b.end.continue_as.workflow_id == "other"
    assert wf.start_state == "A"


def test_start_defaults_to_the_first_state_and_end_true():
    wf = parse_workflow(_doc({"name": "Only", "type": "inject", "data": {}, "end": True}))
    assert wf.start_state == "Only"
    assert wf.states[0].end.terminate is False


def test_every_state_type_parses():
    wf = parse_workflow(
        _doc(
            {
                "name": "E",
                "type": "event",
                "exclusive": False,
                "onEvents": [{"eventRefs": ["x"]}],
                "end": True,
            },
            {
                "name": "S",
                "type": "switch",
                "eventConditions": [{"eventRef": "x", "end": True}],
                "eventTimeout": "PT1M",
                "defaultCondition": {"transition": "E"},
            },
            {
                "name": "F",
                "type": "foreach",
                "inputCollection": "${ .a }",
                "batchSize": "3",
                "actions": [],
                "end": True,
            },
            {
                "name": "C",
                "type": "callback",
                "action": {"functionRef": "f"},
                "eventRef": "x",
                "end": True,
            },
            {
                "name": "U",
                "type": "usertask",
                "taskKey": "k",
                "outcomes": [{"name": "ok", "transition": "E"}],
                "onTaskTimeout": {"transition": "E"},
                "timeouts": {"taskTimeout": "PT1H"},
                "end": True,
            },
            retries=[{"name": "r", "maxAttempts": "3", "multiplier": "1.5", "jitter": "0.1"}],
            errors=[{"name": "e", "code": 404}],
        )
    )
    e, s, f, c, u = wf.states
    assert isinstance(e, EventState) and e.exclusive is False
    assert isinstance(s, SwitchState) and s.timeouts.event_timeout == "PT1M"
    assert isinstance(f, ForEachState) and f.batch_size == 3 and f.mode == "parallel"
    assert isinstance(c, CallbackState) and c.action.function_ref.ref_name == "f"
    assert isinstance(u, UserTaskState) and u.outcomes[0].transition.next_state == "E"
    assert u.timeouts.task_timeout == "PT1H" and u.on_task_timeout.transition.next_state == "E"
    retry = wf.retries_by_name["r"]
    assert (retry.max_attempts, retry.multiplier, retry.jitter) == (3, 1.5, 0.1)
    assert wf.errors_by_name["e"].code == "404"


def test_on_errors_error_ref_and_error_refs():
    wf = parse_workflow(
        _doc(
            {
                "name": "A",
                "type": "operation",
                "actions": [],
                "end": True,
                "onErrors": [
                    {"errorRef": "x", "end": True},
                    {"errorRefs": ["y", "z"], "transition": "A"},
                ],
            }
        )
    )
    first, second = wf.states[0].on_errors
    assert first.error_refs == ("x",) and first.end is not None
    assert second.error_refs == ("y", "z") and second.transition.next_state == "A"


def test_parsed_definitions_are_cached_by_content():
    doc = _doc({"name": "A", "type": "inject", "data": {}, "end": True})
    same = {"states": doc["states"], "specVersion": "0.8", "id": "m"}  # other key order
    assert parse_workflow(doc) is parse_workflow(same)
    assert parse_workflow(doc).content_hash == parse_workflow(same).content_hash


def test_resources_by_uri_are_refused_with_a_clear_message():
    import pytest

    from apps.workflows.dsl.model import ModelError

    for key in ("functions", "retries", "constants"):
        with pytest.raises(ModelError, match="must be inlined"):
            parse_workflow(
                _doc(
                    {"name": "A", "type": "inject", "data": {}, "end": True},
                    **{key: "file://x.json"},
                )
            )
