"""The web tier holds under load: a real gunicorn, real clients, real database connections.

The same property as `bench/web_load.py` (200 clients for a minute), at test scale: 50 API
clients for about 10 s against gunicorn as `make run` starts it, with the production
worker behind it. No answer may be a 5xx, and PostgreSQL must never see more connections
from those processes (tagged with their application_name) than their pools allow: web
processes x pool size + the worker's pool.
"""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest
from django.db import connection

from apps.workflows.models import WorkflowInstance
from bench.web_load import prepare, run_load

ROOT = Path(__file__).resolve().parents[2]
WEB_PROCESSES = 2
WEB_THREADS = 4
POOL = 4  # DB_POOL_MAX_SIZE of every process started here


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(cmd: list[str], env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env={**os.environ, **env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def _terminate_open_workflows(queue: str) -> None:
    """Leave nothing running on the shared Temporal server once the worker is gone."""
    from apps.core import temporal

    async def terminate(client):
        query = f"TaskQueue='{queue}' AND ExecutionStatus='Running'"
        async for wf in client.list_workflows(query):
            try:
                await client.get_workflow_handle(wf.id).terminate("load test over")
            except Exception:  # closed meanwhile
                pass

    temporal.call(terminate)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_fifty_clients_get_no_5xx_and_database_connections_stay_bounded(make_user):
    # Given gunicorn and the worker as `make run` starts them, on the test database
    make_user("loader", staff=True, superuser=True, password="load-pass-1")
    db = connection.settings_dict
    prefix = f"load-{uuid.uuid4().hex[:8]}-"
    port = _free_port()
    env = {
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "DB_POOL_MAX_SIZE": str(POOL),
        "TEMPORAL_QUEUE_PREFIX": prefix,
        "CACHE_KEY_PREFIX": prefix,
        "XFLOW_WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": str(WEB_PROCESSES),
        "WEB_THREADS": str(WEB_THREADS),
        "PGAPPNAME": prefix,  # pg_stat_activity tells their connections from this test's
    }
    bin_dir = Path(sys.executable).parent
    web = _spawn(
        [str(bin_dir / "gunicorn"), "-c", "xflow_site/gunicorn_conf.py", "xflow_site.wsgi"], env
    )
    worker = _spawn([sys.executable, "manage.py", "run_worker"], env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60  # guards a server that never comes up
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert web.poll() is None, "gunicorn exited"
            assert time.monotonic() < deadline, "gunicorn never answered"
            time.sleep(0.2)
        token, instance_id = prepare(base, "loader", "load-pass-1")

        # When 50 clients send the API mix for 10 s
        result = run_load(
            base,
            token=token,
            instance_id=instance_id,
            clients=50,
            seconds=10,
            database={
                "host": db["HOST"] or "127.0.0.1",
                "port": db["PORT"] or 5432,
                "user": db["USER"] or None,
                "password": db["PASSWORD"],
                "name": db["NAME"],
                "application_name": prefix,
            },
        )
    finally:
        _stop(web)
        _stop(worker)
        _terminate_open_workflows(f"{prefix}xflow-engine")

    # Then every request got a 2xx answer: no 5xx, nothing refused or timed out
    summary = result.summary()
    print(summary)  # shown when the test fails
    assert set(result.statuses) <= {200, 201}, summary["statuses"]
    assert result.requests >= 50, summary
    # and every 201 is an instance stored in the database
    starts = result.by_kind.get("start", {}).get(201, 0)
    assert starts > 0
    assert WorkflowInstance.objects.count() == starts + 1  # + the one prepare() started
    # and PostgreSQL never saw more connections from the server than the pools allow
    bound = WEB_PROCESSES * POOL + POOL  # the web processes and the worker
    assert result.connections, "the sampler took no sample"
    assert 0 < max(result.connections) <= bound, (max(result.connections), bound)
