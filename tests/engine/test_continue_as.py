"""end.continueAs: the instance continues as a new execution with the state data (or `data`)."""

from .builders import definition


def _counter(limit):
    # The spec's "Continuing as a new Execution" idea: count, and continue when not done.
    return definition(
        {
            "name": "Count",
            "type": "inject",
            "data": {},
            "stateDataFilter": {"output": "${ .count = .count + 1 }"},
            "transition": "Check",
        },
        {
            "name": "Check",
            "type": "switch",
            "dataConditions": [{"condition": f"${{ .count >= {limit} }}", "end": True}],
            "defaultCondition": {"end": {"continueAs": "counter"}},
        },
        id="counter",
    )


def test_continue_as_same_workflow_keeps_counting(engine):
    # when
    started = engine.start(_counter(3), {"count": 0})
    out = engine.result(started)
    # then three executions ran; the last one's output is the workflow output
    assert out == {"count": 3}
    kinds = [e["kind"] for c in engine.recorder.changes[started.instance_id] for e in c.timeline]
    assert kinds.count("continued_as") == 2


def test_continue_as_other_workflow_with_data(engine):
    # given another definition to continue as, and a data expression
    engine.recorder.definitions["finisher"] = definition(
        {"name": "Finish", "type": "inject", "data": {"finished": True}, "end": True}, id="finisher"
    )
    doc = definition(
        {
            "name": "Start",
            "type": "inject",
            "data": {"big": [1, 2, 3], "keep": "me"},
            "end": {
                "continueAs": {"workflowId": "finisher", "version": "1.0", "data": "${ {keep} }"}
            },
        },
        id="starter",
    )
    # when / then
    assert engine.execute(doc, {}) == {"keep": "me", "finished": True}


def test_long_runs_continue_as_new_at_a_state_boundary(engine, monkeypatch):
    # given a loop of 7 transitions and a run limit of 3 transitions (Temporal's suggestion
    # comes from history size; the limit makes the same path testable)
    from apps.workflows.engine import runner

    monkeypatch.setattr(runner, "MAX_TRANSITIONS_PER_RUN", 3)
    doc = definition(
        {
            "name": "Inc",
            "type": "operation",
            "actions": [{"functionRef": "inc"}],
            "transition": "Loop",
        },
        {
            "name": "Loop",
            "type": "switch",
            "dataConditions": [{"condition": "${ .n < 4 }", "transition": "Inc"}],
            "defaultCondition": {"end": True},
        },
        id="looper",
        functions=[{"name": "inc", "type": "expression", "operation": "{n: (.n + 1)}"}],
    )
    # when
    started = engine.start(doc, {"n": 0})
    out = engine.result(started)
    # then the data and the timeline survived the continue-as-new runs
    assert out == {"n": 4}
    [final] = [c for c in engine.recorder.changes[started.instance_id] if c.status == "completed"]
    kinds = [e["kind"] for e in engine.query(started)["timeline"]]
    assert kinds.count("continued") == 2
    assert final.visited_states[-2:] == ["Inc", "Loop"]
