"""The interpreter: ONE generic Temporal workflow that runs any Serverless Workflow 0.8 definition.

Deterministic by construction (DESIGN rule 5): no I/O, no wall clock, no randomness but the
workflow APIs; every effect is an activity named in `contracts`. The sandbox re-executes this
module for every run, so it holds only the workflow class; the logic (runner, states, data,
jq expressions, the parsed-definition cache) is imported passed-through.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from apps.workflows.engine.context import INFRA_RETRY, REPORT_TIMEOUT
    from apps.workflows.engine.contracts import (
        ACT_NOTE_INSTANCE,
        ASYNC_CALL_WORKFLOW,
        INTERPRETER_WORKFLOW,
        QUERY_STATUS,
        SIGNAL_EVENT,
        SIGNAL_TASK,
        AsyncCall,
        InstanceNote,
        InterpreterInput,
        TaskSignal,
    )
    from apps.workflows.engine.runner import Interpretation


@workflow.defn(name=INTERPRETER_WORKFLOW)
class Interpreter:
    """Interprets the definition carried in InterpreterInput; returns the workflow data output."""

    def __init__(self) -> None:
        self._it = Interpretation()

    @workflow.signal(name=SIGNAL_EVENT)
    def on_event(self, event: dict[str, Any]) -> None:
        """A CloudEvent (attributes + data); buffered until a state consumes it."""
        self._it.on_event(event)

    @workflow.signal(name=SIGNAL_TASK)
    def on_task(self, signal: TaskSignal) -> None:
        """A user task completed, was deleted or timed out."""
        self._it.on_task(signal)

    @workflow.query(name=QUERY_STATUS)
    def status(self) -> dict[str, Any]:
        """Current states, state data, visited states and the timeline."""
        return self._it.status()

    @workflow.run
    async def run(self, inp: InterpreterInput) -> Any:
        return await self._it.execute(inp)


@workflow.defn(name=ASYNC_CALL_WORKFLOW)
class AsyncCallWorkflow:
    """One `invoke: async` call, apart from its instance: made once, its outcome noted."""

    @workflow.run
    async def run(self, job: AsyncCall) -> None:
        call = job.call
        try:
            await workflow.execute_activity(
                job.activity,
                call,
                task_queue=job.task_queue,
                start_to_close_timeout=timedelta(seconds=job.start_to_close_seconds),
                heartbeat_timeout=timedelta(seconds=job.heartbeat_seconds)
                if job.heartbeat_seconds
                else None,
                retry_policy=INFRA_RETRY,
                summary=job.summary,
            )
            note = InstanceNote(
                call.instance_id,
                "async_call_done",
                call.state,
                {"action": call.action, "function": call.function.get("name")},
            )
        except ActivityError as exc:
            cause = exc.cause
            detail = (
                cause.details[0] if isinstance(cause, ApplicationError) and cause.details else {}
            )
            note = InstanceNote(
                call.instance_id,
                "async_call_failed",
                call.state,
                {
                    "action": call.action,
                    "function": call.function.get("name"),
                    "error": detail.get("code") if isinstance(detail, dict) else None,
                    "message": str(getattr(cause, "message", None) or cause or exc),
                },
            )
        await workflow.execute_activity(
            ACT_NOTE_INSTANCE,
            note,
            start_to_close_timeout=REPORT_TIMEOUT,
            summary=f"timeline: {note.kind}",
        )


def interpreter_workflows() -> list[type]:
    """The workflow classes a worker registers."""
    return [Interpreter, AsyncCallWorkflow]


def interpreter_runner() -> Any:
    """A sandbox runner passing the pure engine modules through (optional, for workers).

    With it the sandbox also skips re-executing this module per run; measured ~10-20% more
    throughput on the engine benchmark. The default runner works too.
    """
    from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

    restrictions = SandboxRestrictions.default.with_passthrough_modules(
        "apps.workflows.engine",
        "apps.workflows.dsl",
        "apps.core.jqeval",
        "apps.core.search_attributes",
        "jq",
    )
    return SandboxedWorkflowRunner(restrictions=restrictions)
