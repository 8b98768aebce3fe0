"""Replay recorded histories: a code change that would break running instances fails here.

The histories in tests/engine/histories/ were recorded from real runs of the interpreter.
Set XFLOW_RECORD_HISTORIES=1 to record them again (only when a change is meant to be
incompatible, e.g. before any instance runs in production, or with a `workflow.patched` path).
"""

import json
import os
from pathlib import Path

from temporalio.client import WorkflowHistory
from temporalio.worker import Replayer

from apps.workflows.engine.interpreter import interpreter_workflows

from .builders import definition, operation

HISTORIES = Path(__file__).parent / "histories"

KITCHEN_SINK = definition(
    {
        "name": "Init",
        "type": "inject",
        "data": {"items": [1, 2, 3], "tags": []},
        "transition": "Call",
    },
    operation(
        "Call",
        {"functionRef": "sum", "actionDataFilter": {"toStateData": "${ .total }"}},
        {
            "functionRef": {"refName": "lookup", "arguments": {"n": "${ .total }"}},
            "retryRef": "quick",
        },
        transition="Fan",
    ),
    {
        "name": "Fan",
        "type": "parallel",
        "branches": [
            {"name": "A", "actions": [{"functionRef": "tagA"}]},
            {"name": "B", "actions": [{"functionRef": "tagB"}]},
        ],
        "transition": "Each",
    },
    {
        "name": "Each",
        "type": "foreach",
        "inputCollection": "${ .items }",
        "iterationParam": "i",
        "outputCollection": "${ .doubled }",
        "actions": [{"functionRef": "double"}],
        "transition": "Wait",
    },
    {
        "name": "Wait",
        "type": "event",
        "onEvents": [{"eventRefs": ["Go"], "eventDataFilter": {"toStateData": "${ .go }"}}],
        "transition": "Decide",
    },
    {
        "name": "Decide",
        "type": "switch",
        "dataConditions": [{"condition": "${ .go.ok }", "transition": "Nap"}],
        "defaultCondition": {"end": True},
    },
    {
        "name": "Nap",
        "type": "sleep",
        "duration": "PT0.1S",
        "end": {"produceEvents": [{"eventRef": "Done", "data": "${ {total} }"}]},
    },
    id="kitchen-sink",
    functions=[
        {"name": "sum", "type": "expression", "operation": ".items | add"},
        {"name": "lookup", "operation": "http://x/api.json#replayLookup"},
        {"name": "tagA", "type": "expression", "operation": '{tags: ["a"]}'},
        {"name": "tagB", "type": "expression", "operation": '{tags: ["b"]}'},
        {"name": "double", "type": "expression", "operation": ".i * 2"},
    ],
    events=[
        {"name": "Go", "type": "go", "source": "test"},
        {"name": "Done", "type": "done", "kind": "produced"},
    ],
    retries=[{"name": "quick", "delay": "PT0.1S", "maxAttempts": 3}],
    errors=[{"name": "busy", "code": "503"}],
)


def _record(engine, path: Path) -> None:
    attempts = {"n": 0}

    def lookup(args, req):
        attempts["n"] += 1
        return (503, {"busy": True}) if attempts["n"] == 1 else (200, {"found": args["n"]})

    engine.services.add("replayLookup", lookup)
    started = engine.start(KITCHEN_SINK, {})
    engine.wait_for(lambda: engine.recorder.waits[started.instance_id])
    engine.send_event(started, {"type": "go", "source": "test", "data": {"ok": True}})
    out = engine.result(started)
    assert out["found"] == 6 and out["doubled"] == [2, 4, 6]
    history = engine.run(started.handle.fetch_history())
    path.write_text(json.dumps(history.to_json_dict(), indent=1) + "\n")


def test_recorded_histories_replay_with_the_current_interpreter(engine):
    # given the recorded history of a run through most state types (recorded once)
    path = HISTORIES / "kitchen_sink.json"
    if os.environ.get("XFLOW_RECORD_HISTORIES") or not path.exists():
        _record(engine, path)
    # when it is replayed against today's code
    history = WorkflowHistory.from_json("kitchen-sink", json.loads(path.read_text()))
    result = engine.run(
        Replayer(workflows=interpreter_workflows()).replay_workflow(
            history, raise_on_replay_failure=False
        )
    )
    # then no non-determinism error
    assert result.replay_failure is None, result.replay_failure
