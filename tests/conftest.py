"""Fixtures shared by every app's tests: users, groups and API clients."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid

import pytest
from django.conf import settings as django_settings
from django.contrib.auth.models import Group, Permission, User
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.core import temporal
from apps.workflows.models import WorkflowInstance


def _grant(user: User, *perms: str) -> None:
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )


# Session-wide Temporal workers whose activity threads write to the database. pytest-django
# creates the test database only when a selected test asks for `db`; a test that only runs a
# workflow does not, so running such tests alone (say `pytest tests/conformance -k end`) had
# the activities write to the platform's own database. Such a test counts as using the db.
WORKER_FIXTURES = {"conformance_worker", "engine_worker"}


# One test process holds what production spreads over several: test threads (the test client
# keeps each thread's connection until the thread ends), the API, session-wide workers with
# their activity threads and the live-progress writer. The production pool size would make
# them queue for connections; tests get a wider pool (still a pool: bounded, reused).
TEST_POOL_MAX_SIZE = 48


def widen_connection_pool() -> None:
    """Called before the first connection of the session (see django_db_modify_db_settings)."""
    from django.conf import settings

    pool = settings.DATABASES["default"].get("OPTIONS", {}).get("pool")
    if isinstance(pool, dict):
        pool["max_size"] = max(pool.get("max_size", 0), TEST_POOL_MAX_SIZE)


def quiesce_engine_writes() -> None:
    """Stop what a test left running so no worker writes while the tables are emptied:
    terminate the open instances' workflows and write out the queued live progress."""
    import time

    from django.db import DatabaseError

    from apps.core import temporal
    from apps.workflows.models import WorkflowInstance
    from apps.workflows.services import live

    try:
        open_ids = [i.workflow_id for i in WorkflowInstance.objects.open()]
    except DatabaseError:
        return

    async def terminate(client):
        for workflow_id in open_ids:
            try:
                await client.get_workflow_handle(workflow_id).terminate(reason="test ended")
            except Exception:  # already closed, or never started: nothing to stop
                pass

    if open_ids:
        temporal.call(terminate)
        time.sleep(0.2)  # let in-flight activities of those runs finish
    live.flush_now()


@pytest.fixture(scope="session")
def django_db_modify_db_settings(django_db_modify_db_settings_parallel_suffix) -> None:
    widen_connection_pool()


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup):
    """pytest-django's, then: the pool keeps idle connections open, so it is closed before
    the test database is dropped (else "being accessed by other users")."""
    yield
    for connection in connections.all():
        close_pool = getattr(connection, "close_pool", None)
        if close_pool is not None:
            close_pool()


def pytest_collection_modifyitems(items):
    for item in items:
        uses_worker = WORKER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses_worker and item.get_closest_marker("django_db") is None:
            item.add_marker(pytest.mark.django_db)


def assert_on_test_database() -> None:
    """Refuse to run workers against anything but pytest-django's test database."""
    name = connections["default"].settings_dict["NAME"]
    assert name.startswith("test_"), f"the workers would use the database {name!r}, not a test one"


@pytest.fixture
def allow_outbound(settings):
    """`allow_outbound("127.0.0.1:8080", ...)` opens these destinations for this test only.

    The outbound policy refuses loopback addresses by default; a test allows exactly the local
    services it starts (host:port), so a refusal test in the same session still sees 127.0.0.1
    refused on every other port.
    """

    def allow(*entries: str) -> None:
        settings.XFLOW_OUTBOUND_ALLOW = [*settings.XFLOW_OUTBOUND_ALLOW, *entries]

    return allow


@pytest.fixture
def make_user(db):
    def make(
        username: str = "user",
        *,
        groups=(),
        perms=(),
        staff=False,
        superuser=False,
        password: str = "pw-for-tests-1",
    ) -> User:
        user = User.objects.create_user(
            username=username,
            password=password,
            email=f"{username}@example.com",
            is_staff=staff or superuser,
            is_superuser=superuser,
        )
        for name in groups:
            user.groups.add(Group.objects.get_or_create(name=name)[0])
        _grant(user, *perms)
        return User.objects.get(pk=user.pk)  # fresh: no stale permission cache

    return make


@pytest.fixture
def operator(make_user) -> User:
    """A staff member of the `operators` group, with the permissions load_demo gives it."""
    from apps.core.management.commands.load_demo import ensure_groups

    ensure_groups()
    return make_user("operator", staff=True, groups=["operators"])


@pytest.fixture
def api(operator) -> APIClient:
    """An API client authenticated with the operator's token."""
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=operator)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()


# --- the production worker, shared by every test directory -------------------------------
# One per session: a fixture imported into several modules would be one per module (each
# with its own threads and task queue prefix).


@pytest.fixture(scope="session")
def engine_worker(django_db_setup, django_db_blocker):
    """Run the production worker in a background thread for the whole session."""
    from apps.core.worker import build_registry, build_workers

    assert_on_test_database()
    django_settings.TEMPORAL_QUEUE_PREFIX = f"test-{uuid.uuid4().hex[:8]}-"
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
        from apps.workflows.services import live

        live.uninstall()  # its last writes go out while the test database still exists


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
    quiesce_engine_writes()
