"""A real Temporal worker for end-to-end tests of instances through the API.

The worker is the production one (`apps.core.worker`: the interpreter and every registered
activity) talking to the Temporal server `make test` brought up, on task queues prefixed
uniquely for this test session so a `make run` on the same machine cannot steal the work.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
from django.conf import settings

from apps.core import temporal
from apps.workflows.models import WorkflowInstance


@pytest.fixture(scope="session")
def engine_worker(django_db_setup, django_db_blocker):
    """Run the production worker in a background thread for the whole session."""
    from apps.core.worker import build_registry, build_workers
    from tests.conftest import assert_on_test_database

    assert_on_test_database()
    settings.TEMPORAL_QUEUE_PREFIX = f"test-{uuid.uuid4().hex[:8]}-"
    temporal.reset()
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    started = threading.Event()
    failure: list[BaseException] = []

    async def main():
        client = await temporal.connect()
        workers = build_workers(client, build_registry(), max_activity_threads=16)
        tasks = [asyncio.create_task(w.run()) for w in workers]
        started.set()
        await stop.wait()
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        for t in tasks:
            t.cancel()

    def runner():
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(main())
        except BaseException as exc:  # surfaced to the test that waits for start
            failure.append(exc)
            started.set()

    thread = threading.Thread(target=runner, name="test-worker", daemon=True)
    with django_db_blocker.unblock():
        thread.start()
        assert started.wait(30), "the worker did not start"
        if failure:
            raise failure[0]
        yield
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)


def wait_for_instance(
    instance_id,
    *,
    statuses=("completed", "failed", "cancelled", "terminated", "timed_out"),
    timeout: float = 30.0,
) -> WorkflowInstance:
    """Poll the mirror until the instance reaches one of the statuses."""
    deadline = time.monotonic() + timeout
    while True:
        instance = WorkflowInstance.objects.get(pk=instance_id)
        if instance.status in statuses:
            return instance
        if time.monotonic() > deadline:
            raise AssertionError(
                f"instance {instance_id} is {instance.status} after {timeout}s, "
                f"not one of {statuses}"
            )
        time.sleep(0.05)


@pytest.fixture(autouse=True)
def _stop_open_instances(request):
    """Terminate what a test left running, so no activity writes while tables are flushed."""
    yield
    if "engine_worker" not in request.fixturenames:
        return
    from tests.conftest import quiesce_engine_writes

    quiesce_engine_writes()
