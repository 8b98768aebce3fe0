"""Workflow timeouts (spec 0.8 "Workflow Timeouts")."""

from __future__ import annotations

from .conftest import WorkflowFailed, call, inject, operation, wf


def sleep_state(name: str, duration: str, **props) -> dict:
    state = {"name": name, "type": "sleep", "duration": duration, **props}
    if "transition" not in state:
        state.setdefault("end", True)
    return state


def outcome(run, definition, data=None, **kwargs):
    """('completed', output) or ('failed', detail): a timed-out instance may end either way."""
    try:
        return "completed", run(definition, data, **kwargs)
    except WorkflowFailed as failed:
        return "failed", failed.detail


def timed_out(status, detail, state: str) -> bool:
    """The instance failed with xflow's Timeout error, raised by that state."""
    return status == "failed" and detail["type"] == "Timeout" and detail["state"] == state


def never_answered(history) -> bool:
    """The slow call was abandoned: its activity never completed."""
    calls = history.calls()
    return bool(calls) and all(a.outcome != "completed" for a in calls)


# --- workflowExecTimeout ----------------------------------------------------------------------


def test_workflow_exec_timeout_ends_the_instance(run, history):
    # "Once a workflow instance is created, and the amount of the defined time is reached, the
    # workflow instance should be terminated." (string form; interrupt defaults to false, so
    # the running 1s sleep may finish first -- but no later state runs)
    definition = wf(
        sleep_state("S1", "PT1S", transition="S2"),
        sleep_state("S2", "PT1S", transition="S3"),
        sleep_state("S3", "PT1S", transition="S4"),
        sleep_state("S4", "PT1S", transition="Never"),
        inject("Never", {"reached": True}),
        timeouts={"workflowExecTimeout": "PT2S"},
    )
    status, result = outcome(run, definition, {})
    assert not (status == "completed" and isinstance(result, dict) and result.get("reached"))
    # the 2s timeout fired, and no sleep began after it
    h = history()
    timeout = h.timer(2)
    assert timeout.outcome == "fired"
    sleeps = [t for t in h.timers if t.seconds == 1]
    assert all(t.started < timeout.ended for t in sleeps), h.timers
    assert len(sleeps) < 4


def test_workflow_exec_timeout_interrupt_stops_the_running_state(run, history):
    # "If `true`, current workflow execution is stopped immediately."
    definition = wf(
        sleep_state("Long", "PT6S", transition="Never"),
        inject("Never", {"reached": True}),
        timeouts={"workflowExecTimeout": {"duration": "PT1S", "interrupt": True}},
    )
    status, result = outcome(run, definition, {})
    assert not (status == "completed" and result.get("reached"))
    # the 1s timeout fired and cut the 6s sleep short
    h = history()
    assert h.timer(1).outcome == "fired"
    assert h.timer(6).outcome == "canceled", "interrupt: true did not stop the 6s sleep"


def test_workflow_exec_timeout_without_interrupt_lets_the_current_state_finish(run, history):
    # "If `false`, workflow instance is allowed to finish current execution." (default false)
    definition = wf(
        sleep_state("Current", "PT3S", transition="Next"),
        inject("Next", {"next": True}),
        timeouts={"workflowExecTimeout": {"duration": "PT1S", "interrupt": False}},
    )
    outcome(run, definition, {})
    # the 1s timeout fired first, and the current 3s sleep still ran to its end
    h = history()
    assert h.timer(1).outcome == "fired"
    current = h.timer(3)
    assert current.outcome == "fired", "the current 3s state was cut"
    assert current.ended > h.timer(1).ended


def test_workflow_exec_timeout_run_before(run, rest, history):
    # "The `runBefore` property defines a name of a workflow state to be executed before
    # workflow instance is terminated."
    path = rest.route({"report": "sent"})
    definition = wf(
        sleep_state("Long", "PT6S"),
        operation("createandsendreport", call("report", {"data": "${ . }"})),
        functions=[rest.function("report", path)],
        timeouts={
            "workflowExecTimeout": {
                "duration": "PT1S",
                "interrupt": True,
                "runBefore": "createandsendreport",
            }
        },
    )
    outcome(run, definition, {"x": 1})
    assert history().timer(6).outcome == "canceled"
    assert len(rest.calls(path)) == 1
    assert rest.calls(path)[0].body == {"data": {"x": 1}}


def test_workflow_exec_timeout_has_precedence_over_state_timeouts(run, history):
    # "the defined workflow execution timeout has precedence over all other defined timeouts.
    # ... workflow execution timeout to ten seconds, and the state execution timeout to twenty
    # seconds ... if the workflow execution timeout is reached it should follow the rules of
    # workflow execution timeout and end workflow execution"
    definition = wf(
        sleep_state("Long", "PT6S", timeouts={"stateExecTimeout": "PT20S"}),
        timeouts={"workflowExecTimeout": {"duration": "PT1S", "interrupt": True}},
    )
    outcome(run, definition, {})
    # the 1s workflow timeout ended it: the sleep was cut, the 20s state timeout never fired
    h = history()
    assert h.timer(1).outcome == "fired"
    assert h.timer(6).outcome == "canceled"
    assert not any(t.seconds == 20 and t.outcome == "fired" for t in h.timers)


# --- stateExecTimeout / actionExecTimeout / branchExecTimeout ----------------------------------


def slow_operation(rest, seconds: float = 4.0, **props):
    path = rest.route((200, {"slow": True}, seconds))
    return operation("Slow", call("slow"), **props), rest.function("slow", path)


def test_state_exec_timeout_stops_a_slow_state(run, rest, history):
    # "The `stateExecTimeout` property defines the maximum execution time for a single workflow
    # state." -- exceeding it is an error; unhandled it halts the workflow.
    state, fn = slow_operation(rest, timeouts={"stateExecTimeout": "PT1S"})
    status, detail = outcome(run, wf(state, functions=[fn]), {})
    assert timed_out(status, detail, "Slow")
    assert never_answered(history())


def test_state_exec_timeout_object_total(run, rest, history):
    # stateExecTimeout object form: "total: Total state execution timeout, including retries"
    state, fn = slow_operation(rest, timeouts={"stateExecTimeout": {"total": "PT1S"}})
    status, detail = outcome(run, wf(state, functions=[fn]), {})
    assert timed_out(status, detail, "Slow")
    assert never_answered(history())


def test_state_exec_timeout_is_inherited_from_the_top_level(run, rest, history):
    # "Since state "A" does not overwrite the top-level `stateExecTimeout`, its execution
    # timeout should be inherited from the top-level timeout definition."
    state, fn = slow_operation(rest)
    definition = wf(state, functions=[fn], timeouts={"stateExecTimeout": "PT1S"})
    status, detail = outcome(run, definition, {})
    assert timed_out(status, detail, "Slow")
    assert never_answered(history())


def test_state_timeout_overrides_the_top_level(run):
    # "state "B" does define it's own `stateExecTimeout`, in which case it would overwrite the
    # default setting"
    definition = wf(
        sleep_state("B", "PT2S", timeouts={"stateExecTimeout": "PT10S"}),
        timeouts={"stateExecTimeout": "PT1S"},
    )
    assert run(definition, {"x": 1}) == {"x": 1}


def test_action_exec_timeout(run, rest, history):
    # "The `actionExecTimeout` property defines the maximum execution time for a single actions
    # definition."
    state, fn = slow_operation(rest, timeouts={"actionExecTimeout": "PT1S"})
    status, detail = outcome(run, wf(state, functions=[fn]), {})
    assert timed_out(status, detail, "Slow")
    assert never_answered(history())


def test_action_exec_timeout_is_inherited_from_the_top_level(run, rest, history):
    # Top-level "actionExecTimeout: Default single actions definition execution timeout"
    state, fn = slow_operation(rest)
    definition = wf(state, functions=[fn], timeouts={"actionExecTimeout": "PT1S"})
    status, detail = outcome(run, definition, {})
    assert timed_out(status, detail, "Slow")
    assert never_answered(history())


def test_branch_exec_timeout(run, rest, history):
    # "The `branchExecTimeout` property defines the maximum execution time for a single
    # branch." (branch level)
    path = rest.route((200, {"slow": True}, 4.0))
    definition = wf(
        {
            "name": "P",
            "type": "parallel",
            "branches": [
                {
                    "name": "Slow",
                    "actions": [call("slow")],
                    "timeouts": {"branchExecTimeout": "PT1S"},
                }
            ],
            "end": True,
        },
        functions=[rest.function("slow", path)],
    )
    status, detail = outcome(run, definition, {})
    assert timed_out(status, detail, "P")
    assert never_answered(history())


def test_branch_exec_timeout_inherited_from_the_parallel_state(run, rest, history):
    # "If defined on the state level, it applies to each branch of the Parallel state."
    path = rest.route((200, {"slow": True}, 4.0))
    definition = wf(
        {
            "name": "P",
            "type": "parallel",
            "branches": [{"name": "Slow", "actions": [call("slow")]}],
            "timeouts": {"branchExecTimeout": "PT1S"},
            "end": True,
        },
        functions=[rest.function("slow", path)],
    )
    status, detail = outcome(run, definition, {})
    assert timed_out(status, detail, "P")
    assert never_answered(history())


def test_no_timeouts_means_unlimited(run, rest):
    # "Defining timeouts is not mandatory, meaning that if not defined, all the timeout
    # settings should be assumed to be "unlimited"."
    state, fn = slow_operation(rest, seconds=2.0)
    assert run(wf(state, functions=[fn]), {}) == {"slow": True}


def test_sleep_state_longer_than_its_state_exec_timeout(run, history):
    # "All workflow states can define the `stateExecTimeout` property" -- a 3s sleep cannot
    # finish within 1s.
    definition = wf(sleep_state("Nap", "PT3S", timeouts={"stateExecTimeout": "PT1S"}))
    status, detail = outcome(run, definition, {})
    assert timed_out(status, detail, "Nap")
    assert history().timer(3).outcome == "canceled"


def test_iso_8601_duration_forms(run_many, history, last_instance_ids):
    # Sleep "duration: Duration (ISO 8601 duration format) ... For example: "PT15M" ... or
    # "P2DT3H4M"" -- equivalent spellings of one second all sleep about a second.
    forms = ["PT1S", "PT0M1S", "PT0H0M1S", "P0DT1S", "P0DT0H0M1S"]
    cases = [(wf(sleep_state("Nap", form)), {"form": form}) for form in forms]
    outputs = run_many(cases)
    assert outputs == [{"form": form} for form in forms]
    # each spelling became one timer of exactly one second, which fired
    for instance_id in last_instance_ids()[-len(forms) :]:
        assert history(instance_id).timer(1).outcome == "fired"


def test_branch_action_exec_timeout(run, rest, history):
    # "Parallel state branches can set the `actionExecTimeout` and `branchExecTimeout` timeout
    # properties."
    path = rest.route((200, {"slow": True}, 4.0))
    definition = wf(
        {
            "name": "P",
            "type": "parallel",
            "branches": [
                {
                    "name": "Slow",
                    "actions": [call("slow")],
                    "timeouts": {"actionExecTimeout": "PT1S"},
                }
            ],
            "end": True,
        },
        functions=[rest.function("slow", path)],
    )
    status, detail = outcome(run, definition, {})
    assert timed_out(status, detail, "P")
    assert never_answered(history())


def test_foreach_action_exec_timeout(run, rest, history):
    # "ForEach states can define the `stateExecTimeout` and `actionExecTimeout` settings."
    path = rest.route((200, {"slow": True}, 4.0))
    definition = wf(
        {
            "name": "Each",
            "type": "foreach",
            "inputCollection": "${ .xs }",
            "iterationParam": "x",
            "actions": [call("slow")],
            "timeouts": {"actionExecTimeout": "PT1S"},
            "end": True,
        },
        functions=[rest.function("slow", path)],
    )
    status, detail = outcome(run, definition, {"xs": [1, 2]})
    assert timed_out(status, detail, "Each")
    assert never_answered(history())
