"""end.terminate and the instance mirror reports at the end of a run."""

from .builders import definition


def test_terminate_end_stops_with_the_state_output(engine):
    # given a terminate end with an output filter
    doc = definition(
        {
            "name": "Stop",
            "type": "inject",
            "data": {"b": 2},
            "stateDataFilter": {"output": "${ {b} }"},
            "end": {"terminate": True},
        },
    )
    # when
    started = engine.start(doc, {"a": 1})
    # then the output is the filtered state data and the mirror says terminated
    assert engine.result(started) == {"b": 2}
    final = engine.recorder.changes[started.instance_id][-1]
    assert final.status == "terminated" and final.output == {"b": 2}


def test_completed_report_carries_output_timeline_and_visited_states(engine):
    doc = definition(
        {"name": "A", "type": "inject", "data": {"a": 1}, "transition": "B"},
        {"name": "B", "type": "inject", "data": {"b": 1}, "end": True},
    )
    started = engine.start(doc, {})
    engine.result(started)
    # then one report at the end (no waiting happened): cheap on the hot path
    [final] = engine.recorder.changes[started.instance_id]
    assert final.status == "completed"
    assert final.output == {"a": 1, "b": 1}
    assert final.visited_states == ["A", "B"]
    assert [(e["kind"], e["state"]) for e in final.timeline] == [
        ("started", None),
        ("state", "A"),
        ("state", "B"),
        ("completed", None),
    ]
    assert engine.query(started)["status"] == "completed"


def test_no_input_means_an_empty_object(engine):
    doc = definition({"name": "A", "type": "inject", "data": {}, "end": True})
    assert engine.execute(doc, None) == {}
