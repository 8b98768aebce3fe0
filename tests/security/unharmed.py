"""'The platform is unharmed': nothing half-written remains and a trivial instance completes.

Each refused request in the input-bounds tests is followed by `platform.assert_unharmed(...)`:
the rows of every table a request could write are counted before and after, and then a
trivial definition starts through the API and completes on the production worker.
"""

from __future__ import annotations

import time

import pytest
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.core import temporal
from apps.core.models import IdempotencyRecord
from apps.workflows.models import (
    DefinitionEvent,
    InboundEvent,
    InstanceEvent,
    Secret,
    WorkflowDefinition,
    WorkflowInstance,
)
from tests.conftest import wait_for_instance

TRIVIAL = {
    "id": "trivial",
    "version": "1",
    "specVersion": "0.8",
    "start": "Done",
    "states": [{"name": "Done", "type": "inject", "data": {"done": True}, "end": True}],
}

WRITTEN = (
    WorkflowDefinition,
    DefinitionEvent,
    WorkflowInstance,
    InstanceEvent,
    InboundEvent,
    IdempotencyRecord,
    Secret,
)


class Platform:
    def __init__(self, api: APIClient) -> None:
        self.api = api

    def snapshot(self) -> dict[str, int]:
        return {model.__name__: model.objects.count() for model in WRITTEN}

    def assert_unharmed(self, before: dict[str, int]) -> None:
        assert self.snapshot() == before, "a refused request left rows behind"
        self.run_trivial()

    def run_trivial(self) -> WorkflowInstance:
        """Start the trivial definition through the API; it completes on the worker."""
        started = self.api.post(
            "/api/v1/instances/", {"definition": "trivial", "input": {}}, format="json"
        )
        assert started.status_code == 201, started.json()
        instance = wait_for_instance(started.json()["id"])
        assert instance.status == "completed"
        assert instance.output == {"done": True}
        wait_closed_in_temporal(instance.workflow_id)
        return instance


def wait_closed_in_temporal(workflow_id: str, timeout: float = 15.0) -> None:
    """Wait until nothing of this run still writes: a write racing the test's table flush
    deadlocks it. The row says completed from the workflow's last report; Temporal closes
    the run after its activities; the live-progress writer flushes every FLUSH_SECONDS."""
    from temporalio.client import WorkflowExecutionStatus

    async def describe(client):
        return await client.get_workflow_handle(workflow_id).describe()

    deadline = time.monotonic() + timeout
    while temporal.call(describe).status == WorkflowExecutionStatus.RUNNING:
        assert time.monotonic() < deadline, f"{workflow_id} still runs in Temporal"
        time.sleep(0.05)
    wait_live_writer_idle()


def wait_live_writer_idle(timeout: float = 10.0) -> None:
    """The worker's live-progress writer has written what it queued."""
    from apps.workflows.services import live

    deadline = time.monotonic() + timeout
    writer = live._writer
    while writer is not None and writer.queue and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(2 * live.FLUSH_SECONDS)  # a batch taken from the queue may still be written


@pytest.fixture
def root_api(db) -> APIClient:
    """An API client of a superuser (permissions are not what these tests are about)."""
    root = User.objects.create(username="root", is_staff=True, is_superuser=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=root).key}")
    return client


@pytest.fixture
def platform(root_api) -> Platform:
    published = root_api.post("/api/v1/definitions/?publish=true", TRIVIAL, format="json")
    assert published.status_code == 201, published.json()
    return Platform(root_api)
