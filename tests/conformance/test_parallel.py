"""Parallel state and operation actionMode (spec 0.8 "Parallel State", "Operation State")."""

from __future__ import annotations

from .conftest import call, expr_fn, fail_fn, inject, operation, peak_in_flight, wf


def parallel(name: str, branches: list[dict], **props) -> dict:
    state = {"name": name, "type": "parallel", "branches": branches, **props}
    if "transition" not in state:
        state.setdefault("end", True)
    return state


def branch(name: str, *actions: dict, **props) -> dict:
    return {"name": name, "actions": list(actions), **props}


def test_all_of_merges_every_branch_result(run):
    # "allOf: All branches must complete execution before the state can transition/end." and
    # results are merged into the state data ("action execution results are added/merged to
    # state data").
    definition = wf(
        parallel("P", [branch("B1", call("one")), branch("B2", call("two"))]),
        functions=[expr_fn("one", '{"one": 1}'), expr_fn("two", '{"two": 2}')],
    )
    assert run(definition, {"input": True}) == {"input": True, "one": 1, "two": 2}


def test_completion_type_defaults_to_all_of(run, rest, history):
    # "allOf ... This is the default value in case this parameter is not defined"
    slow = rest.route((200, {"slow": True}, 1.0))
    definition = wf(
        parallel("P", [branch("B1", call("fast")), branch("B2", call("slow"))]),
        functions=[expr_fn("fast", '{"fast": true}'), rest.function("slow", slow)],
    )
    assert run(definition, {}) == {"fast": True, "slow": True}


def test_each_branch_receives_the_same_copy_of_the_input(run, rest, history):
    # "Each branch receives the same copy of the Parallel state's data input."
    path = rest.route((200, {"seen": "b2"}, 0.5))
    definition = wf(
        parallel(
            "P",
            [
                branch("B1", call("change")),
                branch("B2", call("look", {"x": "${ .x }"})),
            ],
        ),
        functions=[expr_fn("change", '{"x": "changed"}'), rest.function("look", path)],
    )
    run(definition, {"x": "original"})
    assert rest.calls(path)[0].body == {"x": "original"}


def test_a_branch_result_changing_an_input_key_is_kept(run, rest, history):
    # "Data from consumed events, and action execution results are added/merged to state
    # data." B1's action result {x: changed} merged; B2's result {seen} merged. (How branch
    # data is joined is not spelled out; this is the reading where only results merge.)
    path = rest.route((200, {"seen": "b2"}, 0.5))
    definition = wf(
        parallel(
            "P",
            [
                branch("B1", call("change")),
                branch("B2", call("look", {"x": "${ .x }"})),
            ],
        ),
        functions=[expr_fn("change", '{"x": "changed"}'), rest.function("look", path)],
    )
    assert run(definition, {"x": "original"}) == {"x": "changed", "seen": "b2"}


def test_branches_run_in_parallel(run, rest, history):
    # "Parallel state defines a collection of `branches` that are executed in parallel."
    path = rest.route((200, {}, 1.5))
    definition = wf(
        parallel(
            "P",
            [branch(f"B{i}", call("slow", {"i": i})) for i in range(3)],
        ),
        functions=[rest.function("slow", path)],
    )
    run(definition, {})
    assert peak_in_flight(history().calls()) == 3  # all three calls were out at once


def test_at_least_completes_after_num_completed_branches(run, rest, history):
    # "atLeast: State can transition/end once at least the specified number of branches have
    # completed execution."
    slow = rest.route((200, {"slow": True}, 4.0))
    definition = wf(
        parallel(
            "P",
            [branch("Fast", call("fast")), branch("Slow", call("slow"))],
            completionType="atLeast",
            numCompleted=1,
        ),
        functions=[expr_fn("fast", '{"fast": true}'), rest.function("slow", slow)],
    )
    output = run(definition, {})
    assert output == {"fast": True}
    # the state went on without waiting for the slow branch's answer (if it was even asked)
    assert all(a.outcome != "completed" for a in history().calls())


def test_at_least_num_completed_as_string(run, rest, history):
    # numCompleted: "string or number"
    slow = rest.route((200, {"slow": True}, 4.0))
    definition = wf(
        parallel(
            "P",
            [branch("A", call("a")), branch("B", call("b")), branch("Slow", call("slow"))],
            completionType="atLeast",
            numCompleted="2",
        ),
        functions=[
            expr_fn("a", '{"a": 1}'),
            expr_fn("b", '{"b": 1}'),
            rest.function("slow", slow),
        ],
    )
    output = run(definition, {})
    assert output == {"a": 1, "b": 1}
    assert all(a.outcome != "completed" for a in history().calls())


def test_branch_error_is_handled_by_the_parallel_state_on_errors(run):
    # "all exceptions that arise from executing these actions (after all allotted retries are
    # exhausted) are propagated to the parallel state and can be handled with the parallel
    # states `onErrors` definition."
    definition = wf(
        parallel(
            "P",
            [branch("Ok", call("ok")), branch("Bad", call("fail", {"code": "BranchFailed"}))],
            onErrors=[{"errorRef": "Branch failed", "transition": "Handled"}],
        ),
        inject("Handled", {"handled": True}),
        functions=[expr_fn("ok", '{"ok": 1}'), fail_fn()],
        errors=[{"name": "Branch failed", "code": "BranchFailed"}],
    )
    output = run(definition, {"in": 1})
    assert output["handled"] is True
    assert output["in"] == 1


def test_unhandled_branch_error_fails_the_workflow(run_failure):
    # "By default, exceptions that are not handled within branches stop branch execution and
    # are propagated to the Parallel state" -- with no onErrors there, execution halts.
    definition = wf(
        parallel("P", [branch("Bad", call("fail", {"code": "Boom"}))]),
        functions=[fail_fn()],
    )
    assert run_failure(definition, {})


def test_parallel_output_filter(run):
    # Parallel states have a stateDataFilter like any state.
    definition = wf(
        parallel(
            "P",
            [branch("B1", call("one")), branch("B2", call("two"))],
            stateDataFilter={"output": "${ {sum: (.one + .two)} }"},
        ),
        functions=[expr_fn("one", '{"one": 1}'), expr_fn("two", '{"two": 2}')],
    )
    assert run(definition, {}) == {"sum": 3}


# --- Operation state actionMode --------------------------------------------------------------


def test_operation_parallel_action_mode_merges_all_results(run, rest, history):
    # "Operation state defines a set of actions to be performed in sequence or in parallel."
    path = rest.route((200, {"slow": 1}, 1.5))
    path2 = rest.route((200, {"slow2": 2}, 1.5))
    definition = wf(
        operation("A", call("s1"), call("s2"), call("fast"), actionMode="parallel"),
        functions=[
            rest.function("s1", path),
            rest.function("s2", path2),
            expr_fn("fast", '{"fast": 3}'),
        ],
    )
    output = run(definition, {"x": 0})
    assert output == {"x": 0, "slow": 1, "slow2": 2, "fast": 3}
    assert peak_in_flight(history().calls()) == 2  # both slow calls were out at once


def test_operation_action_mode_defaults_to_sequential(run, rest):
    # actionMode: "Should actions be performed sequentially or in parallel" (default
    # sequential): the second action sees the first one's results.
    path = rest.route({"second": True})
    definition = wf(
        operation("A", call("first"), call("echo", {"v": "${ .first }"})),
        functions=[expr_fn("first", '{"first": "yes"}'), rest.function("echo", path)],
    )
    assert run(definition, {}) == {"first": "yes", "second": True}
    assert rest.calls(path)[0].body == {"v": "yes"}


# --- Action condition and sleep --------------------------------------------------------------


def test_action_condition_false_skips_the_action(run, rest):
    # "If it evaluates to `false` the action is skipped."
    path = rest.route({"called": True})
    definition = wf(
        operation("A", call("f", condition="${ .go }")),
        functions=[rest.function("f", path)],
    )
    assert run(definition, {"go": False}) == {"go": False}
    assert rest.calls(path) == []


def test_action_condition_true_performs_the_action(run, rest):
    # "If defined, it must evaluate to `true` for this action to be performed."
    path = rest.route({"called": True})
    definition = wf(
        operation("A", call("f", condition="${ .go }")),
        functions=[rest.function("f", path)],
    )
    assert run(definition, {"go": True}) == {"go": True, "called": True}


def test_action_condition_sees_earlier_results(run):
    # Conditions are workflow expressions over the state data, which includes the results of
    # previous actions in a sequential state.
    definition = wf(
        operation(
            "A",
            call("first"),
            call("second", condition="${ .first == 1 }"),
            call("third", condition="${ .first == 2 }"),
        ),
        functions=[
            expr_fn("first", '{"first": 1}'),
            expr_fn("second", '{"second": true}'),
            expr_fn("third", '{"third": true}'),
        ],
    )
    assert run(definition, {}) == {"first": 1, "second": True}


def test_action_sleep_before_and_after(run, rest, history):
    # "`before` - defines the amount of time (ISO 8601 duration format) to sleep before
    # function invocation. `after` - ... to sleep after function invocation."
    path = rest.route({"ok": 1})
    definition = wf(
        operation("A", call("f", sleep={"before": "PT1S", "after": "PT1S"})),
        functions=[rest.function("f", path)],
    )
    assert run(definition, {}) == {"ok": 1}
    h = history()
    [the_call] = h.calls()
    before, after = sorted((t for t in h.timers if t.seconds == 1), key=lambda t: t.started)
    assert before.outcome == "fired" and before.ended < the_call.scheduled, "no sleep before"
    assert after.outcome == "fired" and after.started > the_call.closed, "no sleep after"


def test_action_sleep_before(run, rest, history):
    # "`before` - defines the amount of time (ISO 8601 duration format) to sleep before
    # function invocation."
    path = rest.route({"ok": 1})
    definition = wf(
        operation("A", call("f", sleep={"before": "PT1S"})),
        functions=[rest.function("f", path)],
    )
    assert run(definition, {}) == {"ok": 1}
    h = history()
    [the_call] = h.calls()
    nap = h.timer(1)
    assert nap.outcome == "fired" and nap.ended < the_call.scheduled, "no sleep before the call"


def test_action_sleep_after(run, rest, history):
    # "`after` - defines the amount of time (ISO 8601 duration format) to sleep after function
    # invocation."
    path = rest.route({"ok": 1})
    definition = wf(
        operation("A", call("f", sleep={"after": "PT1S"})),
        functions=[rest.function("f", path)],
    )
    assert run(definition, {}) == {"ok": 1}
    h = history()
    [the_call] = h.calls()
    nap = h.timer(1)
    assert nap.started > the_call.closed and nap.outcome == "fired", "no sleep after the call"
    assert len(rest.calls(path)) == 1


def test_sleep_state_passes_data_through_after_the_duration(run, history):
    # "Sleep state suspends workflow execution for a given time duration."
    definition = wf(
        {"name": "Wait", "type": "sleep", "duration": "PT1S", "transition": "After"},
        inject("After", {"after": True}),
    )
    assert run(definition, {"x": 1}) == {"x": 1, "after": True}
    assert history().timer(1).outcome == "fired"


def test_sleep_state_as_end_state_with_output_filter(run):
    # Sleep states may be end states and have a stateDataFilter.
    definition = wf(
        {
            "name": "Wait",
            "type": "sleep",
            "duration": "PT1S",
            "end": True,
            "stateDataFilter": {"output": "${ {x} }"},
        }
    )
    assert run(definition, {"x": 1, "y": 2}) == {"x": 1}


def test_branch_array_results_concatenate(run):
    # Branch results merge into the state data; arrays concatenate ("including unique elements
    # of both arrays").
    definition = wf(
        parallel("P", [branch("A", call("a")), branch("B", call("b"))]),
        functions=[expr_fn("a", '{"log": ["a"]}'), expr_fn("b", '{"log": ["b"]}')],
    )
    assert run(definition, {"log": ["start"]}) == {"log": ["start", "a", "b"]}
