"""SubFlowRef actions: child interpreter workflows, sync and async, errors and continueAs."""

import time

from temporalio.client import WorkflowExecutionStatus

from apps.workflows.engine.contracts import workflow_id_for

from .builders import definition, operation

CHILD = definition(
    {
        "name": "Double",
        "type": "operation",
        "actions": [
            {"functionRef": "double", "actionDataFilter": {"toStateData": "${ .doubled }"}}
        ],
        "stateDataFilter": {"output": "${ {doubled} }"},
        "end": True,
    },
    id="doubler",
    functions=[{"name": "double", "type": "expression", "operation": ".value * 2"}],
)
FAILING = definition(
    {
        "name": "Fail",
        "type": "switch",
        "dataConditions": [{"condition": "${ .x.y + 1 }", "end": True}],
        "defaultCondition": {"end": True},
    },
    id="failing",
)
SLOW = definition({"name": "Nap", "type": "sleep", "duration": "PT30S", "end": True}, id="sleeper")


def _register(engine):
    engine.recorder.definitions.update({"doubler": CHILD, "failing": FAILING, "sleeper": SLOW})


def test_sync_subflow_output_is_the_action_result(engine):
    # given a parent calling the doubler with its action data
    _register(engine)
    doc = definition(
        operation(
            "Call",
            {
                "subFlowRef": "doubler",
                "actionDataFilter": {
                    "fromStateData": "${ {value: .n} }",
                    "toStateData": "${ .child }",
                },
            },
        )
    )
    # when
    started = engine.start(doc, {"n": 21})
    # then
    assert engine.result(started) == {"n": 21, "child": {"doubled": 42}}
    assert len(engine.recorder.children[started.instance_id]) == 1


def test_async_subflow_is_not_awaited(engine):
    _register(engine)
    doc = definition(
        operation(
            "Call",
            {
                "subFlowRef": {
                    "workflowId": "sleeper",
                    "invoke": "async",
                    "onParentComplete": "continue",
                }
            },
        )
    )
    assert engine.execute(
        doc,
        {"a": 1},
    ) == {"a": 1}


def test_failed_subflow_error_reaches_on_errors(engine):
    # given a child failing with an expression error, handled by the parent
    _register(engine)
    doc = definition(
        operation(
            "Call",
            {"subFlowRef": {"workflowId": "failing", "version": "1.0"}},
            onErrors=[{"errorRef": "child failed", "transition": "Handle"}],
        ),
        {"name": "Handle", "type": "inject", "data": {"handled": True}, "end": True},
        errors=[{"name": "child failed", "code": "ExpressionError"}],
    )
    doc["states"][0].pop("end")
    assert engine.execute(doc, {"x": {"y": {}}}) == {"x": {"y": {}}, "handled": True}


def test_subflow_continuing_as_new_returns_its_last_output(engine):
    # given a child that continues as new until its counter reaches 2 (spec: ContinueAs in
    # sub workflows: the parent sees one invocation with the last execution's result)
    engine.recorder.definitions["counting-child"] = definition(
        {
            "name": "Inc",
            "type": "inject",
            "data": {},
            "stateDataFilter": {"output": "${ .n += 1 }"},
            "transition": "Check",
        },
        {
            "name": "Check",
            "type": "switch",
            "dataConditions": [{"condition": "${ .n >= 2 }", "end": True}],
            "defaultCondition": {"end": {"continueAs": "counting-child"}},
        },
        id="counting-child",
    )
    doc = definition(
        operation(
            "Call",
            {"subFlowRef": "counting-child", "actionDataFilter": {"toStateData": "${ .child }"}},
        )
    )
    assert engine.execute(doc, {"n": 0}) == {"n": 0, "child": {"n": 2}}


def test_async_subflow_is_terminated_when_the_parent_completes(engine):
    # given an async subflow with the default onParentComplete: terminate
    _register(engine)
    doc = definition(
        operation("Call", {"subFlowRef": {"workflowId": "sleeper", "invoke": "async"}})
    )
    started = engine.start(doc, {})
    engine.result(started)
    [child] = engine.recorder.children[started.instance_id]
    handle = engine.client.get_workflow_handle(workflow_id_for(child))
    # then the 30 s child does not outlive its parent
    for _ in range(100):
        status = engine.run(handle.describe()).status
        if status == WorkflowExecutionStatus.TERMINATED:
            break
        time.sleep(0.1)
    assert status == WorkflowExecutionStatus.TERMINATED
