"""Test doubles of OUR activities, registered under the contract names.

The function activity does real HTTP to a local `http.server` whose operations the tests
register; the others record what the interpreter asked for so tests can assert on it. The
lead swaps in the real activities for end-to-end tests.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from temporalio import activity
from temporalio.exceptions import ApplicationError

from apps.workflows.engine.contracts import (
    ACT_CALL_FUNCTION,
    ACT_CLEAR_WAIT,
    ACT_CREATE_USER_TASK,
    ACT_EMIT_EVENT,
    ACT_INSTANCE_CHANGED,
    ACT_NOTE_INSTANCE,
    ACT_REGISTER_WAIT,
    ACT_RESOLVE_SUBFLOW,
    ACT_RUN_QUERY,
    ACT_USER_TASK_EVENT,
    FUNCTION_ERROR,
    CreateUserTask,
    EmitEvent,
    EventWait,
    FunctionCall,
    InstanceChanged,
    InstanceNote,
    SubflowRequest,
    SubflowResolved,
    UserTaskEvent,
)

# operation id -> handler(arguments, request) -> (HTTP status, JSON body)
Handler = Callable[[dict[str, Any], dict[str, Any]], tuple[int, Any]]


class Services:
    """A local HTTP server: POST /<operationId> runs the registered handler."""

    def __init__(self) -> None:
        self.handlers: dict[str, Handler] = {}
        self.calls: dict[str, list[dict[str, Any]]] = defaultdict(list)
        services = self

        class _Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server naming
                op = self.path.strip("/")
                length = int(self.headers.get("Content-Length") or 0)
                request = json.loads(self.rfile.read(length) or b"{}")
                services.calls[op].append(request)
                handler = services.handlers.get(op)
                if handler is None:
                    status, body = 404, {"error": f"no operation {op}"}
                else:
                    status, body = handler(request.get("arguments") or {}, request)
                payload = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the caller gave up (a timeout under test)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def add(self, operation: str, handler: Handler | Any) -> None:
        """Register an operation: a handler, or a constant JSON body returned with 200."""
        if callable(handler):
            self.handlers[operation] = handler
        else:
            self.handlers[operation] = lambda args, req, body=handler: (200, body)

    def close(self) -> None:
        self.server.shutdown()


@dataclass
class Recorder:
    """What the interpreter asked the activities to do, per instance id."""

    emitted: dict[str, list[EmitEvent]] = field(default_factory=lambda: defaultdict(list))
    waits: dict[str, list[EventWait]] = field(default_factory=lambda: defaultdict(list))
    cleared: dict[str, list[EventWait]] = field(default_factory=lambda: defaultdict(list))
    changes: dict[str, list[InstanceChanged]] = field(default_factory=lambda: defaultdict(list))
    tasks: dict[str, list[CreateUserTask]] = field(default_factory=lambda: defaultdict(list))
    task_events: dict[str, list[UserTaskEvent]] = field(default_factory=lambda: defaultdict(list))
    calls: dict[str, list[FunctionCall]] = field(default_factory=lambda: defaultdict(list))
    queries: dict[str, list[FunctionCall]] = field(default_factory=lambda: defaultdict(list))
    definitions: dict[str, dict[str, Any]] = field(default_factory=dict)  # subflows by id
    children: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    notes: dict[str, list[InstanceNote]] = field(default_factory=lambda: defaultdict(list))


def _operation_id(function: dict[str, Any]) -> str:
    operation = function.get("operation", "")
    if function.get("type") == "custom":
        return operation.split(":", 1)[-1]
    return operation.rsplit("#", 1)[-1]


def make_activities(services: Services, recorder: Recorder) -> dict[str, list[Any]]:
    """Activity doubles grouped by the task queue that serves them."""
    client: dict[str, httpx.AsyncClient] = {}

    @activity.defn(name=ACT_CALL_FUNCTION)
    async def call_function(call: FunctionCall) -> Any:
        recorder.calls[call.instance_id].append(call)
        if "http" not in client:
            client["http"] = httpx.AsyncClient(timeout=30)
        op = _operation_id(call.function)
        response = await client["http"].post(
            f"{services.url}/{op}",
            json={
                "arguments": call.arguments,
                "selectionSet": call.selection_set,
                "function": call.function["name"],
                "auth": call.auth,
            },
        )
        body = response.json() if response.content else None
        if response.status_code >= 400:
            detail = {"code": str(response.status_code), "message": f"{op} failed", "body": body}
            raise ApplicationError(
                detail["message"], detail, type=FUNCTION_ERROR, non_retryable=True
            )
        return body

    @activity.defn(name=ACT_RUN_QUERY)
    async def run_query(call: FunctionCall) -> Any:
        recorder.queries[call.instance_id].append(call)
        return [{"query": _operation_id(call.function), **call.arguments}]

    @activity.defn(name=ACT_EMIT_EVENT)
    async def emit_event(emit: EmitEvent) -> str:
        events = recorder.emitted[emit.instance_id]
        if all(e.dedupe_key != emit.dedupe_key for e in events):
            events.append(emit)
        return emit.dedupe_key

    @activity.defn(name=ACT_REGISTER_WAIT)
    async def register_wait(wait: EventWait) -> None:
        recorder.waits[wait.instance_id].append(wait)

    @activity.defn(name=ACT_CLEAR_WAIT)
    async def clear_wait(wait: EventWait) -> None:
        recorder.cleared[wait.instance_id].append(wait)

    @activity.defn(name=ACT_INSTANCE_CHANGED)
    async def instance_changed(change: InstanceChanged) -> None:
        recorder.changes[change.instance_id].append(change)

    @activity.defn(name=ACT_NOTE_INSTANCE)
    async def note_instance(note: InstanceNote) -> None:
        recorder.notes[note.instance_id].append(note)

    @activity.defn(name=ACT_RESOLVE_SUBFLOW)
    async def resolve_subflow(request: SubflowRequest) -> SubflowResolved:
        definition = recorder.definitions[request.workflow_id]
        child = str(uuid.uuid4())
        recorder.children[request.parent_instance_id].append(child)
        return SubflowResolved(
            instance_id=request.parent_instance_id if request.purpose == "continue_as" else child,
            definition=definition,
            definition_key=request.workflow_id,
            version=str(definition.get("version", "1")),
        )

    @activity.defn(name=ACT_CREATE_USER_TASK)
    async def create_user_task(task: CreateUserTask) -> str:
        if task.task.get("title") == "refused by the task service":
            detail = {"code": "task_invalid", "message": "the task service refused the task"}
            raise ApplicationError(
                detail["message"], detail, type=FUNCTION_ERROR, non_retryable=True
            )
        created = recorder.tasks[task.instance_id]
        for n, existing in enumerate(created):
            if existing.dedupe_key == task.dedupe_key:
                return f"{task.instance_id}-task-{n}"
        created.append(task)
        return f"{task.instance_id}-task-{len(created) - 1}"

    @activity.defn(name=ACT_USER_TASK_EVENT)
    async def user_task_event(event: UserTaskEvent) -> None:
        recorder.task_events[event.instance_id].append(event)

    return {
        "engine": [
            call_function,
            emit_event,
            register_wait,
            clear_wait,
            instance_changed,
            note_instance,
            resolve_subflow,
        ],
        "tasks": [create_user_task, user_task_event],
        "forms": [run_query],
    }
