"""Compensation: completed states with compensatedBy are undone in reverse order."""

from .builders import definition


def _log(name):
    return {"name": name, "type": "expression", "operation": f'{{log: [.log[]?, "{name}"]}}'}


def _step(name, compensated_by=None, **extra):
    state = {"name": name, "type": "operation", "actions": [{"functionRef": f"do{name}"}]}
    if compensated_by:
        state["compensatedBy"] = compensated_by
    state.update(extra)
    return state


def _undo(name, **extra):
    state = {
        "name": name,
        "type": "operation",
        "usedForCompensation": True,
        "actions": [{"functionRef": f"do{name}"}],
    }
    state.update(extra)
    return state


def _doc(end):
    names = ["A", "B", "C", "D", "UndoA", "UndoB1", "UndoB2", "UndoD"]
    return definition(
        _step("A", "UndoA", transition="B"),
        _step("B", "UndoB1", transition="C"),
        _step("C", transition="D"),
        _step("D", "UndoD", end=end),
        _undo("UndoA"),
        _undo("UndoB1", transition="UndoB2"),
        _undo("UndoB2"),
        _undo("UndoD"),
        functions=[_log(f"do{n}") | {"name": f"do{n}"} for n in names],
    )


def test_end_compensate_runs_compensations_in_reverse_order(engine):
    # when the end state asks for compensation
    out = engine.execute(_doc({"compensate": True}), {"log": []})
    # then D, then B (B1 then B2), then A are compensated; C defines none; data flows through
    assert out["log"] == ["doA", "doB", "doC", "doD", "doUndoD", "doUndoB1", "doUndoB2", "doUndoA"]


def test_no_compensation_without_compensate(engine):
    assert engine.execute(_doc(True), {"log": []})["log"] == ["doA", "doB", "doC", "doD"]


def test_transition_compensate_then_continues(engine):
    # given a transition with compensate: true to a final state
    doc = _doc(None)
    doc["states"][3].pop("end")
    doc["states"][3]["transition"] = {"nextState": "Final", "compensate": True}
    doc["states"].append({"name": "Final", "type": "inject", "data": {"final": True}, "end": True})
    # when
    out = engine.execute(doc, {"log": []})
    # then compensation ran before the transition, and each state is compensated once
    assert out["log"][-4:] == ["doUndoD", "doUndoB1", "doUndoB2", "doUndoA"]
    assert out["final"] is True


def test_failed_state_is_not_compensated(engine):
    # given B fails and its error handler ends with compensation
    doc = _doc({"compensate": True})
    doc["functions"] = [f for f in doc["functions"] if f["name"] != "doB"] + [
        {"name": "doB", "operation": "http://x/api.json#missingOperation"}
    ]
    doc["errors"] = [{"name": "NotFound", "code": "404"}]
    doc["states"][1]["onErrors"] = [{"errorRef": "NotFound", "end": {"compensate": True}}]
    # when
    out = engine.execute(doc, {"log": []})
    # then only A (completed) is compensated
    assert out["log"] == ["doA", "doUndoA"]
