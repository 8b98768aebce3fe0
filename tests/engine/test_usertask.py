"""The usertask state hook: create the task, wait for its signal, outcomes, timeout, deletion."""

from apps.workflows.engine.contracts import TaskSignal

from .builders import definition


def _doc(**extra):
    state = {
        "name": "ApproveLeave",
        "type": "usertask",
        "taskKey": "approve-leave",
        "title": "Leave request from ${ .employee.name }",
        "formKey": "leave-approval",
        "assignee": "${ .employee.manager }",
        "candidateUsers": ["alice", "${ .backupApprover }"],
        "candidateGroups": ["hr"],
        "priority": 70,
        "dueDate": "PT48H",
        "dataFilter": "${ {employee, days} }",
        "outcomes": [
            {
                "name": "approved",
                "label": "Approve",
                "dataFilter": "${ {decision: .} }",
                "transition": "Book",
            },
            {"name": "rejected", "label": "Reject"},
        ],
        "onTaskDeleted": {"transition": "Cancelled"},
        "transition": "Rejected",
    }
    state.update(extra)
    return definition(
        state,
        {"name": "Book", "type": "inject", "data": {"booked": True}, "end": True},
        {"name": "Rejected", "type": "inject", "data": {"booked": False}, "end": True},
        {"name": "Cancelled", "type": "inject", "data": {"cancelled": True}, "end": True},
        {"name": "AutoReject", "type": "inject", "data": {"auto": True}, "end": True},
    )


DATA = {"employee": {"name": "Ann", "manager": "bob"}, "days": 3, "backupApprover": None}


def _started_task(eng, doc):
    started = eng.start(doc, DATA)
    eng.wait_for(lambda: eng.recorder.tasks[started.instance_id])
    return started, eng.recorder.tasks[started.instance_id][0]


def test_task_is_created_with_evaluated_fields(engine):
    # when the instance reaches the usertask state
    started, task = _started_task(engine, _doc())
    # then the task service got the evaluated task and its input
    assert task.state == "ApproveLeave"
    assert task.task["title"] == "Leave request from Ann"
    assert task.task["assignee"] == "bob"
    assert task.task["candidateUsers"] == ["alice"]
    assert task.task["candidateGroups"] == ["hr"]
    assert task.task["priority"] == 70 and task.task["dueDate"] == "PT48H"
    assert task.input == {"employee": {"name": "Ann", "manager": "bob"}, "days": 3}
    assert engine.query(started)["current_states"] == ["ApproveLeave"]
    engine.send_task(
        started,
        TaskSignal(task_id=f"{started.instance_id}-task-0", kind="completed", outcome="rejected"),
    )
    engine.result(started)


def test_outcome_data_filter_merges_submission_and_takes_outcome_transition(engine):
    started, _ = _started_task(engine, _doc())
    task_id = f"{started.instance_id}-task-0"
    # when the task completes with "approved" (delivered twice: exactly once applies)
    engine.send_task(
        started,
        TaskSignal(
            task_id=task_id,
            kind="completed",
            outcome="approved",
            data={"comment": "ok"},
            user="bob",
        ),
    )
    engine.send_task(
        started, TaskSignal(task_id=task_id, kind="completed", outcome="rejected", data={})
    )
    # then
    assert engine.result(started) == {**DATA, "decision": {"comment": "ok"}, "booked": True}


def test_outcome_without_transition_uses_the_state_transition(engine):
    started, _ = _started_task(engine, _doc())
    engine.send_task(
        started,
        TaskSignal(
            task_id=f"{started.instance_id}-task-0",
            kind="completed",
            outcome="rejected",
            data={"reason": "busy"},
        ),
    )
    assert engine.result(started) == {**DATA, "reason": "busy", "booked": False}


def test_deleted_task_takes_on_task_deleted(engine):
    started, _ = _started_task(engine, _doc())
    engine.send_task(
        started, TaskSignal(task_id=f"{started.instance_id}-task-0", kind="deleted", user="op")
    )
    assert engine.result(started) == {**DATA, "cancelled": True}


def test_task_timeout_and_timers_on_the_time_skipping_server(skipping):
    # given a 72 h task timeout and a reminder after 24 h, repeated every 12 h, twice at most
    doc = _doc(
        timeouts={"taskTimeout": "PT72H"},
        onTaskTimeout={"transition": "AutoReject"},
        timers=[
            {"name": "remind", "after": "PT24H", "every": "PT12H", "max": 2, "action": "remind"}
        ],
    )
    # when nobody acts
    started = skipping.start(doc, DATA)
    out = skipping.result(started)
    # then the timers fired twice, the timeout was reported, and onTaskTimeout was taken
    assert out == {**DATA, "auto": True}
    events = skipping.recorder.task_events[started.instance_id]
    assert [(e.kind, e.fire_count) for e in events] == [("timer", 1), ("timer", 2), ("timeout", 0)]


def test_cancelling_the_instance_cancels_its_open_task(engine):
    # given an instance waiting on its task
    from temporalio.client import WorkflowFailureError

    started, _ = _started_task(engine, _doc())
    # when an operator cancels the instance
    engine.run(started.handle.cancel())
    # then the task service is told, the mirror says cancelled, the workflow ends cancelled
    try:
        engine.result(started)
        raise AssertionError("the instance was expected to be cancelled")
    except WorkflowFailureError:
        pass
    assert [e.kind for e in engine.recorder.task_events[started.instance_id]] == ["cancel"]
    assert engine.recorder.changes[started.instance_id][-1].status == "cancelled"


def test_a_task_the_task_service_refuses_fails_the_state_and_can_be_handled(engine):
    # Given a task the task service refuses (a non-retryable error of its activity)
    refused = {"title": "refused by the task service"}
    # then the instance fails with that error instead of hanging in the state ...
    failure = engine.failure(_doc(**refused), DATA)
    assert failure.type == "task_invalid"
    # ... and a definition can handle it like any error of a state
    handled = _doc(**refused, onErrors=[{"errorRef": "refused", "transition": "AutoReject"}])
    handled["errors"] = [{"name": "refused", "code": "task_invalid"}]
    assert engine.execute(handled, DATA)["auto"] is True
