"""Parallel state: allOf merges every branch, atLeast cancels the rest, branch errors."""

from .builders import definition


def _branch(name, op):
    return {"name": name, "actions": [{"functionRef": op}]}


def _doc(branches, **extra):
    state = {"name": "Par", "type": "parallel", "branches": branches, "end": True}
    state.update(extra)
    return definition(
        state,
        {"name": "Recover", "type": "inject", "data": {"recovered": True}, "end": True},
        functions=[
            {"name": "fast", "type": "expression", "operation": '{fast: true, tags: ["f"]}'},
            {"name": "fast2", "type": "expression", "operation": '{fast2: true, tags: ["g"]}'},
            {"name": "slow", "operation": "http://x/api.json#slowOp"},
            {"name": "fail", "operation": "http://x/api.json#failOp"},
        ],
        errors=[{"name": "Broken", "code": "500"}],
    )


def test_all_of_merges_every_branch_output(engine):
    # given two branches each adding to the same copy of the state data
    out = engine.execute(_doc([_branch("A", "fast"), _branch("B", "fast2")]), {"tags": ["start"]})
    # then outputs merge in branch order (arrays keep unique elements)
    assert out == {"tags": ["start", "f", "g"], "fast": True, "fast2": True}


def test_at_least_completes_without_the_slow_branch(engine):
    # given a slow branch that would take 30 s and numCompleted 2
    import time

    engine.services.add("slowOp", lambda args, req: (time.sleep(30), (200, {"slow": True}))[1])
    doc = _doc(
        [_branch("A", "fast"), _branch("S", "slow"), _branch("B", "fast2")],
        completionType="atLeast",
        numCompleted="2",
    )
    # when
    out = engine.execute(
        doc,
        {},
    )
    # then only the two completed branches were merged
    assert out == {"fast": True, "fast2": True, "tags": ["f", "g"]}


def test_branch_error_is_handled_by_the_state(engine):
    engine.services.add("failOp", lambda args, req: (500, {"error": "boom"}))
    doc = _doc(
        [_branch("A", "fast"), _branch("F", "fail")],
        onErrors=[{"errorRef": "Broken", "transition": "Recover"}],
    )
    doc["states"][0].pop("end")
    assert engine.execute(doc, {"x": 1}) == {"x": 1, "recovered": True}


def test_branch_exec_timeout(engine):
    import time

    engine.services.add("slowOp", lambda args, req: (time.sleep(5), (200, {"slow": True}))[1])
    doc = _doc(
        [_branch("S", "slow")],
        timeouts={"branchExecTimeout": "PT1S"},
        onErrors=[{"errorRef": "timeout", "transition": "Recover"}],
    )
    doc["states"][0].pop("end")
    doc["errors"].append({"name": "timeout", "code": "Timeout"})
    assert engine.execute(doc, {}) == {"recovered": True}


def test_a_later_branch_does_not_undo_an_earlier_branch_result(engine):
    # given branch A changes x and branch B only reads it
    doc = _doc([_branch("A", "change"), _branch("B", "fast2")])
    doc["functions"].append({"name": "change", "type": "expression", "operation": '{x: "changed"}'})
    # then the action results are what merges, not B's untouched copy of the input
    assert engine.execute(doc, {"x": "original"}) == {"x": "changed", "fast2": True, "tags": ["g"]}
