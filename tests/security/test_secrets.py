"""Secrets stay secret: masked wherever instance data is shown, rotatable keys, production check."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from cryptography.fernet import InvalidToken
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command

from apps.core.codec import data_converter
from apps.core.keys import keyring
from apps.core.masking import MASK, mask_secrets
from apps.core.models import PlatformEvent
from apps.workflows.models import Secret
from apps.workflows.services import secrets as store
from tests.conftest import wait_for_instance  # noqa: F401
from tests.security.conftest import napper

ROOT = Path(__file__).resolve().parents[2]


def publish(api, document: dict) -> None:
    response = api.post("/api/v1/definitions/?publish=true", document, format="json")
    assert response.status_code == 201, response.json()


def start(api, key: str) -> str:
    response = api.post("/api/v1/instances/", {"definition": key}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()["id"]


LEAKY = {
    "id": "leaky",
    "version": "1",
    "specVersion": "0.8",
    "start": "Use",
    "secrets": ["apiKey"],
    "functions": [
        {"name": "header", "type": "expression", "operation": '"Bearer " + $SECRETS.apiKey'}
    ],
    "states": [
        {
            "name": "Use",
            "type": "operation",
            "actions": [
                {
                    "name": "build",
                    "functionRef": "header",
                    "actionDataFilter": {"toStateData": ".auth"},
                }
            ],
            "end": True,
        }
    ],
}

FAILING = {
    "id": "failing",
    "version": "1",
    "specVersion": "0.8",
    "start": "Call",
    "secrets": ["apiKey"],
    "functions": [{"name": "refuse", "type": "custom", "operation": "xflow:fail"}],
    "states": [
        {
            "name": "Call",
            "type": "operation",
            "actions": [
                {
                    "functionRef": {
                        "refName": "refuse",
                        "arguments": {
                            "code": "Refused",
                            "message": '${ "the partner refused key " + $SECRETS.apiKey }',
                        },
                    }
                }
            ],
            "end": True,
        }
    ],
}


def test_masking_replaces_secret_strings_anywhere_in_json():
    data = {
        "auth": "Bearer tok-123456",
        "nested": [{"pw": "hunter22"}, "x hunter22 y", 424242, True],
        "tok-123456": "as a key",
        "short": "abc",
    }
    masked = mask_secrets(data, ["tok-123456", {"user": "u", "password": "hunter22"}, 424242])
    assert masked == {
        "auth": f"Bearer {MASK}",
        "nested": [{"pw": MASK}, f"x {MASK} y", MASK, True],
        MASK: "as a key",
        "short": "abc",
    }
    assert mask_secrets(data, []) == data


@pytest.fixture
def secret_value(api) -> str:
    value = f"tok-{uuid.uuid4().hex}"
    created = api.post("/api/v1/secrets/", {"name": "apiKey", "value": value}, format="json")
    assert created.status_code == 201
    return value


@pytest.fixture
def admin_client(client, operator):
    client.force_login(operator)
    return client


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("engine_worker")
def test_a_secret_in_the_output_is_masked_in_the_api_timeline_and_admin(
    api, admin_client, secret_value
):
    publish(api, LEAKY)
    instance_id = start(api, "leaky")
    assert wait_for_instance(instance_id).status == "completed"

    detail = api.get(f"/api/v1/instances/{instance_id}/")
    assert detail.json()["output"] == {"auth": f"Bearer {MASK}"}
    assert secret_value not in detail.content.decode()

    timeline = api.get(f"/api/v1/instances/{instance_id}/timeline")
    assert timeline.status_code == 200
    assert secret_value not in timeline.content.decode()
    assert any(MASK in json.dumps(entry) for entry in timeline.json())  # the action's result

    page = admin_client.get(f"/admin/workflows/workflowinstance/{instance_id}/change/")
    assert page.status_code == 200
    text = page.content.decode()
    assert secret_value not in text
    assert f"Bearer {MASK}" in text


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("engine_worker")
def test_the_mirror_stores_secret_values_masked_and_they_stay_masked_after_a_change(
    api, secret_value
):
    from apps.workflows.models import InstanceEvent, WorkflowInstance
    from apps.workflows.services.secrets import do_set_secret

    publish(api, LEAKY)
    instance_id = start(api, "leaky")
    assert wait_for_instance(instance_id).status == "completed"
    # Masked when written: the database never held the value (dumps, replicas) ...
    stored = WorkflowInstance.objects.filter(pk=instance_id).values_list("output", flat=True)
    assert stored.get() == {"auth": f"Bearer {MASK}"}
    details = InstanceEvent.objects.filter(instance_id=instance_id).values_list(
        "details", flat=True
    )
    assert secret_value not in json.dumps(list(details))
    # ... so a later change of the secret does not unmask what was shown before.
    do_set_secret(name="apiKey", value="another-value-entirely", user=None)
    detail = api.get(f"/api/v1/instances/{instance_id}/")
    assert secret_value not in detail.content.decode()


@pytest.fixture
def console_log():
    """What the platform's console log handler prints (xflow's and Temporal's loggers)."""
    handlers = {
        h
        for name in ("xflow", "temporalio")
        for h in logging.getLogger(name).handlers
        if isinstance(h, logging.StreamHandler)
    }
    assert handlers, "the console handler of settings.LOGGING is not installed"
    buffer = io.StringIO()
    previous = [(h, h.setStream(buffer)) for h in handlers]
    yield buffer
    for handler, stream in previous:
        handler.setStream(stream)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("engine_worker")
def test_a_failure_quoting_a_secret_is_masked_in_the_error_the_admin_and_the_log(
    api, admin_client, secret_value, console_log
):
    publish(api, FAILING)
    instance_id = start(api, "failing")
    assert wait_for_instance(instance_id).status == "failed"

    detail = api.get(f"/api/v1/instances/{instance_id}/")
    error = detail.json()["error"]
    assert f"the partner refused key {MASK}" in json.dumps(error)
    assert secret_value not in detail.content.decode()
    listed = api.get("/api/v1/instances/", {"definition": "failing"})
    assert secret_value not in listed.content.decode()

    page = admin_client.get(f"/admin/workflows/workflowinstance/{instance_id}/change/")
    assert secret_value not in page.content.decode()

    printed = console_log.getvalue()
    assert f"of instance {instance_id} (state Call) failed" in printed
    assert f"the partner refused key {MASK}" in printed
    assert "Completing activity as failed" in printed  # the SDK's record, without traceback
    assert secret_value not in printed


def test_admin_changes_to_secrets_go_through_the_services_with_audit_rows(admin_client):
    added = admin_client.post(
        "/admin/workflows/secret/add/",
        {"name": "partner", "description": "first", "value": "value-one"},
    )
    assert added.status_code == 302
    secret = Secret.objects.get(name="partner")
    described = admin_client.post(
        f"/admin/workflows/secret/{secret.pk}/change/",
        {"name": "renamed", "description": "second", "value": ""},
    )
    assert described.status_code == 302
    secret.refresh_from_db()
    assert (secret.name, secret.description) == ("partner", "second")  # the name is read-only
    assert store.resolve_secrets({"secrets": ["partner"]}) == {"partner": "value-one"}
    deleted = admin_client.post(f"/admin/workflows/secret/{secret.pk}/delete/", {"post": "yes"})
    assert deleted.status_code == 302
    assert not Secret.objects.exists()
    audit = list(
        PlatformEvent.objects.filter(subject="partner")
        .order_by("id")
        .values_list("event_type", "actor__username")
    )
    assert audit == [
        ("secret_set", "operator"),
        ("secret_described", "operator"),
        ("secret_deleted", "operator"),
    ]


# --- key rotation ---------------------------------------------------------------------------


def _ciphertext(name: str) -> str:
    return Secret.objects.get(name=name).ciphertext


def _readable_with(key: str, ciphertext: str) -> bool:
    try:
        keyring(store.PURPOSE, [key]).decrypt(ciphertext.encode())
        return True
    except InvalidToken:
        return False


@pytest.mark.django_db
def test_rotating_the_secrets_key_keeps_old_values_readable_until_reencrypted(settings, capsys):
    settings.XFLOW_SECRETS_KEYS = []
    settings.XFLOW_SECRETS_KEY = "the old key"
    store.do_set_secret(name="old", value={"password": "p-old-1"})

    # Rotate: the new key first, the old one still listed.
    settings.XFLOW_SECRETS_KEYS = ["the new key", "the old key"]
    settings.XFLOW_SECRETS_KEY = "the new key"
    store.do_set_secret(name="new", value="v-new-2")
    assert store.resolve_secrets({"secrets": ["old", "new"]}) == {
        "old": {"password": "p-old-1"},
        "new": "v-new-2",
    }
    assert _readable_with("the new key", _ciphertext("new"))
    assert not _readable_with("the old key", _ciphertext("new"))
    assert not _readable_with("the new key", _ciphertext("old"))

    # Dropping the old key too early: the old secret cannot be read, and says why.
    settings.XFLOW_SECRETS_KEYS = ["the new key"]
    with pytest.raises(store.ServiceError, match="no longer in XFLOW_SECRETS_KEYS"):
        store.resolve_secrets({"secrets": ["old"]})

    settings.XFLOW_SECRETS_KEYS = ["the new key", "the old key"]
    call_command("reencrypt_secrets")
    assert "2 secret(s) re-encrypted" in capsys.readouterr().out
    assert PlatformEvent.objects.filter(event_type="secrets_reencrypted").exists()

    settings.XFLOW_SECRETS_KEYS = ["the new key"]
    assert store.resolve_secrets({"secrets": ["old", "new"]}) == {
        "old": {"password": "p-old-1"},
        "new": "v-new-2",
    }


@pytest.mark.django_db(transaction=True)
def test_a_history_written_under_the_old_payload_key_is_read_by_a_worker_given_both(settings):
    import asyncio

    from temporalio.client import Client, WorkflowExecutionStatus

    from apps.core import temporal
    from apps.core.codec import FernetCodec
    from apps.core.worker import build_registry, build_workers
    from apps.workflows.engine.contracts import (
        INTERPRETER_WORKFLOW,
        QUEUE_ENGINE,
        InterpreterInput,
    )

    settings.TEMPORAL_QUEUE_PREFIX = f"rotate-{uuid.uuid4().hex[:8]}-"
    secret = f"s3cr3t-{uuid.uuid4().hex}"
    workflow_id = f"rotate-{uuid.uuid4()}"
    definition = {
        "id": "rotating",
        "version": "1",
        "specVersion": "0.8",
        "start": "Wait",
        "secrets": ["apiKey"],
        "states": [
            {"name": "Wait", "type": "sleep", "duration": "PT2S", "transition": "Done"},
            {
                "name": "Done",
                "type": "inject",
                "data": {},
                "end": True,
                "stateDataFilter": {"output": "${ {used: ($SECRETS.apiKey | length), who} }"},
            },
        ],
    }

    def use_keys(*keys):
        settings.TEMPORAL_PAYLOAD_KEYS = list(keys)
        settings.TEMPORAL_PAYLOAD_KEY = keys[0]

    async def until_sleeping(handle):
        for _ in range(200):
            history = await handle.fetch_history()
            if any(e.HasField("timer_started_event_attributes") for e in history.events):
                return
            await asyncio.sleep(0.05)
        raise AssertionError("the workflow never reached its sleep")

    async def run_until(keys, action):
        use_keys(*keys)
        client = await temporal.connect()
        workers = build_workers(client, build_registry(), [QUEUE_ENGINE])
        running = [asyncio.create_task(w.run()) for w in workers]
        try:
            return await action(client)
        finally:
            for w in workers:
                await w.shutdown()
            for t in running:
                t.cancel()

    async def first_half(client):
        handle = await client.start_workflow(
            INTERPRETER_WORKFLOW,
            InterpreterInput(
                instance_id=str(uuid.uuid4()),
                definition=definition,
                definition_key="rotating",
                version="1",
                input={"who": "Jane Roe"},
                secrets={"apiKey": secret},
            ),
            id=workflow_id,
            task_queue=temporal.queue_name(QUEUE_ENGINE),
        )
        await until_sleeping(handle)

    async def second_half(client):
        return await client.get_workflow_handle(workflow_id).result()

    async def raw_history():
        plain = await Client.connect(settings.TEMPORAL_ADDRESS)
        handle = plain.get_workflow_handle(workflow_id)
        return (await handle.describe()).status, await handle.fetch_history()

    asyncio.run(run_until(["key A"], first_half))
    output = asyncio.run(run_until(["key B", "key A"], second_half))
    assert output == {"used": len(secret), "who": "Jane Roe"}

    status, history = asyncio.run(raw_history())
    assert status == WorkflowExecutionStatus.COMPLETED
    assert secret not in history.to_json() and "Jane Roe" not in history.to_json()
    started = history.events[0].workflow_execution_started_event_attributes.input.payloads[0]
    completed = next(
        e.workflow_execution_completed_event_attributes.result.payloads[0]
        for e in history.events
        if e.HasField("workflow_execution_completed_event_attributes")
    )

    def opens_with(keys, payload) -> bool:
        try:
            asyncio.run(FernetCodec(keys).decode([payload]))
            return True
        except InvalidToken:
            return False

    assert opens_with(["key A"], started) and not opens_with(["key B"], started)
    assert opens_with(["key B"], completed) and not opens_with(["key A"], completed)


# --- production refuses to run without payload encryption ----------------------------------


def _manage(*args, **env):
    base = {k: v for k, v in os.environ.items() if not k.startswith("TEMPORAL_PAYLOAD_KEY")}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env={**base, **env},
        timeout=120,
    )


PRODUCTION = {
    "XFLOW_ENV": "production",
    "SECRET_KEY": "p" * 64 + "-production-secret-key-for-tests",
    "ALLOWED_HOSTS": "xflow.example.com",
}


def test_production_check_fails_without_a_payload_key_and_passes_with_one():
    refused = _manage("check", "--deploy", **PRODUCTION)
    assert refused.returncode != 0
    assert "xflow.E011" in refused.stderr and "TEMPORAL_PAYLOAD_KEY" in refused.stderr

    passed = _manage(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        TEMPORAL_PAYLOAD_KEYS="new,old",
        **PRODUCTION,
    )
    assert passed.returncode == 0, passed.stdout + passed.stderr


def test_a_production_process_that_skipped_the_checks_cannot_reach_temporal_unencrypted(settings):
    settings.PRODUCTION = True
    with pytest.raises(ImproperlyConfigured, match="TEMPORAL_PAYLOAD_KEY"):
        data_converter([])
    assert data_converter(["k"]).payload_codec is not None


def test_the_instance_list_reads_the_secrets_store_once_per_page(
    api, django_assert_max_num_queries
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.workflows.models import WorkflowInstance
    from apps.workflows.services.definitions import do_save_definition

    store.do_set_secret(name="apiKey", value="list-secret-1")
    store.do_set_secret(name="other", value="list-secret-2")
    definitions = [
        do_save_definition(source=napper(key, **extra), publish=True)[0]
        for key, extra in [
            ("one", {"secrets": ["apiKey"]}),
            ("two", {"secrets": ["other"]}),
            ("three", {}),
        ]
    ]

    def add(definition, n):
        WorkflowInstance.objects.create(
            definition=definition,
            definition_key=definition.key,
            version=definition.version,
            workflow_id=f"xflow-list-{uuid.uuid4()}",
            status="failed",
            error={"message": f"saw list-secret-1 and list-secret-2 ({n})"},
        )

    add(definitions[0], 0)
    with CaptureQueriesContext(connection) as one:
        first = api.get("/api/v1/instances/")
    for n in range(1, 9):
        add(definitions[n % 3], n)
    with django_assert_max_num_queries(len(one.captured_queries)):
        page = api.get("/api/v1/instances/")
    errors = {r["definition"]: r["error"]["message"] for r in page.json()["results"]}
    assert first.status_code == page.status_code == 200
    assert errors["one"].startswith(f"saw {MASK} and list-secret-2")  # only its own secrets
    assert errors["two"].startswith(f"saw list-secret-1 and {MASK}")
    assert errors["three"].startswith("saw list-secret-1 and list-secret-2")
