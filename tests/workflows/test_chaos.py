"""Starts through a real web server while the web process and the worker are killed (-9).

The platform as it runs: gunicorn and `manage.py run_worker` as processes of their own, 50
API clients starting instances (half with an Idempotency-Key, retried until answered), each
instance calling a REST service. Mid-run the web process is SIGKILLed and restarted, then
the worker. After reconciliation every row must equal Temporal's state, every keyed start
must have made exactly one instance, and each instance's REST call must have carried one
idempotency key, however often it was delivered.

XFLOW_CHAOS_STARTS (default 200) sets the number of starts; the issue's full run is 1000.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import httpx
import pytest
from django.db import connection
from rest_framework.authtoken.models import Token

from apps.core import temporal
from apps.workflows.models import InstanceStatus, WorkflowInstance
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.reconcile import reconcile_instances
from tests.httpservice import LoadedHTTPServer

ROOT = Path(__file__).resolve().parents[2]
STARTS = int(os.environ.get("XFLOW_CHAOS_STARTS", "200"))
CONCURRENCY = int(os.environ.get("XFLOW_CHAOS_CONCURRENCY", "50"))

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


class _Keys:
    lock = threading.Lock()
    by_instance: dict[str, set[str]] = defaultdict(set)
    deliveries = 0


class _Charge(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        key = self.headers.get("Idempotency-Key") or "-"
        instance = key[len("xflow-") : len("xflow-") + 36] if key.startswith("xflow-") else "-"
        with _Keys.lock:
            _Keys.by_instance[instance].add(key)
            _Keys.deliveries += 1
        body = b'{"charged": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Platform:
    """The web server and the worker as processes, killed and restarted by the test."""

    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.web: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None

    def start_web(self) -> None:
        self.web = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "gunicorn"),
                "xflow_site.wsgi",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                "2",
                "-k",
                "gthread",
                "--threads",
                "8",
                "--log-level",
                "warning",
            ],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).status_code:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("the web server did not come up")

    def start_worker(self) -> None:
        self.worker = subprocess.Popen(
            [sys.executable, "manage.py", "run_worker"],
            cwd=ROOT,
            env=self.env,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    @staticmethod
    def kill(proc: subprocess.Popen | None) -> None:
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)

    def stop(self) -> None:
        for proc in (self.web, self.worker):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(15)
                except subprocess.TimeoutExpired:
                    self.kill(proc)


def _definition(service: str) -> dict:
    return {
        "id": "chaos",
        "version": "1",
        "specVersion": "0.8",
        "start": "Charge",
        "functions": [
            {
                "name": "charge",
                "type": "rest",
                "operation": {"url": service, "path": "/charge", "method": "post"},
            }
        ],
        "states": [
            {
                "name": "Charge",
                "type": "operation",
                "actions": [
                    {
                        "functionRef": {"refName": "charge", "arguments": {"n": "${ .n }"}},
                        "actionDataFilter": {"toStateData": ".charge"},
                    }
                ],
                "end": True,
            }
        ],
    }


def _temporal_outcome(workflow_id: str):
    async def outcome(client):
        handle = client.get_workflow_handle(workflow_id)
        described = await handle.describe()
        result = await handle.result() if described.status.name == "COMPLETED" else None
        return described.status.name, result

    return temporal.call(outcome, timeout=30)


def test_starts_survive_a_killed_web_process_and_worker(operator, settings):
    service = LoadedHTTPServer(("127.0.0.1", 0), _Charge)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    service_url = f"http://127.0.0.1:{service.server_address[1]}"
    prefix = f"chaos-{uuid.uuid4().hex[:8]}-"
    settings.TEMPORAL_QUEUE_PREFIX = prefix
    settings.XFLOW_OUTBOUND_ALLOW = [service_url.removeprefix("http://")]
    temporal.reset()
    do_save_definition(source=_definition(service_url), user=None, publish=True)
    token = Token.objects.create(user=operator).key
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "TEMPORAL_QUEUE_PREFIX": prefix,
        "XFLOW_OUTBOUND_ALLOW": service_url.removeprefix("http://"),
        "LOG_LEVEL": "WARNING",
    }
    port = _free_port()
    platform = _Platform(env, port)
    platform.start_web()
    platform.start_worker()
    base = f"http://127.0.0.1:{port}/api/v1/instances/"
    headers = {"Authorization": f"Token {token}"}
    answers: dict[int, str] = {}
    server_errors: list[int] = []
    done = threading.Event()
    progress = {"n": 0}

    def start_one(i: int) -> None:
        keyed = i % 2 == 0
        body = {"definition": "chaos", "input": {"n": i}}
        hdrs = dict(headers)
        if keyed:
            body["businessKey"] = f"chaos-{i}"
            hdrs["Idempotency-Key"] = f"chaos-{i}"
        for _attempt in range(60 if keyed else 1):
            try:
                response = httpx.post(base, json=body, headers=hdrs, timeout=30)
            except httpx.HTTPError:
                time.sleep(0.25)  # the web process is down: a keyed start is simply retried
                continue
            if response.status_code >= 500:
                server_errors.append(response.status_code)
                time.sleep(0.25)
                continue
            assert response.status_code == 201, response.text
            answers[i] = response.json()["id"]
            break
        progress["n"] += 1

    def chaos() -> None:
        while progress["n"] < STARTS * 0.3 and not done.is_set():
            time.sleep(0.05)
        platform.kill(platform.web)
        time.sleep(1)
        platform.start_web()
        while progress["n"] < STARTS * 0.6 and not done.is_set():
            time.sleep(0.05)
        platform.kill(platform.worker)
        time.sleep(1)
        platform.start_worker()

    monkey = threading.Thread(target=chaos, daemon=True)
    monkey.start()
    try:
        with ThreadPoolExecutor(CONCURRENCY) as pool:
            list(pool.map(start_one, range(STARTS)))
        done.set()
        monkey.join(60)
        # Every keyed start was answered (retries with the same key).
        assert all(i in answers for i in range(0, STARTS, 2))

        deadline = time.monotonic() + 180
        while True:
            reconcile_instances(idle=timedelta(seconds=5), starting_grace=timedelta(seconds=5))
            open_rows = WorkflowInstance.objects.filter(status__in=InstanceStatus.open_values())
            if not open_rows.exists():
                break
            assert time.monotonic() < deadline, f"{open_rows.count()} rows never closed"
            time.sleep(2)
    finally:
        platform.stop()
        service.shutdown()

    # No request was answered with a server error.
    assert server_errors == []
    rows = list(WorkflowInstance.objects.all())
    # One instance per keyed start, however often it was retried.
    for i in range(0, STARTS, 2):
        assert [r.pk for r in rows if r.business_key == f"chaos-{i}"] == [uuid.UUID(answers[i])]
    # Every row says what Temporal says.
    for row in rows:
        status, result = _temporal_outcome(row.workflow_id)
        assert (row.status, status) == ("completed", "COMPLETED"), (row.pk, row.error)
        assert row.output == result == {"n": row.input["n"], "charge": {"charged": True}}
    # Each instance's call carried one key, whatever the number of deliveries.
    called = {k: v for k, v in _Keys.by_instance.items() if k != "-"}
    assert "-" not in _Keys.by_instance
    assert set(called) == {str(r.pk) for r in rows}
    assert all(len(keys) == 1 for keys in called.values())
    print(
        json.dumps(
            {"starts": STARTS, "rows": len(rows), "rest_deliveries": _Keys.deliveries},
        )
    )
