"""Compensation (spec 0.8 "Workflow Compensation").

Every successfully completed state that defines `compensatedBy` is pushed on the run's
compensation stack. When a transition or end sets `compensate: true`, the stack is unwound
in reverse order, sequentially: each compensating state (and the usedForCompensation states
it transitions to) runs with the current data, its output feeding the next one. Ends inside
compensation chains are ignored (spec); an unhandled error stops the workflow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from apps.workflows.dsl.model import State
from apps.workflows.engine.context import Run

# (state, data) -> (data output, next state name or None)
StateStep = Callable[[State, Any], Awaitable[tuple[Any, str | None]]]


async def compensate(run: Run, data: Any, step: StateStep) -> Any:
    """Unwind the compensation stack; returns the data after the last compensating state."""
    while run.compensation:
        compensated = run.workflow.state(run.compensation.pop())
        name: str | None = compensated.compensated_by
        run.note("compensating", compensated.name, by=name)
        seen = 0
        while name is not None:
            data, name = await step(run.workflow.state(name), data)
            seen += 1
            if seen > len(run.workflow.states):  # a loop among compensating states
                break
    return data
