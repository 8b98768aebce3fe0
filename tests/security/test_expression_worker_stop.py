"""SIGTERM stops `manage.py run_worker` while a hostile expression is being evaluated.

Issue 8: a worker running `until(false; .)` in-process ignored SIGTERM. Now the expression
runs in a child process: the worker stops, and the child is killed with it (no leak).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

from apps.core import temporal
from apps.core.jqeval.pool import CHILD_SCRIPT
from apps.workflows.models import WorkflowInstance

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
# Limited, caught, retried after a short sleep, forever: a child is nearly always busy on it.
SPINNER = {
    "id": "spinner",
    "version": "1",
    "specVersion": "0.8",
    "start": "Spin",
    "errors": [{"name": "tooBig", "code": "expression_limit"}],
    "functions": [{"name": "spin", "type": "expression", "operation": "until(false; .)"}],
    "states": [
        {
            "name": "Spin",
            "type": "operation",
            "actions": [{"functionRef": "spin"}],
            "onErrors": [{"errorRef": "tooBig", "transition": "Pause"}],
            "end": True,
        },
        {"name": "Pause", "type": "sleep", "duration": "PT0.1S", "transition": "Spin"},
    ],
}


def _children(pid: int) -> list[int]:
    """Pids of the evaluator children a process started."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and CHILD_SCRIPT.encode() in cmdline:
            found.append(int(entry))
    return found


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_sigterm_stops_the_worker_and_its_evaluator_children(api, settings, tmp_path):
    settings.TEMPORAL_QUEUE_PREFIX = f"test-stop-{uuid.uuid4().hex[:8]}-"
    env = {
        **os.environ,
        "TEMPORAL_QUEUE_PREFIX": settings.TEMPORAL_QUEUE_PREFIX,
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:5432/{connection.settings_dict['NAME']}",
        # As high as Temporal's deadlock detector allows, so the child is busy most of the time.
        "XFLOW_EXPRESSION_CPU_SECONDS": "1.5",
        "XFLOW_EXPRESSION_WALL_SECONDS": "1.8",
    }
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--queue", "xflow-engine"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        published = api.post("/api/v1/definitions/?publish=true", SPINNER, format="json")
        assert published.status_code in (200, 201), published.json()
        started = api.post("/api/v1/instances/", {"definition": "spinner"}, format="json")
        assert started.status_code == 201, started.json()

        # Given a child of the worker burning CPU on the expression
        deadline = time.monotonic() + 60
        busy = None
        while busy is None:
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()
            assert time.monotonic() < deadline, "no evaluator child became busy"
            for pid in _children(worker.pid):
                first = _cpu_ticks(pid)
                time.sleep(0.3)
                if _alive(pid) and _cpu_ticks(pid) - first > 5:
                    busy = pid
            time.sleep(0.1)
        children = _children(worker.pid)

        # When the worker is told to stop
        worker.send_signal(signal.SIGTERM)

        # Then it exits cleanly and none of its children is left running
        assert worker.wait(timeout=60) == 0, (tmp_path / "worker.log").read_text()
        assert busy in children
        assert not [pid for pid in children if _alive(pid)]
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        log.close()
        _terminate_open_instances()


def _terminate_open_instances() -> None:
    """Nothing polls the test's queue any more: close what it left in Temporal."""
    open_ids = [i.workflow_id for i in WorkflowInstance.objects.open()]

    async def terminate(client):
        for workflow_id in open_ids:
            try:
                await client.get_workflow_handle(workflow_id).terminate(reason="test ended")
            except Exception:  # already closed
                pass

    if open_ids:
        temporal.call(terminate)
