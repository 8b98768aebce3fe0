"""State handlers (spec 0.8 "Workflow States"): operation, inject, sleep, switch, event, callback.

A handler receives the state data after `stateDataFilter.input` in a `Box`, updates
`box.data` as it goes (so an error handler sees the data reached so far) and returns where
to go next. The interpreter applies `stateDataFilter.output` afterwards.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow

from apps.workflows.dsl.expressions import is_true
from apps.workflows.dsl.model import (
    CallbackState,
    DefaultCondition,
    End,
    EventState,
    InjectState,
    OperationState,
    SleepState,
    State,
    SwitchState,
    Transition,
)
from apps.workflows.engine import data as datamod
from apps.workflows.engine.actions import Scope, perform, run_actions
from apps.workflows.engine.context import LONG_WAIT, Run, seconds
from apps.workflows.engine.events import close_wait, open_wait, wait_for_events
from apps.workflows.engine.timeouts import event_timeout, limit, state_timeout


@dataclass
class Box:
    """The state data while a state runs."""

    data: Any


@dataclass
class Outcome:
    """Where a state goes: a transition or an end (neither: the workflow ends)."""

    transition: Transition | None = None
    end: End | None = None


def follow(state: State) -> Outcome:
    return Outcome(transition=state.transition, end=state.end)


def target(cond: DefaultCondition | None) -> Outcome:
    if cond is None:
        return Outcome()
    return Outcome(transition=cond.transition, end=cond.end)


async def operation(run: Run, state: OperationState, box: Box) -> Outcome:
    box.data = await run_actions(run, Scope(state), state.actions, state.action_mode, box.data)
    return follow(state)


async def inject(run: Run, state: InjectState, box: Box) -> Outcome:
    # Spec: the injected data is merged with the state's data input.
    box.data = datamod.merge(box.data, copy.deepcopy(state.data))
    return follow(state)


async def sleep(run: Run, state: SleepState, box: Box) -> Outcome:
    duration = seconds(state.duration) or 0.0
    long_wait = duration >= LONG_WAIT.total_seconds()
    if long_wait:
        run.note("waiting", state.name, sleep=state.duration)
        await run.report("waiting")
    await workflow.sleep(timedelta(seconds=duration))
    if long_wait:
        await run.report("running")
    return follow(state)


async def switch(run: Run, state: SwitchState, box: Box) -> Outcome:
    if state.event_conditions:
        refs = [c.event_ref for c in state.event_conditions]
        timeout = event_timeout(run.workflow, state)
        consumed = await wait_for_events(
            run, state.name, refs, box.data, need_all=False, timeout=timeout
        )
        if consumed is None:
            return target(state.default_condition)
        ref, event = next(iter(consumed.items()))
        cond = next(c for c in state.event_conditions if c.event_ref == ref)
        event_def = run.workflow.events_by_name.get(ref)
        box.data = datamod.apply_event_data(
            run.ev, cond.event_data_filter, box.data, event_def, event
        )
        return Outcome(transition=cond.transition, end=cond.end)
    # Data conditions: the first true condition wins (spec: order of definition).
    for cond in state.data_conditions:
        if is_true(run.ev(cond.condition, box.data)):
            return Outcome(transition=cond.transition, end=cond.end)
    return target(state.default_condition)


async def event(run: Run, state: EventState, box: Box) -> Outcome:
    """Wait for one (exclusive) or all of the onEvents' events, then run their actions."""
    refs = [ref for on in state.on_events for ref in on.event_refs]
    timeout = event_timeout(run.workflow, state)
    if state.name == run.workflow.start_state and timeout is not None:
        # Spec (Event Timeout Definition) for a starting event state: exclusive -> the
        # timeout is ignored; not exclusive -> it runs from the first event's arrival.
        if state.exclusive:
            timeout = None
        else:
            await wait_for_events(
                run, state.name, refs, box.data, need_all=False, timeout=None, consume=False
            )
    consumed = await wait_for_events(
        run, state.name, refs, box.data, need_all=not state.exclusive, timeout=timeout
    )
    if consumed is None:
        # Spec (Event Timeout Definition): transition without performing any actions.
        return follow(state)
    scope = Scope(state)
    for on in state.on_events:
        hits = [ref for ref in on.event_refs if ref in consumed]
        if not hits:
            continue
        for ref in hits:
            event_def = run.workflow.events_by_name.get(ref)
            box.data = datamod.apply_event_data(
                run.ev, on.event_data_filter, box.data, event_def, consumed[ref]
            )
        box.data = await run_actions(run, scope, on.actions, on.action_mode, box.data)
    return follow(state)


async def callback(run: Run, state: CallbackState, box: Box) -> Outcome:
    """Run the action, then wait for the callback event and merge its payload.

    Spec (Callback State): "If the defined callback event has not been received during this
    time period, the state should transition" - the period being its `stateExecTimeout` (the
    spec's example) or `eventTimeout`. The action itself running past stateExecTimeout is a
    Timeout error, as for any state.
    """
    total = state_timeout(run.workflow, state)
    started = workflow.now()
    # The wait is registered before the action runs: the service the action calls may
    # answer with the callback event at once, and it must find this instance waiting.
    opened = await open_wait(run, state.name, [state.event_ref], box.data)
    try:
        if state.action is not None:
            step = perform(run, Scope(state), state.action, box.data)
            ran, result = await limit(step, total, f"state '{state.name}'")
            if ran:
                box.data = datamod.apply_action_results(
                    run.ev, state.action.action_data_filter, box.data, result
                )
    except BaseException:
        await close_wait(run, opened)
        raise
    timeout = event_timeout(run.workflow, state)
    if total is not None:
        left = max(total - (workflow.now() - started).total_seconds(), 0.001)
        timeout = left if timeout is None else min(timeout, left)
    consumed = await wait_for_events(
        run,
        state.name,
        [state.event_ref],
        box.data,
        need_all=True,
        timeout=timeout,
        opened=opened,
    )
    if consumed is not None:
        event_def = run.workflow.events_by_name.get(state.event_ref)
        box.data = datamod.apply_event_data(
            run.ev, state.event_data_filter, box.data, event_def, consumed[state.event_ref]
        )
    return follow(state)
