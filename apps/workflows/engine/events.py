"""Consuming and producing CloudEvents (spec 0.8 "Event Definition", "Correlation").

Incoming events arrive as SIGNAL_EVENT and wait in the run's buffer until a state consumes
them. An event matches an event definition on `type`, `source` (when the definition sets
one) and every correlation rule: a rule with `contextAttributeValue` needs that value; a rule
without needs the value learned from the first correlated event of this instance.
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio import workflow

from apps.workflows.dsl.expressions import is_expression
from apps.workflows.dsl.model import EventDef, ProducedEvent
from apps.workflows.engine.context import Run
from apps.workflows.engine.contracts import (
    ACT_CLEAR_WAIT,
    ACT_EMIT_EVENT,
    ACT_REGISTER_WAIT,
    EmitEvent,
    EventWait,
)
from apps.workflows.engine.errors import DATA_ERROR, WorkflowError


def attribute(event: dict[str, Any], name: str) -> Any:
    """A context attribute: top level (CloudEvents JSON format) or under `extensions`."""
    if name in event:
        return event[name]
    ext = event.get("extensions")
    return ext.get(name) if isinstance(ext, dict) else None


def _expected(run: Run, event_def: EventDef, data: Any) -> dict[str, Any]:
    """Correlation attribute -> required value (None: any value, learned on consumption)."""
    out: dict[str, Any] = {}
    for rule in event_def.correlation:
        value: Any = rule.context_attribute_value
        if isinstance(value, str) and is_expression(value):
            value = run.ev(value, data)
        if value is None:
            value = run.correlation.get(rule.context_attribute_name)
        out[rule.context_attribute_name] = value
    return out


def matches(
    event_def: EventDef, event: dict[str, Any], expected: dict[str, Any], learned: dict[str, Any]
) -> bool:
    if event.get("type") != event_def.type:
        return False
    if event_def.source and event.get("source") != event_def.source:
        return False
    for name, value in expected.items():
        actual = attribute(event, name)
        if actual is None:
            return False
        want = value if value is not None else learned.get(name)
        if want is not None and actual != want:
            return False
    return True


def _event_def(run: Run, name: str) -> EventDef:
    event_def = run.workflow.events_by_name.get(name)
    if event_def is None:
        raise WorkflowError(DATA_ERROR, f"there is no event definition named '{name}'")
    return event_def


def _plan(run: Run, refs: list[str], data: Any, need_all: bool) -> dict[str, int] | None:
    """Buffer indexes satisfying refs (any one, or all), respecting correlation; no mutation."""
    wanted = [(ref, _event_def(run, ref)) for ref in refs]
    expected = {ref: _expected(run, event_def, data) for ref, event_def in wanted}
    if not need_all:
        # Exclusive: the earliest buffered event matching any of the refs wins.
        for i, event in enumerate(run.events):
            for ref, event_def in wanted:
                if matches(event_def, event, expected[ref], run.correlation):
                    return {ref: i}
        return None
    learned = dict(run.correlation)
    taken: dict[str, int] = {}
    for ref, event_def in wanted:
        for i, event in enumerate(run.events):
            if i in taken.values() or not matches(event_def, event, expected[ref], learned):
                continue
            taken[ref] = i
            for name in expected[ref]:
                learned.setdefault(name, attribute(event, name))
            break
        else:
            return None
    return taken


def _consume(run: Run, plan: dict[str, int]) -> dict[str, dict[str, Any]]:
    consumed = {ref: run.events[i] for ref, i in plan.items()}
    for i in sorted(plan.values(), reverse=True):
        del run.events[i]
    for ref, event in consumed.items():
        for rule in run.workflow.events_by_name[ref].correlation:
            name = rule.context_attribute_name
            if run.correlation.get(name) is None and attribute(event, name) is not None:
                run.correlation[name] = attribute(event, name)
    return consumed


def _wait_description(run: Run, refs: list[str], data: Any) -> list[dict[str, Any]]:
    described = []
    for ref in refs:
        event_def = _event_def(run, ref)
        expected = _expected(run, event_def, data)
        described.append(
            {
                "name": ref,
                "type": event_def.type,
                "source": event_def.source,
                "correlation": [
                    {"contextAttributeName": k, "contextAttributeValue": v}
                    for k, v in expected.items()
                ],
            }
        )
    return described


async def open_wait(run: Run, state: str, refs: list[str], data: Any) -> EventWait:
    """Tell the event service what this instance waits for (before asking for the reply)."""
    wait = EventWait(
        instance_id=run.inp.instance_id,
        workflow_id=run.workflow_id,
        wait_id=run.next_wait_id(state),
        events=_wait_description(run, refs, data),
    )
    await run.activity(ACT_REGISTER_WAIT, wait)
    return wait


async def close_wait(run: Run, wait: EventWait) -> None:
    """Clear a subscription, even from a cancelled state (timeouts, interrupts)."""
    await asyncio.shield(asyncio.ensure_future(run.activity(ACT_CLEAR_WAIT, wait)))


async def wait_for_events(
    run: Run,
    state: str,
    refs: list[str],
    data: Any,
    *,
    need_all: bool,
    timeout: float | None,
    consume: bool = True,
    opened: EventWait | None = None,
) -> dict[str, dict[str, Any]] | None:
    """Consume one (need_all=False) or all of refs' events; None when the timeout passes.

    With consume=False it only waits until they are there (and returns {}). `opened`: a wait
    registered earlier by the caller (before the action whose reply this is); it is cleared
    here either way.
    """
    plan = _plan(run, refs, data, need_all)
    if plan is not None:
        if opened is not None:
            await close_wait(run, opened)
        return _consume(run, plan) if consume else {}
    wait = opened or await open_wait(run, state, refs, data)
    run.note("waiting", state, events=list(refs))
    await run.report("waiting")
    found: dict[str, int] | None = None

    def ready() -> bool:
        nonlocal found
        found = _plan(run, refs, data, need_all)
        return found is not None

    try:
        await workflow.wait_condition(ready, timeout=timeout)
    except TimeoutError:
        found = None
    finally:
        await close_wait(run, wait)
    if found is None:
        run.note("event_timeout", state, events=list(refs))
        await run.report("running")
        return None
    await run.report("running")
    if not consume:
        return {}
    consumed = _consume(run, found)
    run.note("events", state, consumed=[e.get("type") for e in consumed.values()])
    return consumed


async def emit(
    run: Run,
    state: str | None,
    event_name: str,
    data: Any,
    context_attributes: dict[str, Any] | None = None,
) -> None:
    """Produce one CloudEvent through the outbox activity, with a stable dedupe key."""
    event_def = _event_def(run, event_name)
    await run.activity(
        ACT_EMIT_EVENT,
        EmitEvent(
            instance_id=run.inp.instance_id,
            event=dict(event_def.raw) or {"name": event_def.name, "type": event_def.type},
            data=data,
            context_attributes=context_attributes or {},
            dedupe_key=run.next_dedupe_key(f"event:{event_name}"),
        ),
    )
    run.note("produced", state, event=event_name)


async def produce(
    run: Run, state: str | None, events: tuple[ProducedEvent, ...], data: Any
) -> None:
    """Produce a transition's or end's `produceEvents`, in order, from the state data output."""
    for produced in events:
        payload = run.ev.payload(produced.data, data)
        attrs = run.ev.resolve(produced.context_attributes, data)
        await emit(run, state, produced.event_ref, payload, attrs)
