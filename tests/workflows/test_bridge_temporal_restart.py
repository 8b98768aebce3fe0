"""Kill -9 the Temporal server while the bridge routes events: each has its effect once.

The test runs a Temporal dev server of its own (a SQLite file, so what it had accepted
survives the restart; the shared server is never touched), and the production worker and
bridge as processes pointed at it. XFLOW_TEST_TEMPORAL_RESTART_EVENTS (default 300) sets
how many events, XFLOW_TEST_TEMPORAL_DOWN_SECONDS (5) how long the server stays down; the
issue's case is 1,000 events.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db.models import Count

from apps.core import temporal
from apps.workflows.models import (
    DeadLetter,
    EventDelivery,
    EventWait,
    InboundEvent,
    WorkflowInstance,
)
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.instances import do_start_instance

from .test_bridge_reliability import (
    STARTER,
    WAITER,
    publish_shuffled,
    reconciler_pass,
    spawn,
    spawn_bridge,
)

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]
EVENTS = int(os.environ.get("XFLOW_TEST_TEMPORAL_RESTART_EVENTS", "300"))
DOWN_SECONDS = float(os.environ.get("XFLOW_TEST_TEMPORAL_DOWN_SECONDS", "5"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(port: int, db_file: Path, log: Path) -> subprocess.Popen:
    """`temporal server start-dev` on 127.0.0.1:port, its state in db_file."""
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--headless",
            "--log-level",
            "error",
            "--db-filename",
            str(db_file),
        ],
        stdout=subprocess.DEVNULL,
        stderr=log.open("ab"),
        start_new_session=True,
    )
    deadline = time.monotonic() + 30
    while True:
        assert proc.poll() is None, f"the Temporal server exited: {log.read_text()[-2000:]}"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            assert time.monotonic() < deadline, "the Temporal server did not start"
            time.sleep(0.1)


def _until_ready(action, seconds: float = 60):
    """A dev server listens before its frontend answers: retry `action` until it does."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return action()
        except Exception:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


@pytest.fixture
def own_temporal(tmp_path, settings, monkeypatch):
    """A Temporal dev server of this test; `restart()` kills it (-9) and starts it again on
    the same port and database file. This process and the ones the test spawns use it."""
    port, db_file, log = _free_port(), tmp_path / "temporal.db", tmp_path / "temporal.log"
    server = SimpleNamespace(proc=_start_server(port, db_file, log), address=f"127.0.0.1:{port}")
    settings.TEMPORAL_ADDRESS = server.address
    settings.TEMPORAL_QUEUE_PREFIX = f"trs-{uuid.uuid4().hex[:8]}-"
    monkeypatch.setenv("TEMPORAL_ADDRESS", server.address)  # spawn_bridge passes os.environ
    temporal.reset()
    _until_ready(temporal.ensure_search_attributes)

    def kill():
        os.kill(server.proc.pid, signal.SIGKILL)
        server.proc.wait(10)

    def start():
        server.proc = _start_server(port, db_file, log)

    server.kill, server.start = kill, start
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            os.kill(server.proc.pid, signal.SIGKILL)
            server.proc.wait(10)
        temporal.reset()  # the next test's client connects to the shared server again


def spawn_worker(log: Path) -> subprocess.Popen:
    """`manage.py run_worker` on the test database, the test's Temporal server and queues."""
    from django.conf import settings

    return spawn("run_worker", log, TEMPORAL_ADDRESS=settings.TEMPORAL_ADDRESS)


def _stop(proc: subprocess.Popen) -> int | None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            return proc.wait(30)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            return None
    return proc.returncode


def test_temporal_restart_while_routing(own_temporal, kafka_topics, tmp_path):
    logs = tmp_path / "processes.log"

    def said() -> str:
        return logs.read_text()[-3000:] if logs.exists() else ""

    do_save_definition(source=STARTER, publish=True)
    waiter = do_save_definition(source=WAITER, publish=True)[0]
    half = EVENTS // 2
    worker = spawn_worker(logs)
    bridge = None
    try:
        # Given half of the instances waiting for their correlated event
        waiting = {}
        for n in range(half):
            instance = do_start_instance(definition=waiter, input={"orderid": f"o-{n}"})
            waiting[str(instance.pk)] = n
        deadline = time.monotonic() + 60
        while EventWait.objects.count() < half:
            assert worker.poll() is None, f"the worker exited: {said()}"
            assert time.monotonic() < deadline, f"{EventWait.objects.count()} waiting: {said()}"
            time.sleep(0.2)
        # and the events on the topic: half start instances, half wake the waiting ones
        publish_shuffled(kafka_topics.events, half, seed=11)

        # When the Temporal server is killed while the bridge routes them, stays down a
        # few seconds, and comes back on the same port with the same database
        bridge = spawn_bridge(kafka_topics, logs)
        deadline = time.monotonic() + 90
        while InboundEvent.objects.count() < EVENTS // 4:
            assert bridge.poll() is None, f"the bridge exited: {said()}"
            assert time.monotonic() < deadline, f"the bridge routed nothing: {said()}"
            time.sleep(0.05)
        own_temporal.kill()
        killed_at = InboundEvent.objects.count()
        time.sleep(DOWN_SECONDS)  # the bridge goes on routing; its starts and signals fail
        own_temporal.start()
        stranded = (
            WorkflowInstance.objects.filter(status="starting").count()
            + EventDelivery.objects.filter(status="pending").count()
        )

        # Then, with the reconciler running as Celery beat would (it sends the starts and
        # signals the outage left unsent), every event has had its effect
        deadline = time.monotonic() + 60 + EVENTS * 0.1
        while True:
            assert worker.poll() is None, f"the worker exited: {said()}"
            assert bridge.poll() is None, f"the bridge exited: {said()}"
            try:
                reconciler_pass()
            except Exception:  # noqa: BLE001 - the server's frontend is still coming up
                pass
            done = WorkflowInstance.objects.filter(status="completed").count()
            if InboundEvent.objects.count() == EVENTS and done == EVENTS:
                break
            statuses = WorkflowInstance.objects.values_list("status").annotate(Count("id"))
            assert time.monotonic() < deadline, (
                f"{InboundEvent.objects.count()} of {EVENTS} events routed, instances: "
                f"{dict(statuses)}; the processes said:\n{said()}"
            )
            time.sleep(0.5)
        assert _stop(bridge) == 0
    finally:
        if bridge is not None:
            _stop(bridge)
        _stop(worker)

    assert killed_at < EVENTS, "everything was routed before the kill: raise the count"
    assert stranded > 0, "the outage stranded no start or signal: it tested nothing"
    starter = WorkflowInstance.objects.filter(definition_key="rel-starter")
    assert starter.count() == half  # no instance started twice
    assert sorted(i.output["go"]["n"] for i in starter) == list(range(half))
    for instance in WorkflowInstance.objects.filter(pk__in=list(waiting)):
        assert instance.output["done"] == {"n": waiting[str(instance.pk)]}  # its own event
    deliveries = EventDelivery.objects.filter(instance_id__in=list(waiting))
    assert deliveries.count() == half  # one per waiting instance
    statuses = dict(deliveries.values_list("status").annotate(n=Count("id")))
    assert set(statuses) <= {"signalled", "closed"}, statuses
    assert not DeadLetter.objects.exists()
