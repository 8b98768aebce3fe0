"""Actions (spec 0.8 "Action Definition"): functions, event-triggered functions, subflows.

Each action: `condition` -> `sleep.before` -> invoke (with the definition's retries and the
action timeout) -> `sleep.after` -> merge the result into the state data through its
`actionDataFilter`. Expression functions run here, in the workflow; rest/graphql/custom
functions are activities routed by contracts.CUSTOM_PREFIXES; subflows are child workflows
of this same interpreter.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import is_cancelled_exception
from temporalio.workflow import ParentClosePolicy

from apps.core import search_attributes as sa
from apps.workflows.dsl.expressions import is_true
from apps.workflows.dsl.model import Action, Branch, FunctionDef, FunctionRef, State
from apps.workflows.engine import data as datamod
from apps.workflows.engine import errors
from apps.workflows.engine.context import (
    DEFAULT_ACTIVITY_TIMEOUT,
    INFRA_RETRY,
    Run,
    seconds,
    task_queue,
)
from apps.workflows.engine.contracts import (
    ACT_CALL_FUNCTION,
    ACT_RESOLVE_SUBFLOW,
    ASYNC_CALL_WORKFLOW,
    CUSTOM_PREFIXES,
    INTERPRETER_WORKFLOW,
    QUEUE_ENGINE,
    AsyncCall,
    FunctionCall,
    InterpreterInput,
    SubflowRequest,
    SubflowResolved,
    workflow_id_for,
)
from apps.workflows.engine.data import event_payload
from apps.workflows.engine.errors import DATA_ERROR, TIMEOUT, WorkflowError
from apps.workflows.engine.events import close_wait, emit, open_wait, wait_for_events
from apps.workflows.engine.timeouts import action_timeout, limit


@dataclass
class Scope:
    """Where an action runs: its state (and branch), for timeouts, names and errors."""

    state: State
    branch: Branch | None = None

    @property
    def name(self) -> str:
        return self.state.name


def route(function: FunctionDef) -> tuple[str, str]:
    """(task queue, activity name) for a non-expression function."""
    if (
        function.type == "custom"
        and isinstance(function.operation, str)
        and ":" in function.operation
    ):
        prefix = function.operation.split(":", 1)[0]
        if prefix in CUSTOM_PREFIXES:
            return CUSTOM_PREFIXES[prefix]
    return QUEUE_ENGINE, ACT_CALL_FUNCTION


def _auth(run: Run, function: FunctionDef, data: Any) -> dict[str, Any] | None:
    if not function.auth_ref:
        return None
    auth = run.workflow.auth_by_name.get(function.auth_ref)
    if auth is None:
        raise WorkflowError(DATA_ERROR, f"there is no auth definition named '{function.auth_ref}'")
    # Properties may be expressions over $SECRETS: the activity has no other way to read them.
    return {
        "name": auth.name,
        "scheme": auth.scheme,
        "properties": run.ev.resolve(auth.properties, data),
    }


# A function call's worker sends a heartbeat every ~2 s: a lost worker is noticed in this
# long instead of at the end of the call's whole timeout.
CALL_HEARTBEAT = timedelta(seconds=10)
# Idempotency keys are opaque and ASCII (state and action names may be anything).
CALL_KEY_NAMESPACE = uuid.UUID("a3c0d6a4-52f1-4f7e-8d0b-3c2e9b7f1a55")


def _idempotency_key(run: Run, scope: Scope, action: Action) -> str:
    """Same for activity retries and replays (a replay recomputes the same sequence)."""
    raw = run.next_dedupe_key(f"call:{scope.name}:{action.label}")
    return f"xflow-{run.inp.instance_id}-{uuid.uuid5(CALL_KEY_NAMESPACE, raw).hex[:16]}"


def _summary_of(function: FunctionDef) -> str:
    operation = function.operation if isinstance(function.operation, str) else ""
    return f"{function.type}: {function.name}" + (f" ({operation[:80]})" if operation else "")


async def call_function(
    run: Run, scope: Scope, action: Action, ref: FunctionRef, data: Any, timeout: float | None
) -> Any:
    """Invoke a functionRef with the action's input data; returns the raw result."""
    function = run.workflow.functions_by_name.get(ref.ref_name)
    if function is None:
        raise WorkflowError(DATA_ERROR, f"there is no function named '{ref.ref_name}'")
    if function.type == "expression":
        # Spec: the input of an expression function is the current state data. Arguments,
        # when given, are evaluated and laid over it (they win on conflicts).
        source = data
        if ref.arguments:
            args = run.ev.resolve(ref.arguments, data)
            source = {**data, **args} if isinstance(data, dict) else args
        return run.ev(function.operation, source)
    queue, activity = route(function)
    queue = task_queue(queue)
    selection = ref.selection_set
    if selection and "${" in selection:
        selection = run.ev.interpolate(selection, data)
    call = FunctionCall(
        instance_id=run.inp.instance_id,
        state=scope.name,
        action=action.name,
        function=dict(function.raw) or {"name": function.name, "operation": function.operation},
        auth=_auth(run, function, data),
        arguments=run.ev.resolve(ref.arguments, data),
        selection_set=selection,
        invoke=ref.invoke,
        timeout_seconds=timeout,
        idempotency_key=_idempotency_key(run, scope, action),
    )
    start_to_close = timedelta(seconds=timeout + 5) if timeout else DEFAULT_ACTIVITY_TIMEOUT
    heartbeat = CALL_HEARTBEAT if activity == ACT_CALL_FUNCTION else None
    if ref.invoke == "async":
        # Fire and forget (spec: the workflow "should not wait until its completion"): a
        # small workflow of its own makes the call, so this instance may move on and even
        # end while it runs; it writes the outcome on this instance's timeline.
        await workflow.start_child_workflow(
            ASYNC_CALL_WORKFLOW,
            AsyncCall(
                call=call,
                activity=activity,
                task_queue=queue,
                start_to_close_seconds=start_to_close.total_seconds(),
                heartbeat_seconds=heartbeat.total_seconds() if heartbeat else None,
                summary=_summary_of(function),
            ),
            id=f"{run.workflow_id}-async-{call.idempotency_key[-16:]}",
            task_queue=workflow.info().task_queue,
            parent_close_policy=ParentClosePolicy.ABANDON,
        )
        run.note("async_call", scope.name, action=action.label, function=function.name)
        return None
    token = run.action_started(scope.name, action.label, function.name)
    try:
        return await workflow.execute_activity(
            activity,
            call,
            task_queue=queue,
            start_to_close_timeout=start_to_close,
            heartbeat_timeout=heartbeat,
            retry_policy=INFRA_RETRY,
            summary=_summary_of(function),
        )
    finally:
        run.action_ended(token)


async def call_event(
    run: Run, scope: Scope, action: Action, data: Any, timeout: float | None
) -> Any:
    """eventRef: produce the trigger event, then (sync) wait for the result event's payload."""
    ref = action.event_ref
    assert ref is not None
    payload = run.ev.payload(ref.data, data)
    attrs = run.ev.resolve(ref.context_attributes, data)
    if ref.invoke == "async" or not ref.result_event_ref:
        await emit(run, scope.name, ref.trigger_event_ref, payload, attrs)
        return None
    # Waiting for the result event is registered before the trigger goes out: the reply
    # may come at once, and it must find this instance waiting.
    opened = await open_wait(run, scope.name, [ref.result_event_ref], data)
    try:
        await emit(run, scope.name, ref.trigger_event_ref, payload, attrs)
    except BaseException:
        await close_wait(run, opened)
        raise
    wait = seconds(ref.result_event_timeout) or timeout
    consumed = await wait_for_events(
        run,
        scope.name,
        [ref.result_event_ref],
        data,
        need_all=True,
        timeout=wait,
        opened=opened,
    )
    if consumed is None:
        raise WorkflowError(TIMEOUT, f"no '{ref.result_event_ref}' event arrived in time")
    event_def = run.workflow.events_by_name[ref.result_event_ref]
    return event_payload(event_def, consumed[ref.result_event_ref])


def _child_search_attributes(resolved: SubflowResolved) -> TypedSearchAttributes | None:
    """A child gets xflow's search attributes when its parent has them (so they exist)."""
    if workflow.info().typed_search_attributes.get(sa.STATUS) is None:
        return None
    return TypedSearchAttributes(
        [
            SearchAttributePair(sa.DEFINITION, resolved.definition_key),
            SearchAttributePair(sa.VERSION, resolved.version),
            SearchAttributePair(sa.STATUS, "running"),
        ]
    )


async def call_subflow(run: Run, scope: Scope, action: Action, data: Any) -> Any:
    """subFlowRef: a child interpreter workflow; sync waits for its output, async does not."""
    ref = action.sub_flow_ref
    assert ref is not None
    resolved: SubflowResolved = await run.activity(
        ACT_RESOLVE_SUBFLOW,
        SubflowRequest(
            parent_instance_id=run.inp.instance_id,
            workflow_id=ref.workflow_id,
            version=ref.version,
            invoke=ref.invoke,
            on_parent_complete=ref.on_parent_complete,
        ),
        result_type=SubflowResolved,
    )
    child = InterpreterInput(
        instance_id=resolved.instance_id,
        definition=resolved.definition,
        definition_key=resolved.definition_key,
        version=resolved.version,
        input=data,
        envs=resolved.envs,
        secrets=resolved.secrets,
        parent_instance_id=run.inp.instance_id,
        end_via_writer=run.inp.end_via_writer,
    )
    child_id = workflow_id_for(resolved.instance_id)
    attributes = _child_search_attributes(resolved)
    if ref.invoke == "async":
        policy = (
            ParentClosePolicy.ABANDON
            if ref.on_parent_complete == "continue"
            else ParentClosePolicy.TERMINATE
        )
        await workflow.start_child_workflow(
            INTERPRETER_WORKFLOW,
            child,
            id=child_id,
            task_queue=workflow.info().task_queue,
            parent_close_policy=policy,
            search_attributes=attributes,
        )
        run.note(
            "subflow_started", scope.name, workflow=ref.workflow_id, instance=resolved.instance_id
        )
        return None
    run.note("subflow", scope.name, workflow=ref.workflow_id, instance=resolved.instance_id)
    return await workflow.execute_child_workflow(
        INTERPRETER_WORKFLOW,
        child,
        id=child_id,
        task_queue=workflow.info().task_queue,
        parent_close_policy=ParentClosePolicy.TERMINATE,
        search_attributes=attributes,
    )


async def _invoke(run: Run, scope: Scope, action: Action, data: Any, timeout: float | None) -> Any:
    if action.function_ref is not None:
        return await call_function(run, scope, action, action.function_ref, data, timeout)
    if action.event_ref is not None:
        return await call_event(run, scope, action, data, timeout)
    if action.sub_flow_ref is not None:
        return await call_subflow(run, scope, action, data)
    raise WorkflowError(DATA_ERROR, f"action '{action.label}' references nothing to invoke")


def _is_async(action: Action) -> bool:
    ref = action.function_ref or action.event_ref or action.sub_flow_ref
    return getattr(ref, "invoke", "sync") == "async"


async def invoke_with_retries(run: Run, scope: Scope, action: Action, data: Any) -> Any:
    """Invoke once per attempt under actionExecTimeout; retry as the definition says."""
    timeout = action_timeout(run.workflow, scope.state, scope.branch)
    attempt, delay = 1, None
    while True:
        try:
            step = _invoke(run, scope, action, data, timeout)
            result = await limit(step, timeout, f"action '{action.label}'")
            run.note("action", scope.name, action=action.label, result=_summary(result))
            return result
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure becomes a WorkflowError
            if is_cancelled_exception(exc):
                # The activity/child was cancelled because this step was (a timeout, an
                # interrupt): propagate the cancellation, it is not an error of the action.
                raise asyncio.CancelledError() from exc
            err = errors.from_exception(exc)
            # Async invocations ignore their retry definition (spec: FunctionRef `invoke`).
            strategy = (
                None if _is_async(action) else errors.retry_strategy(run.workflow, action, err)
            )
            limit_attempts = errors.max_attempts(strategy) if strategy else 1
            if strategy is None or (limit_attempts is not None and attempt >= limit_attempts):
                run.note(
                    "action_failed",
                    scope.name,
                    action=action.label,
                    error=err.code,
                    message=err.message,
                    attempts=attempt,
                )
                raise err from None
            delay = errors.next_delay(strategy, delay, workflow.random())
            run.note(
                "retry",
                scope.name,
                action=action.label,
                attempt=attempt,
                error=err.code,
                delay=delay,
            )
            await workflow.sleep(delay)
            attempt += 1


SUMMARY_CHARS = 300


def _summary(result: Any) -> Any:
    """A result as the timeline shows it: small values as they are, big ones cut short."""
    text = json.dumps(result, ensure_ascii=False, default=str)
    return result if len(text) <= SUMMARY_CHARS else text[:SUMMARY_CHARS] + "…"


async def perform(run: Run, scope: Scope, action: Action, data: Any) -> tuple[bool, Any]:
    """Run one action on the state data; (ran, raw result). Skipped when condition is false."""
    if action.condition is not None and not is_true(run.ev(action.condition, data)):
        return False, None
    if action.sleep_before:
        await workflow.sleep(seconds(action.sleep_before) or 0)
    action_data = datamod.action_input(run.ev, action.action_data_filter, data)
    result = await invoke_with_retries(run, scope, action, action_data)
    if action.sleep_after:
        await workflow.sleep(seconds(action.sleep_after) or 0)
    return not _is_async(action), result


def apply(run: Run, action: Action, data: Any, result: Any) -> Any:
    return datamod.apply_action_results(run.ev, action.action_data_filter, data, result)


async def run_actions(
    run: Run, scope: Scope, actions: tuple[Action, ...], mode: str, data: Any
) -> Any:
    """Run actions sequentially (each sees the previous results) or in parallel; new data."""
    if mode == "parallel" and len(actions) > 1:
        outcomes = await _gather(*(perform(run, scope, a, data) for a in actions))
        for action, (ran, result) in zip(actions, outcomes, strict=True):
            if ran:
                data = apply(run, action, data, result)
        return data
    for action in actions:
        ran, result = await perform(run, scope, action, data)
        if ran:
            data = apply(run, action, data, result)
    return data


async def _gather(*steps: Any) -> list[Any]:
    """asyncio.gather that cancels the siblings when one step fails."""
    tasks = [asyncio.ensure_future(s) for s in steps]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise
