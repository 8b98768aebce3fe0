"""Timeouts: stateExecTimeout, actionExecTimeout, workflowExecTimeout (interrupt, runBefore)."""

import time

from .builders import definition, operation


def _slow(engine, op, seconds):
    engine.services.add(op, lambda args, req: (time.sleep(seconds), (200, {"slow": "done"}))[1])


def _doc(state_extra=None, **extra):
    state = operation("Slow", {"functionRef": "slow"}, transition="After")
    state.pop("end", None)
    state.update(state_extra or {})
    return definition(
        state,
        {"name": "After", "type": "inject", "data": {"after": True}, "end": True},
        {"name": "OnTimeout", "type": "inject", "data": {"timedOut": True}, "end": True},
        {"name": "Report", "type": "inject", "data": {"reported": True}, "end": True},
        functions=[{"name": "slow", "operation": "http://x/api.json#slowTimeout"}],
        errors=[{"name": "timeout", "code": "Timeout"}],
        **extra,
    )


def test_state_exec_timeout_is_handled_by_on_errors(engine):
    _slow(engine, "slowTimeout", 3)
    doc = _doc(
        {
            "timeouts": {"stateExecTimeout": "PT1S"},
            "onErrors": [{"errorRef": "timeout", "transition": "OnTimeout"}],
        }
    )
    assert engine.execute(doc, {}) == {"timedOut": True}


def test_action_exec_timeout_from_workflow_defaults(engine):
    _slow(engine, "slowTimeout", 3)
    doc = _doc(
        {"onErrors": [{"errorRef": "timeout", "transition": "OnTimeout"}]},
        timeouts={"actionExecTimeout": "PT1S"},
    )
    assert engine.execute(doc, {}) == {"timedOut": True}


def test_unhandled_state_timeout_fails_the_instance(engine):
    _slow(engine, "slowTimeout", 3)
    error = engine.failure(_doc({"timeouts": {"stateExecTimeout": {"total": "PT1S"}}}), {})
    assert error.type == "Timeout" and error.details[0]["state"] == "Slow"


def test_workflow_exec_timeout_interrupt_runs_run_before(engine):
    # given a 1 s workflow timeout that interrupts, with a runBefore state
    _slow(engine, "slowTimeout", 4)
    doc = _doc(
        timeouts={
            "workflowExecTimeout": {"duration": "PT1S", "interrupt": True, "runBefore": "Report"}
        }
    )
    # when
    started = engine.start(doc, {"x": 1})
    out = engine.result(started)
    # then the slow state was stopped, runBefore ran, and the mirror says timed_out
    assert out == {"x": 1, "reported": True}
    assert engine.recorder.changes[started.instance_id][-1].status == "timed_out"


def test_workflow_exec_timeout_without_interrupt_finishes_the_current_state(engine):
    _slow(engine, "slowTimeout", 2)
    doc = _doc(timeouts={"workflowExecTimeout": {"duration": "PT1S"}})
    # then the slow state completed (its result merged) but After never ran
    assert engine.execute(doc, {}) == {"slow": "done"}


def test_keep_active_instance_ends_at_workflow_exec_timeout(engine):
    # given keepActive: reaching an end without terminate keeps the instance alive
    doc = definition(
        {"name": "Collect", "type": "inject", "data": {"collected": True}, "end": True},
        keepActive=True,
        timeouts={"workflowExecTimeout": "PT1S"},
    )
    # when
    started = engine.start(doc, {})
    engine.wait_for(
        lambda: any(c.status == "waiting" for c in engine.recorder.changes[started.instance_id])
    )
    # then it waited until the workflow timeout, keeping the last state's output
    assert engine.result(started) == {"collected": True}
    assert engine.recorder.changes[started.instance_id][-1].status == "timed_out"


def test_keep_active_still_ends_on_terminate(engine):
    doc = definition(
        {"name": "Stop", "type": "inject", "data": {"x": 1}, "end": {"terminate": True}},
        keepActive=True,
    )
    assert engine.execute(doc, {}) == {"x": 1}
