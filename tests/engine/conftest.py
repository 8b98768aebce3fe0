"""One Temporal dev server and one set of workers for the whole engine test session.

Temporal's client and workers live on one asyncio loop in a background thread; tests are
plain functions that hand coroutines to it (`engine.execute(...)`), so no async pytest
plugin is needed. The workers register the real interpreter and the test doubles of the
activities (tests/engine/doubles.py) under the contract names and task queues.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid
from collections.abc import Coroutine
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import pytest
from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from apps.core.search_attributes import ALL as SEARCH_ATTRIBUTES
from apps.workflows.engine.contracts import (
    INTERPRETER_WORKFLOW,
    QUEUE_ENGINE,
    QUEUE_FORMS,
    QUEUE_TASKS,
    SIGNAL_EVENT,
    SIGNAL_TASK,
    InterpreterInput,
    TaskSignal,
    workflow_id_for,
)
from apps.workflows.engine.interpreter import interpreter_runner, interpreter_workflows

from .doubles import Recorder, Services, make_activities

BIN = os.path.join(sys.prefix, "bin")


def _loop_thread() -> asyncio.AbstractEventLoop:
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True, name="temporal-loop").start()
    return loop


@dataclass
class Started:
    instance_id: str
    handle: WorkflowHandle


@dataclass
class Engine:
    """Runs definitions on the interpreter and gives tests what the activities saw."""

    loop: asyncio.AbstractEventLoop
    client: Client
    services: Services
    recorder: Recorder
    workers: list[Worker] = field(default_factory=list)

    def run(self, coro: Coroutine[Any, Any, Any], timeout: float = 60) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result(timeout)

    def start(
        self,
        definition: dict[str, Any],
        data: Any = None,
        *,
        envs: dict[str, str] | None = None,
        secrets: dict[str, Any] | None = None,
        events: list[dict[str, Any]] | None = None,
    ) -> Started:
        """Start an instance (optionally with events signalled at start, as the bridge does)."""
        instance_id = str(uuid.uuid4())
        inp = InterpreterInput(
            instance_id=instance_id,
            definition=definition,
            definition_key=str(definition.get("id") or definition.get("key")),
            version=str(definition.get("version", "1")),
            input=data,
            envs=envs or {},
            secrets=secrets or {},
        )

        async def _start() -> WorkflowHandle:
            if events:
                handle = await self.client.start_workflow(
                    INTERPRETER_WORKFLOW,
                    inp,
                    id=workflow_id_for(instance_id),
                    task_queue=QUEUE_ENGINE,
                    start_signal=SIGNAL_EVENT,
                    start_signal_args=[events[0]],
                )
                for event in events[1:]:
                    await handle.signal(SIGNAL_EVENT, event)
                return handle
            return await self.client.start_workflow(
                INTERPRETER_WORKFLOW, inp, id=workflow_id_for(instance_id), task_queue=QUEUE_ENGINE
            )

        return Started(instance_id, self.run(_start()))

    def result(self, started: Started, timeout: float = 60) -> Any:
        return self.run(started.handle.result(), timeout)

    def execute(self, definition: dict[str, Any], data: Any = None, **kwargs: Any) -> Any:
        """Start an instance and return its workflow data output."""
        return self.result(self.start(definition, data, **kwargs))

    def failure(
        self, definition: dict[str, Any], data: Any = None, **kwargs: Any
    ) -> ApplicationError:
        """Start an instance that must fail; return the ApplicationError it failed with."""
        started = self.start(definition, data, **kwargs)
        return self.failure_of(started)

    def failure_of(self, started: Started, timeout: float = 60) -> ApplicationError:
        try:
            self.result(started, timeout)
        except WorkflowFailureError as exc:
            assert isinstance(exc.cause, ApplicationError), exc.cause
            return exc.cause
        raise AssertionError("the workflow completed; it was expected to fail")

    def send_event(self, started: Started, event: dict[str, Any]) -> None:
        event = {"specversion": "1.0", "id": str(uuid.uuid4()), **event}
        self.run(started.handle.signal(SIGNAL_EVENT, event))

    def send_task(self, started: Started, signal: TaskSignal) -> None:
        self.run(started.handle.signal(SIGNAL_TASK, signal))

    def query(self, started: Started) -> dict[str, Any]:
        from apps.workflows.engine.contracts import QUERY_STATUS

        return self.run(started.handle.query(QUERY_STATUS))

    def wait_for(self, predicate: Any, timeout: float = 20) -> None:
        """Poll until predicate() is true (e.g. the instance registered its event wait)."""

        async def _poll() -> None:
            for _ in range(int(timeout / 0.05)):
                if predicate():
                    return
                await asyncio.sleep(0.05)
            raise AssertionError("condition not reached in time")

        self.run(_poll(), timeout + 5)


async def _workers(client: Client, services: Services, recorder: Recorder) -> list[Worker]:
    acts = make_activities(services, recorder)
    workers = [
        Worker(
            client,
            task_queue=QUEUE_ENGINE,
            workflows=interpreter_workflows(),
            activities=acts["engine"],
            max_concurrent_workflow_tasks=50,
            # A bug in the interpreter fails the test's workflow at once instead of retrying
            # its workflow task forever (production keeps Temporal's retrying default).
            workflow_failure_exception_types=[Exception],
            # The engine's runner (its modules passed through the sandbox), as production
            # should use; XFLOW_TEST_RUNNER=default runs the suite on Temporal's default one.
            **(
                {}
                if os.environ.get("XFLOW_TEST_RUNNER") == "default"
                else {"workflow_runner": interpreter_runner()}
            ),
        ),
        Worker(client, task_queue=QUEUE_TASKS, activities=acts["tasks"]),
        Worker(client, task_queue=QUEUE_FORMS, activities=acts["forms"]),
    ]
    for worker in workers:
        asyncio.ensure_future(worker.run())
    return workers


def _make_engine(env_factory: Any) -> tuple[Engine, WorkflowEnvironment]:
    loop = _loop_thread()
    services = Services()
    recorder = Recorder()

    async def _setup() -> tuple[WorkflowEnvironment, list[Worker]]:
        env = await env_factory()
        return env, await _workers(env.client, services, recorder)

    env, workers = asyncio.run_coroutine_threadsafe(_setup(), loop).result(120)
    return Engine(loop, env.client, services, recorder, workers), env


def _teardown(engine: Engine, env: WorkflowEnvironment) -> None:
    async def _down() -> None:
        for worker in engine.workers:
            await worker.shutdown()
        await env.shutdown()

    try:
        engine.run(_down(), 60)
    finally:
        engine.services.close()
        engine.loop.call_soon_threadsafe(engine.loop.stop)


@pytest.fixture(scope="session")
def engine() -> Any:
    """The real Temporal dev server (in memory) with the interpreter and activity doubles."""
    eng, env = _make_engine(
        lambda: WorkflowEnvironment.start_local(
            dev_server_existing_path=os.path.join(BIN, "temporal"),
            ip="127.0.0.1",
            dev_server_log_level="error",
            # xflow's search attributes exist on every server its workflows run on.
            search_attributes=SEARCH_ATTRIBUTES,
        )
    )
    yield eng
    _teardown(eng, env)


@pytest.fixture(scope="session")
def skipping() -> Any:
    """Temporal's time-skipping test server: for long timers only (a 3-day sleep takes ms)."""
    eng, env = _make_engine(
        lambda: WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=os.path.join(BIN, "temporal-test-server")
        )
    )
    yield eng
    _teardown(eng, env)
