"""The interpreter's main loop: states, transitions, ends, timeouts and continue-as-new.

Pure module, imported passed-through by `interpreter.py` (whose workflow class only holds
the signal/query handlers and delegates here): the sandbox re-executes the workflow's own
module on every run, so keeping the logic here keeps that per-run cost small. Everything
here is deterministic: only `temporalio.workflow` APIs, no I/O, clock or randomness. No
imports inside functions: at run time the sandbox's importer would handle them.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from jsonschema.validators import validator_for
from temporalio import workflow
from temporalio.exceptions import ApplicationError

import apps.workflows.engine.flow as flow
import apps.workflows.engine.states as states
import apps.workflows.engine.usertask as usertask
from apps.workflows.dsl.model import End, ModelError, State, parse_workflow
from apps.workflows.engine.compensation import compensate
from apps.workflows.engine.context import Run, seconds
from apps.workflows.engine.contracts import (
    ACT_RESOLVE_SUBFLOW,
    InterpreterInput,
    SubflowRequest,
    SubflowResolved,
    TaskSignal,
)
from apps.workflows.engine.data import Evaluator, state_input, state_output
from apps.workflows.engine.errors import DATA_ERROR, INVALID_INPUT, WorkflowError, find_handler
from apps.workflows.engine.events import produce
from apps.workflows.engine.timeouts import limit, state_timeout

HANDLERS = {
    "operation": states.operation,
    "inject": states.inject,
    "sleep": states.sleep,
    "switch": states.switch,
    "event": states.event,
    "callback": states.callback,
    "parallel": flow.parallel,
    "foreach": flow.foreach,
    "usertask": usertask.usertask,
}
# Continue as new at a state boundary when Temporal suggests it (history size) or after this
# many transitions in one run, whichever comes first: a looping definition never hits the
# history limits.
MAX_TRANSITIONS_PER_RUN = 2000
SEEN_EVENT_IDS = 1000  # CloudEvent ids remembered to drop redeliveries


def check_input(spec: Any, data: Any) -> None:
    """Validate the workflow input against an inline `dataInputSchema` before any state runs.

    Spec (Workflow Definition Structure): `failOnValidationErrors` defaults to true. A schema
    given by URI needs I/O: the platform's start service checks those before starting.
    """
    fail = True
    if isinstance(spec, dict) and "schema" in spec:
        fail = spec.get("failOnValidationErrors", True) is not False
        spec = spec["schema"]
    if not isinstance(spec, dict) or not fail:
        return
    problems = sorted(validator_for(spec)(spec).iter_errors(data), key=lambda e: list(e.path))
    if problems:
        where = "/".join(str(p) for p in problems[0].path) or "(the input)"
        raise WorkflowError(
            INVALID_INPUT,
            f"the input does not match dataInputSchema at {where}: {problems[0].message}",
        )


class Stopped(Exception):
    """The flow stopped at a state boundary because workflowExecTimeout passed (no interrupt)."""


class Interpretation:
    """One execution of a definition: buffers filled by signals, and the run itself."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []
        self.seen: list[tuple[Any, Any]] = []
        self.tasks: dict[str, TaskSignal] = {}
        self.run: Run | None = None
        self.stop = False
        self.transitions = 0
        self.exec_deadline: datetime | None = None
        self.exec_spec: dict[str, Any] | None = None

    # ------------------------------------------------------------ signals and queries

    def on_event(self, event: dict[str, Any]) -> None:
        key = (event.get("id"), event.get("source"))
        if key[0] is not None:
            if key in self.seen:
                return  # the same CloudEvent (id + source) delivered twice
            self.seen.append(key)
            del self.seen[:-SEEN_EVENT_IDS]
        self.events.append(event)

    def on_task(self, signal: TaskSignal) -> None:
        # Exactly once: the first signal for a task id wins, redeliveries are ignored.
        self.tasks.setdefault(signal.task_id, signal)

    def status(self) -> dict[str, Any]:
        if self.run is None:
            return {"status": "starting", "current_states": [], "data": None, "timeline": []}
        return self.run.snapshot()

    # ------------------------------------------------------------ the run

    async def execute(self, inp: InterpreterInput) -> Any:
        """Run the definition to its end; the workflow data output (spec: last state's output)."""
        try:
            definition = parse_workflow(inp.definition)
        except ModelError as exc:
            # Definitions are validated before they are published; this is a last guard so a
            # broken document fails its instance instead of retrying the workflow task.
            detail = {"type": "InvalidDefinition", "message": str(exc), "state": None}
            raise ApplicationError(str(exc), detail, type="InvalidDefinition") from None
        variables = {"CONST": definition.constants, "SECRETS": inp.secrets, "ENVS": inp.envs}
        run = Run(
            workflow=definition,
            inp=inp,
            ev=Evaluator(variables, definition.expression_functions),
            events=self.events,
            tasks=self.tasks,
        )
        if inp.carry:
            run.restore(inp.carry)
            # Redeliveries stay recognised across continue-as-new (ids + sources seen).
            for key in inp.carry.get("seen") or []:
                if isinstance(key, list) and len(key) == 2 and tuple(key) not in self.seen:
                    self.seen.append(tuple(key))
        self.run = run
        if inp.resume_state:
            name, data = inp.resume_state, inp.resume_data
        else:
            name = definition.start_state
            # Spec (Workflow Data Input): no input means an empty object.
            data = {} if inp.input is None else inp.input
            run.note("started", None, definition=inp.definition_key, version=inp.version)
        run.data = data
        try:
            if not inp.resume_state:
                check_input(definition.data_input_schema, data)
            status, output = await self._with_exec_timeout(run, name, data)
        except WorkflowError as err:
            detail = err.as_detail()
            await run.settle()
            run.note("failed", err.state, type=err.code, message=err.message)
            await run.finish("failed", error=detail)
            raise ApplicationError(err.message, detail, type=err.code, non_retryable=True) from None
        except asyncio.CancelledError:
            run.note("cancelled", run.current[0] if run.current else None)
            await asyncio.shield(asyncio.ensure_future(run.report("cancelled")))
            raise
        await run.settle()
        run.current = []
        run.note(status, None)
        await run.finish(status, output=output)
        return output

    def _deadline(self, run: Run) -> tuple[datetime | None, dict[str, Any] | None]:
        carry = run.inp.carry or {}
        spec = carry.get("exec_timeout")
        timeouts = run.workflow.timeouts
        if spec is None and timeouts and timeouts.workflow_exec_timeout:
            spec = asdict(timeouts.workflow_exec_timeout)
        if spec is None:
            return None, None
        if carry.get("deadline"):
            return datetime.fromisoformat(carry["deadline"]), spec
        return workflow.now() + timedelta(seconds=seconds(spec["duration"]) or 0), spec

    async def _with_exec_timeout(self, run: Run, name: str, data: Any) -> tuple[str, Any]:
        """Run the flow; past workflowExecTimeout stop it (interrupt, or at the next state)."""
        self.exec_deadline, self.exec_spec = self._deadline(run)
        spec = self.exec_spec
        if self.exec_deadline is None or spec is None:
            return await self._flow(run, name, data)
        task = asyncio.ensure_future(self._flow(run, name, data))
        remaining = max((self.exec_deadline - workflow.now()).total_seconds(), 0.001)
        done, _ = await workflow.wait([task], timeout=remaining)
        if task in done:
            return task.result()
        run.note("timed_out", run.current[0] if run.current else None)
        self.stop = True
        if spec.get("interrupt"):
            task.cancel()
        try:
            return await task
        except (Stopped, asyncio.CancelledError):
            pass
        output = run.data
        if spec.get("run_before"):
            # Spec (WorkflowExecTimeout): runBefore runs before the instance is terminated.
            self.stop = False
            _, output = await self._flow(run, spec["run_before"], output, boundary_checks=False)
        return "timed_out", output

    async def _flow(
        self, run: Run, name: str, data: Any, *, boundary_checks: bool = True
    ) -> tuple[str, Any]:
        """Execute states from `name` until an end; (final status, workflow output)."""
        while True:
            if boundary_checks and self.stop:
                raise Stopped()
            try:
                state = run.workflow.state(name)
            except ModelError as exc:
                raise WorkflowError(DATA_ERROR, str(exc)) from None
            data, outcome = await self.execute_state(run, state, data)
            transition = outcome.transition
            if transition is None:
                return await self._finish(run, state, outcome.end or End(), data)
            # Spec (End Definition, applied to transitions too): compensate, then produce.
            if transition.compensate:
                data = await compensate(run, data, self._compensation_step)
            await produce(run, state.name, transition.produce_events, data)
            name = transition.next_state
            run.data = data
            self.transitions += 1
            if boundary_checks and (
                self.transitions >= MAX_TRANSITIONS_PER_RUN
                or workflow.info().is_continue_as_new_suggested()
            ):
                await run.settle()
                self._continue_long_run(run, name, data)

    async def execute_state(self, run: Run, state: State, data: Any) -> tuple[Any, states.Outcome]:
        """One state: input filter, handler under stateExecTimeout, onErrors, output filter."""
        run.enter(state.name)
        box = states.Box(data)
        handler = HANDLERS.get(state.type)
        try:
            if handler is None:
                raise WorkflowError("UnknownState", f"state type '{state.type}' is not supported")
            box.data = state_input(run.ev, state.state_data_filter, data)
            run.data = box.data
            step = handler(run, state, box)  # type: ignore[operator]
            # A callback state times its own wait (see states.callback); others fail on it.
            limit_s = None if state.type == "callback" else state_timeout(run.workflow, state)
            outcome = await limit(step, limit_s, f"state '{state.name}'")
            output = state_output(run.ev, state.state_data_filter, box.data)
        except WorkflowError as err:
            if err.state is None:
                err.state, err.state_data = state.name, data
            found = find_handler(run.workflow, state.on_errors, err)
            run.note("error", state.name, code=err.code, message=err.message, handled=bool(found))
            if found is None:
                raise
            # The error's target receives the state data reached so far (no output filter:
            # the state did not complete).
            run.data = box.data
            return box.data, states.Outcome(transition=found.transition, end=found.end)
        if state.compensated_by:
            run.compensation.append(state.name)
        run.data = output
        return output, outcome

    async def _compensation_step(self, state: State, data: Any) -> tuple[Any, str | None]:
        assert self.run is not None
        output, outcome = await self.execute_state(self.run, state, data)
        return output, outcome.transition.next_state if outcome.transition else None

    async def _finish(self, run: Run, state: State, end: End, data: Any) -> tuple[str, Any]:
        """Spec (End Definition): compensate, then produce events, then continueAs or stop."""
        if end.compensate:
            data = await compensate(run, data, self._compensation_step)
        await produce(run, state.name, end.produce_events, data)
        if end.continue_as is not None:
            await self._continue_as(run, end, data)
        if run.workflow.keep_active and not end.terminate:
            # Spec (keepActive): only a terminate end or workflowExecTimeout ends the instance.
            run.note("kept_active", state.name)
            await run.report("waiting")
            await workflow.wait_condition(lambda: self.stop)
            raise Stopped()
        return ("terminated" if end.terminate else "completed"), data

    async def _continue_as(self, run: Run, end: End, data: Any) -> None:
        spec = end.continue_as
        assert spec is not None
        inp = run.inp
        new_input = run.ev.payload(spec.data, data) if spec.data is not None else data
        definition, key, version = inp.definition, inp.definition_key, inp.version
        same = spec.workflow_id == run.workflow.identifier and spec.version in (None, inp.version)
        if not same:
            resolved: SubflowResolved = await run.activity(
                ACT_RESOLVE_SUBFLOW,
                SubflowRequest(
                    parent_instance_id=inp.instance_id,
                    workflow_id=spec.workflow_id,
                    version=spec.version,
                    purpose="continue_as",
                ),
                result_type=SubflowResolved,
            )
            definition, key = resolved.definition, resolved.definition_key
            version = resolved.version
        await run.settle()
        run.note("continued_as", None, workflow=spec.workflow_id, version=version)
        carry = run.carry()
        carry["seen"] = [list(k) for k in self.seen]
        carry["compensation"] = []  # a new execution: nothing of this one is compensated later
        if spec.workflow_exec_timeout is not None:
            carry["exec_timeout"] = asdict(spec.workflow_exec_timeout)
        await run.report("running")
        workflow.continue_as_new(
            InterpreterInput(
                instance_id=inp.instance_id,
                definition=definition,
                definition_key=key,
                version=version,
                input=new_input,
                envs=inp.envs,
                secrets=inp.secrets,
                parent_instance_id=inp.parent_instance_id,
                carry=carry,
                end_via_writer=inp.end_via_writer,
            )
        )

    def _continue_long_run(self, run: Run, name: str, data: Any) -> None:
        """History is getting long: continue as new at this state boundary, same instance."""
        run.note("continued", name)
        carry = run.carry()
        carry["seen"] = [list(k) for k in self.seen]
        if self.exec_deadline is not None:
            carry["deadline"] = self.exec_deadline.isoformat()
            carry["exec_timeout"] = self.exec_spec
        inp = run.inp
        workflow.continue_as_new(
            InterpreterInput(
                instance_id=inp.instance_id,
                definition=inp.definition,
                definition_key=inp.definition_key,
                version=inp.version,
                input=inp.input,
                envs=inp.envs,
                secrets=inp.secrets,
                parent_instance_id=inp.parent_instance_id,
                resume_state=name,
                resume_data=data,
                carry=carry,
                end_via_writer=inp.end_via_writer,
            )
        )
