"""A worker killed with SIGKILL mid-run loses nothing and repeats no completed call."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest
from django.db import connection

from apps.core import temporal
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.instances import do_start_instance
from tests.httpservice import LoadedHTTPServer

from .conftest import wait_for_instance

ROOT = Path(__file__).resolve().parents[2]
CALLS: collections.Counter = collections.Counter()


class _Counter(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        CALLS[self.path] += 1
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        body = b'{"done": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _worker(prefix: str, service: str) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "TEMPORAL_QUEUE_PREFIX": prefix,
        "XFLOW_OUTBOUND_ALLOW": service,  # the local service, and nothing else on 127.0.0.1
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--queue", "xflow-engine"],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _wait(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@pytest.mark.django_db(transaction=True)
def test_killing_the_worker_mid_run_loses_nothing_and_repeats_nothing(settings):
    CALLS.clear()
    server = LoadedHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    prefix = f"crash-{uuid.uuid4().hex[:8]}-"
    settings.TEMPORAL_QUEUE_PREFIX = prefix
    temporal.reset()

    definition, _ = do_save_definition(
        publish=True,
        source={
            "id": "crashy",
            "version": "1",
            "specVersion": "0.8",
            "start": "First",
            "functions": [
                {
                    "name": "first",
                    "type": "rest",
                    "operation": {"url": url, "path": "/first", "method": "post"},
                },
                {
                    "name": "second",
                    "type": "rest",
                    "operation": {"url": url, "path": "/second", "method": "post"},
                },
            ],
            "states": [
                {
                    "name": "First",
                    "type": "operation",
                    "actions": [
                        {"functionRef": "first", "actionDataFilter": {"toStateData": ".a"}}
                    ],
                    "transition": "Pause",
                },
                {"name": "Pause", "type": "sleep", "duration": "PT3S", "transition": "Second"},
                {
                    "name": "Second",
                    "type": "operation",
                    "actions": [
                        {"functionRef": "second", "actionDataFilter": {"toStateData": ".b"}}
                    ],
                    "end": True,
                },
            ],
        },
    )
    first_worker = _worker(prefix, f"127.0.0.1:{server.server_port}")
    second_worker = None
    try:
        instance = do_start_instance(definition=definition, input={"n": 1})
        _wait(lambda: CALLS["/first"] == 1, 60, "the first call")
        time.sleep(0.5)  # the worker is now in the sleep state
        os.killpg(first_worker.pid, signal.SIGKILL)
        first_worker.wait(10)

        second_worker = _worker(prefix, f"127.0.0.1:{server.server_port}")
        done = wait_for_instance(instance.id, timeout=90)
        assert done.status == "completed", done.error
        assert done.output == {"n": 1, "a": {"done": True}, "b": {"done": True}}
        assert CALLS["/first"] == 1
        assert CALLS["/second"] == 1
    finally:
        for proc in (first_worker, second_worker):
            if proc is not None and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(20)
        server.shutdown()
        temporal.reset()
