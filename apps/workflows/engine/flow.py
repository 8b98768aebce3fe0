"""Parallel and ForEach states (spec 0.8 "Parallel State", "ForEach State").

Parallel: every branch gets a copy of the state data and runs its actions in sequence (each
action sees the results before it in its branch); then the action results of the completed
branches are merged into the state data, branch by branch in definition order (spec: "action
execution results are added/merged to state data") - merging whole branch copies instead
would let one branch's untouched copy undo another's result. `allOf` waits for all;
`atLeast` for `numCompleted` and cancels the rest. A branch error cancels the others and
goes to the state's `onErrors` (spec "Parallel State Handling Exceptions").

ForEach: each iteration's data is the state data plus `iterationParam` bound to its element;
its actions run in sequence; the iteration's result is the merge of its actions' results;
results are appended, in input order, to the `outputCollection` array.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from temporalio import workflow

from apps.workflows.dsl.expressions import is_expression, strip_wrapper
from apps.workflows.dsl.model import Action, Branch, ForEachState, ParallelState
from apps.workflows.engine import data as datamod
from apps.workflows.engine.actions import Scope, apply, perform
from apps.workflows.engine.context import Run
from apps.workflows.engine.errors import DATA_ERROR, WorkflowError
from apps.workflows.engine.states import Box, Outcome, follow
from apps.workflows.engine.timeouts import branch_timeout, limit

DEFAULT_ITERATION_PARAM = "item"


async def _cancel_all(tasks: list[asyncio.Future[Any]]) -> None:
    for task in tasks:
        if not task.done():
            task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def _run_branch(
    run: Run, scope: Scope, branch: Branch, data: Any
) -> list[tuple[Action, Any]]:
    """Run a branch's actions on its own copy of the data; the (action, result) pairs."""
    applied: list[tuple[Action, Any]] = []
    for action in branch.actions:
        ran, result = await perform(run, scope, action, data)
        if ran:
            data = apply(run, action, data, result)
            applied.append((action, result))
    return applied


async def _branch(
    run: Run, state: ParallelState, branch: Branch, data: Any
) -> list[tuple[Action, Any]]:
    step = _run_branch(run, Scope(state, branch), branch, copy.deepcopy(data))
    return await limit(step, branch_timeout(run.workflow, state, branch), f"branch '{branch.name}'")


async def parallel(run: Run, state: ParallelState, box: Box) -> Outcome:
    if not state.branches:
        return follow(state)
    needed = len(state.branches)
    if state.completion_type == "atLeast":
        needed = max(1, min(state.num_completed or needed, needed))
    tasks = [asyncio.ensure_future(_branch(run, state, b, box.data)) for b in state.branches]
    done: dict[int, list[tuple[Action, Any]]] = {}
    try:
        while len(done) < needed:
            await workflow.wait(
                [t for t in tasks if not t.done()], return_when=asyncio.FIRST_COMPLETED
            )
            for i, task in enumerate(tasks):
                if task.done() and i not in done:
                    done[i] = task.result()  # raises the branch's error
    finally:
        await _cancel_all(tasks)
    for i in sorted(done):
        for action, result in done[i]:
            box.data = apply(run, action, box.data, result)
    run.note("branches", state.name, completed=[state.branches[i].name for i in sorted(done)])
    return follow(state)


async def _iteration(run: Run, state: ForEachState, param: str, element: Any, data: Any) -> Any:
    """One iteration: actions over the state data + iterationParam; the merged results."""
    scope = Scope(state)
    local = dict(data) if isinstance(data, dict) else {}
    local[param] = element
    output: Any = None
    action: Action
    for action in state.actions:
        ran, result = await perform(run, scope, action, local)
        if not ran:
            continue
        flt = action.action_data_filter
        local = datamod.apply_action_results(run.ev, flt, local, result)
        selected = datamod.filter_results(run.ev, flt, result) if flt.use_results else None
        if selected is not None:
            output = selected if output is None else datamod.merge(output, selected)
    return output


def _param_name(param: str | None) -> str:
    """The iteration variable's name; the spec's example 28 writes it as `${ .tx }`."""
    if not param:
        return DEFAULT_ITERATION_PARAM
    name = strip_wrapper(param) if is_expression(param) else param
    return name.lstrip(".").strip() or DEFAULT_ITERATION_PARAM


async def foreach(run: Run, state: ForEachState, box: Box) -> Outcome:
    collection = run.ev(state.input_collection, box.data)
    if not isinstance(collection, list):
        # Spec: "If this array does not exist, the runtime should throw an error."
        raise WorkflowError(
            DATA_ERROR, f"inputCollection '{state.input_collection}' does not select an array"
        )
    param = _param_name(state.iteration_param)
    results: list[Any] = []
    if state.mode == "sequential":
        for element in collection:
            results.append(await _iteration(run, state, param, element, box.data))
    else:
        size = state.batch_size if state.batch_size and state.batch_size > 0 else len(collection)
        for start in range(0, len(collection), max(size, 1)):
            batch = collection[start : start + size]
            tasks = [
                asyncio.ensure_future(_iteration(run, state, param, e, box.data)) for e in batch
            ]
            try:
                results.extend(await asyncio.gather(*tasks))
            except BaseException:
                await _cancel_all(tasks)
                raise
    if state.output_collection:
        path = run.ev.path(state.output_collection, box.data)
        current = datamod.get_path(box.data, path)
        existing = list(current) if isinstance(current, list) else []
        box.data = datamod.set_path(box.data, path, existing + results)
    run.note("iterations", state.name, count=len(collection))
    return follow(state)
