"""The `usertask` state (xflow extension, PRODUCT.md §3).

The interpreter evaluates the task's expressions, asks the task service to create the task
(ACT_CREATE_USER_TASK on QUEUE_TASKS, which returns the task id), then waits for the first
TaskSignal for that id. Timers fire ACT_USER_TASK_EVENT; `timeouts.taskTimeout` fires it
with kind `timeout` and takes `onTaskTimeout`. Listeners travel with the task: the task
service sees every lifecycle change (assigned, claimed...) and emits them through its outbox.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from temporalio import workflow

from apps.workflows.dsl.expressions import is_expression
from apps.workflows.dsl.model import TaskTimer, UserTaskState
from apps.workflows.engine import data as datamod
from apps.workflows.engine.context import Run, seconds
from apps.workflows.engine.contracts import (
    ACT_CREATE_USER_TASK,
    ACT_USER_TASK_EVENT,
    QUEUE_TASKS,
    CreateUserTask,
    TaskSignal,
    UserTaskEvent,
)
from apps.workflows.engine.errors import TASK_DELETED, TIMEOUT, WorkflowError
from apps.workflows.engine.states import Box, Outcome, follow, target


def _value(run: Run, value: Any, data: Any) -> Any:
    return run.ev.template(value, data)


def task_payload(run: Run, state: UserTaskState, data: Any) -> dict[str, Any]:
    """The usertask state with its expressions evaluated over the state data."""
    due = state.due_date
    if isinstance(due, str) and is_expression(due):
        due = run.ev(due, data)
    listeners = []
    for listener in state.listeners:
        event_def = run.workflow.events_by_name.get(listener.produce_event_ref or "")
        listeners.append(
            {
                "on": list(listener.on),
                "produceEventRef": listener.produce_event_ref,
                "event": dict(event_def.raw) if event_def else None,
            }
        )
    return {
        "taskKey": state.task_key,
        "title": _value(run, state.title, data),
        "formKey": state.form_key,
        "assignee": _value(run, state.assignee, data),
        "candidateUsers": [u for u in _value(run, list(state.candidate_users), data) if u],
        "candidateGroups": [g for g in _value(run, list(state.candidate_groups), data) if g],
        "priority": _value(run, state.priority, data),
        "dueDate": due,
        "outcomes": [{"name": o.name, "label": o.label or o.name} for o in state.outcomes],
        "listeners": listeners,
        "timers": [dict(t.raw) for t in state.timers],
        "taskTimeout": state.timeouts.task_timeout if state.timeouts else None,
    }


def _task_id(created: Any) -> str:
    if isinstance(created, dict):
        return str(created.get("task_id") or created.get("id"))
    return str(created)


async def _fire_timer(run: Run, state: UserTaskState, task_id: str, timer: TaskTimer) -> None:
    """Fire a timer after `after`, then every `every` up to `max` times."""
    delay = seconds(timer.after) or seconds(timer.every) or 0.0
    fired = 0
    limit = timer.max if timer.max is not None else (None if timer.every else 1)
    while limit is None or fired < limit:
        await workflow.sleep(timedelta(seconds=delay))
        fired += 1
        await run.activity(
            ACT_USER_TASK_EVENT,
            UserTaskEvent(
                instance_id=run.inp.instance_id,
                task_id=task_id,
                state=state.name,
                kind="timer",
                timer=dict(timer.raw),
                fire_count=fired,
            ),
            queue=QUEUE_TASKS,
        )
        run.note("task_timer", state.name, timer=timer.name, fired=fired)
        if not timer.every:
            return
        delay = seconds(timer.every) or 0.0


async def _task_event(run: Run, state: UserTaskState, task_id: str, kind: str) -> None:
    await run.activity(
        ACT_USER_TASK_EVENT,
        UserTaskEvent(
            instance_id=run.inp.instance_id, task_id=task_id, state=state.name, kind=kind
        ),
        queue=QUEUE_TASKS,
    )


async def usertask(run: Run, state: UserTaskState, box: Box) -> Outcome:
    task_input = run.ev(state.data_filter, box.data) if state.data_filter else box.data
    created = await run.activity(
        ACT_CREATE_USER_TASK,
        CreateUserTask(
            instance_id=run.inp.instance_id,
            workflow_id=run.workflow_id,
            state=state.name,
            task=task_payload(run, state, box.data),
            input=task_input,
            dedupe_key=run.next_dedupe_key(f"task:{state.name}"),
        ),
        queue=QUEUE_TASKS,
    )
    task_id = _task_id(created)
    run.note("task_created", state.name, task_id=task_id)
    await run.report("waiting")
    timers = [asyncio.ensure_future(_fire_timer(run, state, task_id, t)) for t in state.timers]
    timeout = seconds(state.timeouts.task_timeout) if state.timeouts else None
    signal: TaskSignal | None = None
    try:
        await workflow.wait_condition(lambda: task_id in run.tasks, timeout=timeout)
        signal = run.tasks[task_id]
    except TimeoutError:
        signal = None
    except asyncio.CancelledError:
        # The instance is cancelled or interrupted: cancel the open task too.
        await asyncio.shield(asyncio.ensure_future(_task_event(run, state, task_id, "cancel")))
        raise
    finally:
        for timer in timers:
            timer.cancel()
        await asyncio.gather(*timers, return_exceptions=True)
    await run.report("running")
    if signal is None or signal.kind == "timed_out":
        if signal is None:
            await _task_event(run, state, task_id, "timeout")
        run.note("task_timed_out", state.name, task_id=task_id)
        if state.on_task_timeout is None:
            raise WorkflowError(TIMEOUT, f"user task '{state.task_key}' timed out")
        return target(state.on_task_timeout)
    if signal.kind == "deleted":
        run.note("task_deleted", state.name, task_id=task_id, user=signal.user)
        if state.on_task_deleted is None:
            raise WorkflowError(TASK_DELETED, f"user task '{state.task_key}' was deleted")
        return target(state.on_task_deleted)
    run.note(
        "task_completed", state.name, task_id=task_id, outcome=signal.outcome, user=signal.user
    )
    outcome = next((o for o in state.outcomes if o.name == signal.outcome), None)
    submitted = signal.data
    if outcome is not None and outcome.data_filter:
        submitted = run.ev(outcome.data_filter, submitted)
    if submitted is not None:
        box.data = datamod.merge(box.data, submitted)
    if outcome is not None and (outcome.transition or outcome.end):
        return Outcome(transition=outcome.transition, end=outcome.end)
    return follow(state)
