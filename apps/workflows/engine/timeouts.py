"""Effective timeouts (spec 0.8 "Workflow Timeouts") and running a step under one.

State and branch settings override the workflow's top-level `timeouts`; anything not set is
unlimited. Timers are workflow timers (asyncio.wait_for on the Temporal event loop).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from temporalio.exceptions import is_cancelled_exception

from apps.workflows.dsl.model import Branch, State, Timeouts, Workflow
from apps.workflows.engine.context import seconds
from apps.workflows.engine.errors import TIMEOUT, WorkflowError

T = TypeVar("T")


def _pick(*candidates: Timeouts | None, attr: str) -> Any:
    for timeouts in candidates:
        if timeouts is not None and getattr(timeouts, attr):
            return getattr(timeouts, attr)
    return None


def state_timeout(workflow: Workflow, state: State) -> float | None:
    """stateExecTimeout in seconds: the smaller of `single` and `total` when both are set."""
    value = _pick(state.timeouts, workflow.timeouts, attr="state_exec_timeout")
    if value is None:
        return None
    limits = [s for s in (seconds(value.total), seconds(value.single)) if s is not None]
    return min(limits) if limits else None


def action_timeout(workflow: Workflow, state: State, branch: Branch | None = None) -> float | None:
    branch_t = branch.timeouts if branch else None
    return seconds(_pick(branch_t, state.timeouts, workflow.timeouts, attr="action_exec_timeout"))


def branch_timeout(workflow: Workflow, state: State, branch: Branch) -> float | None:
    return seconds(
        _pick(branch.timeouts, state.timeouts, workflow.timeouts, attr="branch_exec_timeout")
    )


def event_timeout(workflow: Workflow, state: State) -> float | None:
    return seconds(_pick(state.timeouts, workflow.timeouts, attr="event_timeout"))


async def _cancellable(step: Awaitable[T]) -> T:
    """Report an activity/child cancelled by our timeout as a cancellation, not an error."""
    try:
        return await step
    except Exception as exc:
        if is_cancelled_exception(exc):
            raise asyncio.CancelledError() from exc
        raise


async def limit(step: Awaitable[T], limit_seconds: float | None, what: str) -> T:
    """Await step; past the limit, cancel it and raise a Timeout workflow error."""
    if limit_seconds is None:
        return await step
    try:
        return await asyncio.wait_for(_cancellable(step), timeout=limit_seconds)
    except TimeoutError:
        raise WorkflowError(TIMEOUT, f"{what} timed out after {limit_seconds:g}s") from None
