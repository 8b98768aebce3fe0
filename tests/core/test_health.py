"""Liveness and readiness, against the real components `make test` brought up."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]
REQUIRED = {"postgres", "redis", "temporal", "kafka"}
BACKGROUND = {"worker", "bridge", "celery"}


@pytest.fixture
def own_heartbeats(settings):
    """Heartbeats of this test's own: a `make run` on the same Redis must not count."""
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "KEY_PREFIX": prefix},
    }
    settings.HEARTBEAT_SECONDS = 1
    return prefix


def test_healthz_answers_without_touching_dependencies(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db(transaction=True)
def test_readyz_is_ready_but_degraded_while_no_background_component_runs(client, own_heartbeats):
    # Given the services are up but no worker, bridge or Celery process runs
    response = client.get("/readyz")
    body = response.json()
    # Then the web tier is ready (200), and the answer names the three that are down
    assert response.status_code == 200, body
    assert body["ready"] is True
    assert body["status"] == "degraded"
    assert set(body["components"]) == REQUIRED | BACKGROUND
    assert all(body["components"][name]["ok"] for name in REQUIRED)
    assert sorted(body["down"]) == sorted(BACKGROUND)
    assert "no worker process has sent a heartbeat" in body["components"]["worker"]["error"]
    assert body["components"]["worker"]["required"] is False
    assert body["components"]["postgres"]["required"] is True


def _spawn(cmd: list[str], prefix: str) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "CACHE_KEY_PREFIX": prefix,
        "HEARTBEAT_SECONDS": "1",
        "TEMPORAL_QUEUE_PREFIX": f"{prefix}-",
        "KAFKA_TOPIC_PREFIX": f"{prefix}.",
        "KAFKA_CONSUMER_GROUP": f"{prefix}-bridge",
    }
    return subprocess.Popen(
        cmd,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _readyz_until(client, predicate, what: str, timeout: float = 45) -> dict:
    """Poll /readyz until predicate(body); the deadline only guards against a hang."""
    deadline = time.monotonic() + timeout
    while True:
        body = client.get("/readyz").json()
        if predicate(body):
            return body
        assert time.monotonic() < deadline, f"{what}; last answer: {body}"
        time.sleep(0.3)


@pytest.mark.django_db(transaction=True)
def test_readyz_tells_which_background_component_is_down(client, own_heartbeats, settings):
    # Given a real worker, bridge and Celery worker, each started as `make run` starts them
    settings.TEMPORAL_QUEUE_PREFIX = f"{own_heartbeats}-"
    py = sys.executable
    procs = {
        "worker": _spawn([py, "manage.py", "run_worker"], own_heartbeats),
        "bridge": _spawn([py, "manage.py", "run_bridge"], own_heartbeats),
        "celery": _spawn(
            [
                str(Path(py).parent / "celery"),
                "-A",
                "xflow_site",
                "worker",
                "--pool",
                "solo",
                "--without-gossip",
                "--without-mingle",
                "-Q",
                f"{own_heartbeats}-celery",
            ],
            own_heartbeats,
        ),
    }
    try:
        # Then readyz says everything is up, the worker with every queue it serves
        body = _readyz_until(client, lambda b: b["status"] == "ok", "not all up")
        assert body["down"] == [] and body["ready"] is True
        worker = body["components"]["worker"]
        assert worker["processes"] == 1
        assert f"{own_heartbeats}-xflow-engine" in worker["queues"]

        # When the worker dies without a word (its heartbeat expires)
        os.killpg(procs["worker"].pid, signal.SIGKILL)
        procs["worker"].wait(10)
        body = _readyz_until(client, lambda b: "worker" in b["down"], "worker never down")
        # Then readyz names the worker, and only it, and the web tier stays ready
        response = client.get("/readyz")
        assert response.status_code == 200
        assert body["down"] == ["worker"]
        assert body["status"] == "degraded"

        # When the bridge stops cleanly, it takes its heartbeat away with it
        os.killpg(procs["bridge"].pid, signal.SIGTERM)
        assert procs["bridge"].wait(20) == 0
        body = client.get("/readyz").json()
        assert sorted(body["down"]) == ["bridge", "worker"]
        assert body["components"]["celery"]["ok"] is True
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.django_db(transaction=True)
def test_readyz_names_the_component_that_is_down(client, settings):
    # Given Redis is pointed at a port where nothing listens
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    settings.READINESS_TIMEOUT_SECONDS = 1
    # When the readiness probe runs
    response = client.get("/readyz")
    # Then it answers 503 and names redis, and only redis, as down, with a reason
    body = response.json()
    assert response.status_code == 503
    assert body["down"] == ["redis"]
    assert body["status"] == "down"
    assert body["components"]["redis"]["ok"] is False
    assert body["components"]["redis"]["error"]
    assert body["components"]["postgres"]["ok"] is True
    # and the background components, whose heartbeats live in Redis, are unknown, not down
    assert sorted(body["unknown"]) == sorted(BACKGROUND)
    assert body["components"]["worker"]["state"] == "unknown"


@pytest.mark.django_db(transaction=True)
def test_readyz_reports_kafka_down_with_the_others_probed(client, settings):
    # Given no broker answers where Kafka is configured
    settings.KAFKA_BOOTSTRAP_SERVERS = ["127.0.0.1:1"]
    settings.READINESS_TIMEOUT_SECONDS = 1
    # When the readiness probe runs
    response = client.get("/readyz")
    body = response.json()
    # Then kafka is down with a reason, and the probe still answered for the others
    assert response.status_code == 503
    assert "kafka" in body["down"]
    assert body["components"]["kafka"]["error"]
    assert all(body["components"][name]["ok"] for name in ("postgres", "redis", "temporal"))
