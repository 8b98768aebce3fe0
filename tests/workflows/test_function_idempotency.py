"""The Idempotency-Key a called service sees: the same when the call is repeated because a
worker died mid-call, a new one when the definition asks for a retry.

The first test runs the production `xflow.call_function` activity on a real worker process,
kills that process while the service holds the request, and lets Temporal retry the activity
on a second worker once heartbeats stop (the call site sets a heartbeat timeout).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.worker import Worker

from apps.core import temporal
from apps.workflows.engine.contracts import ACT_CALL_FUNCTION, QUEUE_ENGINE, FunctionCall
from tests.httpservice import LoadedHTTPServer

from .conftest import wait_for_instance

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_TIMEOUT = timedelta(seconds=3)


class _KeyedService(BaseHTTPRequestHandler):
    """Records each request's Idempotency-Key; can hold the first one, or fail N times."""

    keys: list[tuple[float, str | None]] = []
    hold_first = False
    failures = 0
    arrived = threading.Event()
    release = threading.Event()

    def do_POST(self):  # noqa: N802
        cls = type(self)
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        cls.keys.append((time.monotonic(), self.headers.get("Idempotency-Key")))
        if cls.hold_first and len(cls.keys) == 1:
            cls.arrived.set()
            cls.release.wait(60)
        status = 503 if len(cls.keys) <= cls.failures else 200
        body = json.dumps({"attempt": len(cls.keys)}).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except OSError:  # the worker that asked is gone
            pass

    def log_message(self, *args):
        pass


@pytest.fixture
def keyed_service(allow_outbound):
    _KeyedService.keys = []
    _KeyedService.hold_first = False
    _KeyedService.failures = 0
    _KeyedService.arrived = threading.Event()
    _KeyedService.release = threading.Event()
    server = LoadedHTTPServer(("127.0.0.1", 0), _KeyedService)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    address = f"127.0.0.1:{server.server_port}"
    allow_outbound(address)
    yield address
    _KeyedService.release.set()
    server.shutdown()


@workflow.defn(name="test.CallFunctionOnce", sandboxed=False)
class CallFunctionOnce:
    """Calls the function activity once, as the interpreter does (heartbeat timeout, retries)."""

    @workflow.run
    async def run(self, call: FunctionCall, queue: str) -> Any:
        return await workflow.execute_activity(
            ACT_CALL_FUNCTION,
            call,
            task_queue=queue,
            start_to_close_timeout=timedelta(seconds=60),
            heartbeat_timeout=HEARTBEAT_TIMEOUT,
            retry_policy=RetryPolicy(initial_interval=timedelta(milliseconds=200)),
        )


def _engine_worker_process(prefix: str, allow: str) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "TEMPORAL_QUEUE_PREFIX": prefix,
        "XFLOW_OUTBOUND_ALLOW": allow,
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--queue", QUEUE_ENGINE],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(proc: subprocess.Popen | None, sig: int = signal.SIGTERM) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(20)


@pytest.mark.django_db(transaction=True)
def test_a_call_repeated_after_its_worker_died_carries_the_same_key(settings, keyed_service):
    # Given a service that holds the first request, and the activity on a worker process
    _KeyedService.hold_first = True
    prefix = f"idem-{uuid.uuid4().hex[:8]}-"
    settings.TEMPORAL_QUEUE_PREFIX = prefix
    temporal.reset()
    call = FunctionCall(
        instance_id="inst-1",
        state="Pay",
        action="charge",
        function={
            "name": "charge",
            "type": "rest",
            "operation": {"url": f"http://{keyed_service}", "path": "/pay", "method": "post"},
        },
        auth=None,
        arguments={"amount": 5},
        idempotency_key="inst-1/Pay/charge/1",
    )
    first = _engine_worker_process(prefix, keyed_service)
    second = None
    killed_at = 0.0

    async def scenario() -> Any:
        nonlocal second, killed_at
        client = await temporal.connect()
        queue = f"{prefix}test-wf"
        async with Worker(client, task_queue=queue, workflows=[CallFunctionOnce]):
            handle = await client.start_workflow(
                CallFunctionOnce.run,
                args=[call, temporal.queue_name(QUEUE_ENGINE)],
                id=f"idem-{uuid.uuid4()}",
                task_queue=queue,
            )
            # When the worker dies while the service is answering the call
            assert await asyncio.to_thread(_KeyedService.arrived.wait, 60), "no call arrived"
            os.killpg(first.pid, signal.SIGKILL)
            killed_at = time.monotonic()
            second = _engine_worker_process(prefix, keyed_service)
            return await asyncio.wait_for(handle.result(), 90)

    try:
        result = asyncio.run(scenario())
    finally:
        _stop(first, signal.SIGKILL)
        _stop(second)
        temporal.reset()

    # Then the call was repeated on the other worker, with the key of the first attempt,
    # and the lost worker was noticed in seconds (heartbeats), not after minutes
    assert result == {"attempt": 2}
    assert [key for _, key in _KeyedService.keys] == ["inst-1/Pay/charge/1"] * 2
    assert _KeyedService.keys[1][0] - killed_at < 45  # measured ~4 s; was 5 min before


@pytest.mark.usefixtures("engine_worker")
@pytest.mark.django_db(transaction=True)
def test_each_retry_the_definition_asks_for_gets_a_new_key(api, keyed_service):
    # Given a service failing twice with 503, and a definition retrying that error
    _KeyedService.failures = 2
    definition = {
        "id": "pays",
        "version": "1",
        "specVersion": "0.8",
        "start": "Pay",
        "functions": [
            {
                "name": "charge",
                "type": "rest",
                "operation": {"url": f"http://{keyed_service}", "path": "/pay", "method": "post"},
            }
        ],
        "errors": [{"name": "unavailable", "code": "503"}],
        "retries": [{"name": "again", "delay": "PT0.2S", "maxAttempts": 3}],
        "states": [
            {
                "name": "Pay",
                "type": "operation",
                "actions": [
                    {
                        "name": "charge",
                        "functionRef": "charge",
                        "retryRef": "again",
                        "retryableErrors": ["unavailable"],
                    }
                ],
                "end": True,
            }
        ],
    }
    published = api.post("/api/v1/definitions/?publish=true", definition, format="json")
    assert published.status_code == 201, published.json()

    # When an instance runs to completion through the two retries
    started = api.post("/api/v1/instances/", {"definition": "pays"}, format="json")
    done = wait_for_instance(started.json()["id"])

    # Then each attempt the definition made carried its own key
    assert done.status == "completed", done.error
    keys = [key for _, key in _KeyedService.keys]
    assert len(keys) == 3 and all(keys) and len(set(keys)) == 3, keys
