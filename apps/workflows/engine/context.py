"""What one running instance knows: definition, variables, buffers, timeline, counters.

Pure module (passed through the sandbox); it calls only `temporalio.workflow` APIs, which
are deterministic. The interpreter owns one `Run` per execution and hands it to the state
handlers; `carry()` is what survives continue-as-new.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, is_cancelled_exception

from apps.core import search_attributes as sa
from apps.workflows.dsl.durations import DurationError, parse_duration
from apps.workflows.dsl.model import Workflow
from apps.workflows.engine import live
from apps.workflows.engine.contracts import (
    ACT_INSTANCE_CHANGED,
    QUEUE_ENGINE,
    InstanceChanged,
    InterpreterInput,
    TaskSignal,
)
from apps.workflows.engine.data import Evaluator
from apps.workflows.engine.errors import DATA_ERROR, WorkflowError, from_exception

# Activities retry infrastructure failures (worker death, activity timeouts) with backoff;
# business errors are raised non-retryable by the activities and retried by the interpreter
# following the definition's retry strategy instead. Function calls give up after 10
# attempts (the action then fails and onErrors/retries of the definition apply); the
# engine's own activities (mirror, outbox, waits, tasks) must succeed eventually, so they
# retry until they do.
INFRA_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
    maximum_attempts=10,
)
ENGINE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    backoff_coefficient=2.0,
    maximum_interval=timedelta(seconds=60),
)
DEFAULT_ACTIVITY_TIMEOUT = timedelta(minutes=5)  # a function call without a timeout
# The platform's own activities (waits, outbox, tasks, subflow rows) are short database
# work: a worker lost in the middle is noticed after this, not after minutes.
ENGINE_ACTIVITY_TIMEOUT = timedelta(seconds=30)
REPORT_TIMEOUT = timedelta(seconds=30)
TIMELINE_KEEP = 200  # entries kept in memory and carried over continue-as-new
LONG_WAIT = timedelta(seconds=60)  # sleeps at least this long are reported as waiting


def task_queue(name: str) -> str:
    """The queue to schedule on, keeping the prefix of the interpreter's own queue.

    Deployments (and tests, benchmarks) may prefix every queue name: the interpreter runs on
    `<prefix>xflow-engine`, so its activities go to `<prefix>xflow-tasks` and so on.
    """
    own = workflow.info().task_queue
    if own.endswith(QUEUE_ENGINE):
        return own[: -len(QUEUE_ENGINE)] + name
    return name


def _timeout(limit: float | None) -> timedelta:
    return timedelta(seconds=limit) if limit else ENGINE_ACTIVITY_TIMEOUT


def seconds(text: str | None) -> float | None:
    """An ISO duration in seconds (None stays None: unlimited)."""
    if not text:
        return None
    try:
        return parse_duration(text).total_seconds()
    except DurationError as exc:
        # A bad duration in the definition fails the state, it must not wedge the worker.
        raise WorkflowError(DATA_ERROR, str(exc)) from None


@dataclass
class Run:
    """The mutable state of one interpreter execution."""

    workflow: Workflow
    inp: InterpreterInput
    ev: Evaluator
    events: list[dict[str, Any]]  # buffered CloudEvents not consumed yet (signal handler fills)
    tasks: dict[str, TaskSignal]  # first signal per task id (signal handler fills)
    timeline: list[dict[str, Any]] = field(default_factory=list)
    reported: int = 0  # timeline entries already sent with instance_changed
    published: int = 0  # timeline entries already handed to the live sink
    pending: list[dict[str, Any]] = field(default_factory=list)  # actions in flight
    visited: list[str] = field(default_factory=list)
    current: list[str] = field(default_factory=list)
    correlation: dict[str, Any] = field(default_factory=dict)
    compensation: list[str] = field(default_factory=list)  # completed states with compensatedBy
    emit_seq: int = 0
    wait_seq: int = 0
    seq: int = 0
    status: str = "running"
    data: Any = None
    # `invoke: async` activities: the flow does not wait for them, but the execution must
    # not close before they ran (Temporal drops what a closing workflow still schedules).
    background: list[asyncio.Future[Any]] = field(default_factory=list)

    @property
    def workflow_id(self) -> str:
        return workflow.info().workflow_id

    def note(self, kind: str, state: str | None = None, **details: Any) -> None:
        """Append a timeline entry (kind, state, time, details)."""
        # seq numbers entries across retries and continue-as-new, so the mirror stores each once.
        self.seq += 1
        entry: dict[str, Any] = {
            "kind": kind,
            "state": state,
            "time": workflow.now().isoformat(),
            "seq": self.seq,
        }
        if details:
            entry["details"] = details
        self.timeline.append(entry)
        if len(self.timeline) > TIMELINE_KEEP * 2:
            drop = len(self.timeline) - TIMELINE_KEEP
            del self.timeline[:drop]
            self.reported = max(self.reported - drop, 0)
            self.published = max(self.published - drop, 0)

    def enter(self, state: str) -> None:
        self.current = [state]
        if not self.visited or self.visited[-1] != state:
            self.visited.append(state)
            if len(self.visited) > TIMELINE_KEEP:
                del self.visited[: len(self.visited) - TIMELINE_KEEP]
        self.note("state", state)
        self.publish()

    def show_status(self, status: str) -> None:
        """Keep the XflowStatus search attribute current (only on workflows started with it:
        the check reads the run's own start, so replays decide the same)."""
        if workflow.info().typed_search_attributes.get(sa.STATUS) is not None:
            workflow.upsert_search_attributes([sa.STATUS.value_set(status)])

    def publish(self) -> None:
        """Show operators where the instance is now (best effort, see `engine.live`)."""
        fresh = self.timeline[self.published :]
        self.published = len(self.timeline)
        live.publish(
            {
                "instance_id": self.inp.instance_id,
                "seq": self.seq,
                "status": self.status,
                "current_states": list(self.current),
                "visited_states": list(self.visited),
                "pending_actions": list(self.pending),
                "timeline": fresh,
            }
        )

    def action_started(self, state: str, action: str, function: str) -> dict[str, Any]:
        """Record an action in flight (shown live); hand the token to `action_ended`."""
        token = {
            "state": state,
            "action": action,
            "function": function,
            "since": workflow.now().isoformat(),
        }
        self.pending.append(token)
        self.publish()
        return token

    def action_ended(self, token: dict[str, Any]) -> None:
        if token in self.pending:
            self.pending.remove(token)
        self.publish()

    def next_dedupe_key(self, what: str) -> str:
        """A key stable across replays and retries: first run id + a carried sequence."""
        self.emit_seq += 1
        return f"{workflow.info().first_execution_run_id}:{what}:{self.emit_seq}"

    def next_wait_id(self, state: str) -> str:
        self.wait_seq += 1
        return f"{state}:{self.wait_seq}"

    async def finish(
        self, status: str, *, output: Any = None, error: dict[str, Any] | None = None
    ) -> None:
        """Report the instance's end: a report, or (`end_via_writer`) the worker's writer.

        Through the writer the end is off the critical path: the run completes without
        waiting for Postgres (a local activity costs every instance one more activation).
        The writer applies it as a report would (`mirror.apply_final_reports`) within a
        fraction of a second, retrying a row not visible yet; if the worker dies first, the
        reconciler reads the outcome from Temporal and repairs the row (saying so on the
        timeline).
        """
        if not self.inp.end_via_writer:
            await self.report(status, output=output, error=error)
            return
        if status != self.status:
            self.show_status(status)
        self.status = status
        fresh = self.timeline[self.reported :]
        self.reported = self.published = len(self.timeline)
        live.publish(
            {
                "final": True,
                "instance_id": self.inp.instance_id,
                "workflow_id": workflow.info().workflow_id,
                "seq": self.seq,
                "status": status,
                "current_states": list(self.current),
                "visited_states": list(self.visited),
                "pending_actions": [],
                "timeline": fresh,
                "output": output,
                "error": error,
            }
        )

    async def report(
        self, status: str, *, output: Any = None, error: dict[str, Any] | None = None
    ) -> None:
        """Send status + new timeline entries to the Postgres mirror (a local activity: cheap)."""
        if status != self.status:
            self.show_status(status)
        self.status = status
        fresh = self.timeline[self.reported :]
        self.reported = len(self.timeline)
        self.published = max(self.published, self.reported)
        await workflow.execute_local_activity(
            ACT_INSTANCE_CHANGED,
            InstanceChanged(
                instance_id=self.inp.instance_id,
                status=status,
                current_states=list(self.current),
                output=output,
                error=error,
                timeline=fresh,
                visited_states=list(self.visited),
                seq=self.seq,
                pending_actions=list(self.pending),
            ),
            summary=f"mirror: {status}",
            start_to_close_timeout=REPORT_TIMEOUT,
            retry_policy=ENGINE_RETRY,
        )

    async def activity(
        self,
        name: str,
        arg: Any,
        *,
        queue: str = QUEUE_ENGINE,
        timeout: float | None = None,
        result_type: type | None = None,
    ) -> Any:
        """Run one activity with the engine's infrastructure retry policy."""
        try:
            return await workflow.execute_activity(
                name,
                arg,
                task_queue=task_queue(queue),
                start_to_close_timeout=_timeout(timeout),
                retry_policy=ENGINE_RETRY,
                result_type=result_type,
                summary=name.removeprefix("xflow."),
            )
        except ActivityError as exc:
            if is_cancelled_exception(exc):
                raise  # the state was cancelled (a timeout, an interrupt): not a failure
            # A refusal by a platform service (non-retryable) is an error of the state the
            # definition may handle — never an exception that wedges the workflow task.
            raise from_exception(exc) from None

    async def settle(self) -> None:
        """Let fire-and-forget invocations finish (their errors are ignored, per the spec)."""
        while self.background:
            pending, self.background = self.background, []
            await asyncio.gather(*pending, return_exceptions=True)

    def snapshot(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "current_states": list(self.current),
            "data": self.data,
            "visited_states": list(self.visited),
            "timeline": list(self.timeline),
        }

    def carry(self) -> dict[str, Any]:
        """What continue-as-new hands to the next run."""
        return {
            "timeline": self.timeline[-TIMELINE_KEEP:],
            "visited": self.visited[-TIMELINE_KEEP:],
            "correlation": dict(self.correlation),
            "compensation": list(self.compensation),
            "emit_seq": self.emit_seq,
            "wait_seq": self.wait_seq,
            "seq": self.seq,
            "events": list(self.events),
            "tasks": {k: vars(v) for k, v in self.tasks.items()},
        }

    def restore(self, carry: dict[str, Any]) -> None:
        self.timeline = list(carry.get("timeline") or [])
        self.reported = self.published = len(self.timeline)
        self.visited = list(carry.get("visited") or [])
        self.correlation = dict(carry.get("correlation") or {})
        self.compensation = list(carry.get("compensation") or [])
        self.emit_seq = int(carry.get("emit_seq") or 0)
        self.seq = int(carry.get("seq") or 0)
        self.wait_seq = int(carry.get("wait_seq") or 0)
        self.events[:0] = list(carry.get("events") or [])
        for task_id, sig in (carry.get("tasks") or {}).items():
            self.tasks.setdefault(task_id, TaskSignal(**sig))
