"""The API keeps the contract its OpenAPI schema states: schemathesis, in-process, bounded.

Every operation of the served schema (`/api/schema/?format=json`) gets the schema's examples,
its boundary cases and a fixed number of generated requests, valid and invalid; each request
goes to the WSGI app on the test database as a superuser and as a plain user, once as
generated and once naming real objects (a published definition, a running and a failed
instance, a secret), so the 2xx answers are checked too. Starts and events run on the
production worker against the real Temporal server. Any 5xx, status code the schema does not
list, response that does not match its schema, undocumented content type or header fails.

The run is deterministic (fixed seed, derandomized, no example database) so CI cannot flake.
"""

from __future__ import annotations

import os
import time
import uuid

import pytest
import schemathesis
from django.contrib.auth.models import User
from django.core import signals
from django.core.cache import cache
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from apps.core import temporal
from apps.workflows.api.examples import GREETING
from apps.workflows.models import InstanceStatus, WorkflowInstance
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.instances import do_start_instance
from apps.workflows.services.secrets import do_set_secret
from tests.conftest import wait_for_instance  # noqa: F401
from tests.security.unharmed import wait_live_writer_idle
from xflow_site.wsgi import application

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("engine_worker"),
    pytest.mark.slow,
]

# Generated requests per operation (beside the schema's examples and boundary cases): enough
# to find a crash or a wrong shape, few enough for the run to take about two minutes on two
# busy cores. A deeper look: XFLOW_CONTRACT_EXAMPLES=200 XFLOW_CONTRACT_SEED=7 pytest <this>.
MAX_EXAMPLES = int(os.environ.get("XFLOW_CONTRACT_EXAMPLES", "10"))
CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": int(os.environ.get("XFLOW_CONTRACT_SEED", "20260131")),
        "generation": {
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "database": "none",
            # Credentials are ours (a real token per role), not generated.
            "with-security-parameters": False,
        },
        "phases": {"stateful": {"enabled": False}},
    }
)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]

NAPPER = {
    "id": "napper",
    "version": "1",
    "specVersion": "0.8",
    "start": "Nap",
    "states": [{"name": "Nap", "type": "sleep", "duration": "PT1H", "end": True}],
}

# Loaded through the app itself, as a client would: it must be served and valid OpenAPI.
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)


def validate_as_each_caller(case, tokens: list[str], make) -> None:
    """Call `case` as each token's user and check the answer: once as generated and, when it
    names an object, once more on a fresh real one (`make()` returns its id), so the 2xx
    answers are checked too (tests/tasks and tests/files use it)."""
    for token in tokens:
        cases = [case]
        if case.path_parameters:
            real = {**case.path_parameters, "id": make()}
            cases.append(
                case.operation.Case(
                    path_parameters=real,
                    query=case.query,
                    headers=case.headers,
                    body=case.body,
                    media_type=case.media_type,
                )
            )
        for request in cases:
            request.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)


@pytest.fixture
def in_process_wsgi():
    """Calls into the WSGI app keep the test's connection, as Django's test client does."""
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    yield
    signals.request_started.connect(close_old_connections)
    signals.request_finished.connect(close_old_connections)


@pytest.fixture
def world(in_process_wsgi, settings, tmp_path) -> dict:
    """Real objects to name: definitions, a running and a failed instance, a secret, users."""
    settings.MEDIA_ROOT = str(tmp_path / "media")  # generated uploads go nowhere lasting
    root = User.objects.create(username="root", is_staff=True, is_superuser=True)
    plain = User.objects.create(username="plain")
    do_save_definition(source=GREETING, publish=True)
    napper, _ = do_save_definition(source=NAPPER, publish=True)
    running = do_start_instance(definition=napper, input={"who": "contract"}, user=root)
    wait_for_instance(running.pk, statuses=("running", "waiting"))
    failed = WorkflowInstance.objects.create(
        definition=napper,
        definition_key="napper",
        version="1",
        workflow_id=f"xflow-contract-{uuid.uuid4()}",
        started_by=root,
        status=InstanceStatus.FAILED,
        error={"type": "Boom", "message": "failed in Nap", "state": "Nap"},
        input={},
    )
    do_set_secret(name="apiKey", value="contract-secret")
    cache.delete_pattern("throttle_auth_token*")
    yield {
        "tokens": [Token.objects.create(user=u).key for u in (plain, root)],
        "running": str(running.pk),
        "failed": str(failed.pk),
    }
    _terminate_open_workflows()
    cache.delete_pattern("throttle_auth_token*")  # sign-in counts live in Redis, across tests


def _terminate_open_workflows() -> None:
    """Let short instances finish and stop the sleeping ones, so no report races the flush."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (
        WorkflowInstance.objects.open().filter(definition_key="greeting").exists()
        or WorkflowInstance.objects.filter(status=InstanceStatus.STARTING).exists()
    ):
        time.sleep(0.1)
    workflow_ids = list(WorkflowInstance.objects.open().values_list("workflow_id", flat=True))

    async def terminate(client):
        for workflow_id in workflow_ids:
            try:
                await client.get_workflow_handle(workflow_id).terminate(reason="test ended")
            except Exception:  # never started, or already closed
                pass

    if workflow_ids:
        temporal.call(terminate)
    wait_live_writer_idle()  # and the activities of those runs end meanwhile


def _naming_real_objects(case, world: dict):
    """The same request, its path parameters (and a start's definition) made real."""
    real = {
        "key": "greeting",
        "version": "1",
        "name": "apiKey",
        "id": world["failed"] if case.operation.path.endswith("/retry") else world["running"],
    }
    path = {name: real.get(name, value) for name, value in (case.path_parameters or {}).items()}
    body = case.body
    if case.operation.path == "/api/v1/instances/" and isinstance(body, dict):
        body = {**body, "definition": "greeting"}
        body.pop("version", None)
    return case.operation.Case(
        path_parameters=path,
        query=case.query,
        headers=case.headers,
        body=body,
        media_type=case.media_type,
    )


@schema.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_every_answer_matches_the_schema(case, world):
    cases = [case]
    if case.path_parameters or case.operation.path == "/api/v1/instances/":
        cases.append(_naming_real_objects(case, world))
    for token in world["tokens"]:  # a plain user first, then a superuser
        for request in cases:
            request.call_and_validate(headers={"Authorization": f"Token {token}"}, checks=CHECKS)
