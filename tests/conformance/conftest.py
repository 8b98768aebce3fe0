"""Conformance harness: run Serverless Workflow 0.8 definitions on the real interpreter.

Each definition is checked like `manage.py run_workflow` does (a definition the validator
refuses cannot run), then run to completion by the production interpreter and activities on
the Temporal server `make test` starts (settings.TEMPORAL_ADDRESS), with one in-process worker
for the whole session on a private task-queue prefix. The worker's asyncio loop lives in a
background thread; tests are plain functions that hand coroutines to it.

    run(definition, input, events=(), secrets=None, timeout=30) -> workflow data output
    run_failure(definition, input, ...) -> the failure detail ({type, message, state, ...})
    run_many([(definition, input), ...]) -> outputs, run concurrently
    publish(definition, ...)  -> published definitions for subflows and continueAs
    produced()                -> the CloudEvents the last run produced (from the outbox)
    history(instance_id=None) -> what the last run did, from its Temporal history: timers
                                 (fired or canceled), activities, signals, in event order

Tests assert on what happened (a timer fired or was canceled, calls were in flight at once,
no attempt came after a timeout), never on wall-clock time: the machine may be slow.

`events` are CloudEvents signalled ("event") right after the start; an item `(seconds, event)`
is sent that long after the start. `rest` is a local HTTP server (127.0.0.1) whose routes the
tests script: echo, fixed replies, fail N times then succeed, delays; it records every call.
The session uses a test database of its own, so a concurrent pytest session cannot drop it.
"""

from __future__ import annotations

import asyncio
import datetime
import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from django.conf import settings

from apps.core import temporal
from apps.workflows.engine.contracts import (
    ACT_CALL_FUNCTION,
    INTERPRETER_WORKFLOW,
    QUEUE_ENGINE,
    InterpreterInput,
)

SPEC = "0.8"

# --------------------------------------------------------------------------------------------
# The worker and the runner
# --------------------------------------------------------------------------------------------


class WorkflowFailed(AssertionError):
    """The workflow failed; `detail` is the failure's details[0] (or a message)."""

    def __init__(self, detail: Any, error_type: str | None = None) -> None:
        super().__init__(f"the workflow failed: {json.dumps(detail, default=str)}")
        self.detail = detail
        self.error_type = error_type


@dataclass
class Runner:
    loop: asyncio.AbstractEventLoop
    client: Any
    queue: str
    last_instance_ids: list[str] = field(default_factory=list)

    def submit(self, coro) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    async def execute(
        self,
        definition: dict,
        data: Any,
        events: Iterable = (),
        secrets: dict | None = None,
        timeout: float = 30,
        validate: bool = True,
    ) -> tuple[str, Any]:
        from temporalio.client import WorkflowFailureError

        document = prepare(definition, validate=validate)
        # As a start does: the input is checked against dataInputSchema before any state.
        from apps.core.errors import ServiceError
        from apps.workflows.services.instances import validate_input

        try:
            validate_input(document, data)
        except ServiceError as exc:
            raise WorkflowFailed({"type": exc.code, "message": exc.message}, exc.code) from None
        instance_id = str(uuid.uuid4())
        params = InterpreterInput(
            instance_id=instance_id,
            definition=document,
            definition_key=str(document.get("id") or document.get("key") or "adhoc"),
            version=str(document.get("version") or "0"),
            input=data,
            envs={},
            secrets=dict(secrets or {}),
        )
        handle = await self.client.start_workflow(
            INTERPRETER_WORKFLOW,
            params,
            id=f"xflow-conf-{instance_id}",
            task_queue=self.queue,
            execution_timeout=datetime.timedelta(seconds=timeout + 30),
        )
        self.last_instance_ids.append(instance_id)  # failed runs too: `history` reads them
        sender = asyncio.ensure_future(_send_events(handle, events))
        try:
            try:
                result = await asyncio.wait_for(handle.result(), timeout)
            except WorkflowFailureError as exc:
                cause = exc.cause
                details = getattr(cause, "details", None) or [str(cause)]
                raise WorkflowFailed(details[0], getattr(cause, "type", None)) from None
            except TimeoutError:
                await _terminate(handle)
                raise AssertionError(f"the workflow did not end within {timeout:g}s") from None
        finally:
            sender.cancel()
        return instance_id, result


async def _terminate(handle) -> None:
    try:
        await handle.terminate("conformance test timed out")
    except Exception:  # noqa: BLE001 - already closed
        pass


async def _send_events(handle, events: Iterable) -> None:
    """Signal CloudEvents; an item `(seconds, event)` is sent that long after the start."""
    started = time.monotonic()
    for item in events:
        if isinstance(item, tuple):
            delay, ce = item
            wait = started + delay - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        else:
            ce = item
        await handle.signal("event", cloudevent(**ce) if "specversion" not in ce else ce)


def cloudevent(**attrs: Any) -> dict[str, Any]:
    """A CloudEvent with the required attributes filled in (type/source/data given)."""
    event = {
        "specversion": "1.0",
        "id": str(uuid.uuid4()),
        "source": "conformance",
        "type": "conformance.event",
        "datacontenttype": "application/json",
    }
    event.update(attrs)
    return event


def prepare(definition: dict, *, validate: bool = True) -> dict:
    """Fill id/version/specVersion; refuse what the validator refuses (as run_workflow does)."""
    document = dict(definition)
    if "key" not in document:
        document.setdefault("id", "conformance")
    document.setdefault("version", "1.0")
    document.setdefault("specVersion", SPEC)
    if validate:
        from apps.workflows.services.definitions import check_source

        checked = check_source(document)
        if checked.errors:
            problems = "; ".join(f"{i.get('path')}: {i['message']}" for i in checked.errors)
            raise AssertionError(f"the validator refuses the definition: {problems}")
        document = checked.document
    # As a start does: parts given by URI are fetched and inlined before the run.
    from apps.workflows.services.resources import inline_resources

    return inline_resources(document)


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    """A test database of our own: a concurrent pytest session must not drop ours."""
    from tests.conftest import widen_connection_pool

    widen_connection_pool()
    db = settings.DATABASES["default"]
    test = db.setdefault("TEST", {})
    base = test.get("NAME") or f"test_{db['NAME']}"
    test["NAME"] = f"{base}_conf{os.getpid()}"


@pytest.fixture(scope="session")
def conformance_worker(django_db_setup, django_db_blocker):
    """The production worker (interpreter + every activity) for the whole session."""
    from apps.core.worker import build_registry, build_workers
    from tests.conftest import assert_on_test_database

    assert_on_test_database()
    settings.TEMPORAL_QUEUE_PREFIX = f"conf-{uuid.uuid4().hex[:8]}-"
    temporal.reset()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()
    box: dict[str, Any] = {}

    async def main():
        client = await temporal.connect()
        workers = build_workers(client, build_registry(), max_activity_threads=32)
        tasks = [asyncio.create_task(w.run()) for w in workers]
        box["client"] = client
        started.set()
        await stop.wait()
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        for t in tasks:
            t.cancel()

    def runner():
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surfaced to the fixture
            box["failure"] = exc
            started.set()

    thread = threading.Thread(target=runner, name="conformance-worker", daemon=True)
    with django_db_blocker.unblock():
        thread.start()
        assert started.wait(30), "the worker did not start"
        if "failure" in box:
            raise box["failure"]
        yield Runner(loop, box["client"], temporal.queue_name(QUEUE_ENGINE))
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


@pytest.fixture
def run(conformance_worker) -> Callable[..., Any]:
    """run(definition, input=None, *, events=(), secrets=None, timeout=30) -> output."""

    def _run(
        definition: dict,
        data: Any = None,
        *,
        events: Iterable = (),
        secrets: dict | None = None,
        timeout: float = 30,
        validate: bool = True,
    ) -> Any:
        future = conformance_worker.submit(
            conformance_worker.execute(definition, data, events, secrets, timeout, validate)
        )
        _, output = future.result(timeout + 15)
        return output

    return _run


@pytest.fixture
def run_failure(run) -> Callable[..., Any]:
    """run_failure(definition, input=None, ...) -> the failure detail (workflow must fail)."""

    def _run_failure(definition: dict, data: Any = None, **kwargs: Any) -> Any:
        try:
            output = run(definition, data, **kwargs)
        except WorkflowFailed as failed:
            detail = failed.detail
            if isinstance(detail, dict):
                return {"error_type": failed.error_type, **detail}
            return {"error_type": failed.error_type, "message": detail}
        raise AssertionError(f"the workflow completed with {output!r}; expected a failure")

    return _run_failure


@pytest.fixture
def run_many(conformance_worker) -> Callable[..., list[Any]]:
    """run_many([(definition, input), ...]) -> outputs (exceptions in place), concurrently."""

    def _run_many(cases: list[tuple], *, timeout: float = 30) -> list[Any]:
        async def all_of():
            return await asyncio.gather(
                *(
                    conformance_worker.execute(case[0], case[1] if len(case) > 1 else None)
                    for case in cases
                ),
                return_exceptions=True,
            )

        results = conformance_worker.submit(all_of()).result(timeout + 15)
        return [r[1] if isinstance(r, tuple) else r for r in results]

    return _run_many


@pytest.fixture
def last_instance_id(conformance_worker) -> Callable[[], str]:
    return lambda: conformance_worker.last_instance_ids[-1]


@pytest.fixture
def last_instance_ids(conformance_worker) -> Callable[[], list[str]]:
    """Every instance started so far (run_many's runs are the last ones)."""
    return lambda: list(conformance_worker.last_instance_ids)


@dataclass
class Timer:
    """A durable timer of the run: a sleep, a timeout, a retry delay."""

    seconds: float
    started: int  # event ids: Temporal's own order of what happened
    ended: int | None = None
    outcome: str | None = None  # "fired", "canceled", or None (still set when the run closed)


@dataclass
class Activity:
    """An activity the run scheduled (a function call, a mirror report...)."""

    name: str
    scheduled: int
    closed: int | None = None
    outcome: str | None = None  # "completed", "failed", "timed_out", "canceled" or None
    attempt: int = 0


@dataclass
class History:
    """What one run did, read from its Temporal history rather than from a stopwatch."""

    timers: list[Timer]
    activities: list[Activity]
    signals: list[int]
    closed: int
    close_kind: str

    def timer(self, seconds: float) -> Timer:
        """The one timer of that duration."""
        found = [t for t in self.timers if abs(t.seconds - seconds) < 1e-6]
        assert len(found) == 1, f"{len(found)} timers of {seconds:g}s in {self.timers}"
        return found[0]

    def calls(self) -> list[Activity]:
        """The function-call activities, in the order they were scheduled."""
        return [a for a in self.activities if a.name == ACT_CALL_FUNCTION]


def peak_in_flight(activities: list[Activity]) -> int:
    """The most of them scheduled and not yet ended at once (in the history's order)."""
    never = 1 << 62  # still open when the run closed
    marks = sorted(
        [(a.scheduled, 1) for a in activities] + [(a.closed or never, -1) for a in activities],
        key=lambda m: (m[0], m[1]),
    )
    peak = now = 0
    for _, step in marks:
        now += step
        peak = max(peak, now)
    return peak


_TIMER_ENDS = {"timer_fired": "fired", "timer_canceled": "canceled"}
_ACTIVITY_ENDS = {
    "activity_task_completed": "completed",
    "activity_task_failed": "failed",
    "activity_task_timed_out": "timed_out",
    "activity_task_canceled": "canceled",
}


def read_history(events) -> History:
    timers: dict[str, Timer] = {}
    activities: dict[int, Activity] = {}
    signals: list[int] = []
    closed, close_kind = 0, ""
    for event in events:
        kind = event.WhichOneof("attributes").removesuffix("_event_attributes")
        attrs = getattr(event, f"{kind}_event_attributes")
        if kind == "timer_started":
            seconds = attrs.start_to_fire_timeout.ToTimedelta().total_seconds()
            timers[attrs.timer_id] = Timer(seconds, event.event_id)
        elif kind in _TIMER_ENDS:
            timer = timers[attrs.timer_id]
            timer.ended, timer.outcome = event.event_id, _TIMER_ENDS[kind]
        elif kind == "activity_task_scheduled":
            activities[event.event_id] = Activity(attrs.activity_type.name, event.event_id)
        elif kind == "activity_task_started":
            activities[attrs.scheduled_event_id].attempt = attrs.attempt
        elif kind in _ACTIVITY_ENDS:
            activity = activities[attrs.scheduled_event_id]
            activity.closed, activity.outcome = event.event_id, _ACTIVITY_ENDS[kind]
        elif kind == "workflow_execution_signaled":
            signals.append(event.event_id)
        elif kind.startswith("workflow_execution_") and kind != "workflow_execution_started":
            closed, close_kind = event.event_id, kind.removeprefix("workflow_execution_")
    return History(list(timers.values()), list(activities.values()), signals, closed, close_kind)


@pytest.fixture
def history(conformance_worker) -> Callable[..., History]:
    """history(instance_id=None) -> what the last (or that) run did, from Temporal's history."""

    def _history(instance_id: str | None = None) -> History:
        workflow_id = f"xflow-conf-{instance_id or conformance_worker.last_instance_ids[-1]}"

        async def fetch():
            handle = conformance_worker.client.get_workflow_handle(workflow_id)
            return (await handle.fetch_history()).events

        return read_history(conformance_worker.submit(fetch()).result(30))

    return _history


@pytest.fixture
def publish(transactional_db):
    """Publish definitions so subflows / continueAs can find them by id (and version)."""
    from apps.workflows.services.definitions import do_save_definition

    def _publish(*definitions: dict) -> None:
        for definition in definitions:
            do_save_definition(source=prepare(definition), publish=True)

    return _publish


@pytest.fixture
def produced(transactional_db, last_instance_id):
    """The CloudEvents the last run produced (the outbox), in order: [(type, data, attrs)]."""

    def read():
        from apps.workflows.models import OutboxEvent

        rows = OutboxEvent.objects.filter(attributes__xflowinstanceid=last_instance_id()).order_by(
            "id"
        )
        return [(r.event_type, r.data, r.attributes) for r in rows]

    return read


# --------------------------------------------------------------------------------------------
# A scripted local REST service
# --------------------------------------------------------------------------------------------


@dataclass
class Call:
    method: str
    path: str
    body: Any
    at: float
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Route:
    """What one path answers: `replies` in turn (the last one repeats)."""

    replies: list[tuple[int, Any, float]]  # (status, body, delay seconds); body None -> echo
    calls: list[Call] = field(default_factory=list)


class Service:
    def __init__(self, base: str) -> None:
        self.base = base
        self.routes: dict[str, Route] = {}
        self.lock = threading.Lock()

    def route(self, *replies: tuple[int, Any, float] | Any) -> str:
        """A fresh path answering the replies in turn; a bare value means (200, value, 0)."""
        path = f"/r/{uuid.uuid4().hex[:10]}"
        normalised = [
            r if isinstance(r, tuple) and len(r) == 3 and isinstance(r[0], int) else (200, r, 0)
            for r in replies
        ] or [(200, None, 0)]
        self.routes[path] = Route(normalised)
        return path

    def function(self, name: str, path: str, *, method: str = "post", **extra: Any) -> dict:
        """A `rest` function definition (xflow's inline operation form) calling path."""
        return {
            "name": name,
            "type": "rest",
            "operation": {"url": self.base, "path": path, "method": method},
            **extra,
        }

    def calls(self, path: str) -> list[Call]:
        return list(self.routes[path].calls)

    def answer(
        self, method: str, path: str, body: Any, headers: dict[str, str] | None = None
    ) -> tuple[int, Any, float]:
        clean = path.split("?")[0]
        route = self.routes.get(clean)
        if route is None:
            return 404, {"error": "no route"}, 0
        with self.lock:
            route.calls.append(Call(method, path, body, time.monotonic(), dict(headers or {})))
            index = min(len(route.calls), len(route.replies)) - 1
            status, reply, delay = route.replies[index]
        if reply is None:
            reply = body if body is not None else {}
        return status, reply, delay


class _Handler(BaseHTTPRequestHandler):
    service: Service

    def log_message(self, *args: Any) -> None:  # quiet
        pass

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        status, reply, delay = self.service.answer(
            self.command, self.path, body, {k.lower(): v for k, v in self.headers.items()}
        )
        if delay:
            time.sleep(delay)
        payload = json.dumps(reply).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except OSError:  # the caller gave up (timeouts)
            pass

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


@pytest.fixture(scope="session")
def rest() -> Service:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    service = Service(f"http://127.0.0.1:{server.server_address[1]}")
    _Handler.service = service
    thread = threading.Thread(target=server.serve_forever, name="conformance-rest", daemon=True)
    thread.start()
    yield service
    server.shutdown()


@pytest.fixture(autouse=True)
def _quiet_before_flush(request):
    """Subflow children have rows: stop what is left and write out live progress before the
    tables are emptied (a worker still writing then deadlocks with the flush)."""
    yield
    if "conformance_worker" in request.fixturenames:
        from tests.conftest import quiesce_engine_writes

        quiesce_engine_writes()


@pytest.fixture(autouse=True)
def _allow_the_rest_service(request, allow_outbound):
    """The outbound policy refuses 127.0.0.1: a test using `rest` opens exactly its port."""
    if "rest" in request.fixturenames:
        allow_outbound(request.getfixturevalue("rest").base.removeprefix("http://"))


# --------------------------------------------------------------------------------------------
# Small builders shared by the test modules
# --------------------------------------------------------------------------------------------


def wf(*states: dict, **top: Any) -> dict:
    """A definition whose start is the first state."""
    doc = {"id": top.pop("id", "conformance"), "version": "1.0", "specVersion": SPEC}
    doc["start"] = states[0]["name"]
    doc.update(top)
    doc["states"] = list(states)
    return doc


def expr_fn(name: str, operation: str) -> dict:
    return {"name": name, "type": "expression", "operation": operation}


def fail_fn(name: str = "fail") -> dict:
    """xflow:fail: fails the action with the error code given in the `code` argument."""
    return {"name": name, "type": "custom", "operation": "xflow:fail"}


def call(ref: str, arguments: dict | None = None, **action: Any) -> dict:
    function_ref: dict[str, Any] = {"refName": ref}
    if arguments is not None:
        function_ref["arguments"] = arguments
    return {"functionRef": function_ref, **action}


def inject(name: str, data: dict, **rest_: Any) -> dict:
    state = {"name": name, "type": "inject", "data": data, **rest_}
    return ended(state)


def operation(name: str, *actions: dict, **rest_: Any) -> dict:
    state = {"name": name, "type": "operation", "actions": list(actions), **rest_}
    return ended(state)


def ended(state: dict) -> dict:
    """`end: true` unless the state says how it goes on (or is used for compensation)."""
    if not ({"end", "transition", "usedForCompensation"} & state.keys()):
        state["end"] = True
    return state
