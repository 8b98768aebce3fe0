"""The row and its workflow never disagree: each race of issue "Instances you can trust",
made deterministic (a held commit, a lost report, Temporal down) and shown repaired."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from apps.core import temporal
from apps.workflows.engine.contracts import INTERPRETER_WORKFLOW, InterpreterInput
from apps.workflows.models import InstanceEvent, InstanceStatus, WorkflowInstance
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.instances import do_start_instance, workflow_id_for
from apps.workflows.services.reconcile import reconcile_instances

from .conftest import wait_for_instance
from .test_instances_api import GREETING, publish, start

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

NAPPER = {
    "id": "napper",
    "version": "1",
    "specVersion": "0.8",
    "start": "First",
    "states": [
        {"name": "First", "type": "inject", "data": {"step": 1}, "transition": "Nap"},
        {"name": "Nap", "type": "sleep", "duration": "PT4S", "transition": "Last"},
        {"name": "Last", "type": "inject", "data": {"step": 3}, "end": True},
    ],
}


def _describe(workflow_id: str):
    from temporalio.service import RPCError, RPCStatusCode

    async def describe(client):
        return await client.get_workflow_handle(workflow_id).describe()

    try:
        return temporal.call(describe)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


def _wait(predicate, what: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def _published(document):
    definition, _ = do_save_definition(source=document, user=None, publish=True)
    return definition


def test_the_workflow_starts_only_after_the_row_is_committed():
    definition = _published(GREETING)
    with transaction.atomic():
        instance = do_start_instance(definition=definition, input={"name": "Held"})
        # While the transaction that wrote the row is open, nothing runs in Temporal: the
        # worker could not find the row it reports to.
        time.sleep(1.0)
        assert _describe(instance.workflow_id) is None
        assert WorkflowInstance.objects.get(pk=instance.pk).status == InstanceStatus.STARTING
    done = wait_for_instance(instance.pk)
    assert done.status == "completed"
    assert done.output == {"name": "Held", "greeting": "Hello Held"}


def test_a_report_for_a_row_not_visible_yet_is_retried_not_dropped():
    definition = _published(GREETING)
    instance_id = uuid.uuid4()
    params = InterpreterInput(
        instance_id=str(instance_id),
        definition=definition.document,
        definition_key=definition.key,
        version=definition.version,
        input={"name": "Late"},
        end_via_writer=True,  # as the platform starts it: the end goes through the writer
    )

    async def start_first(client):
        await client.start_workflow(
            INTERPRETER_WORKFLOW,
            params,
            id=workflow_id_for(instance_id),
            task_queue=temporal.queue_name("xflow-engine"),
        )

    # The workflow runs (and reports) before its row exists: the old mirror returned
    # silently and the row stayed `running` forever.
    temporal.call(start_first)
    time.sleep(1.5)
    WorkflowInstance.objects.create(
        id=instance_id,
        definition=definition,
        definition_key=definition.key,
        version=definition.version,
        input={"name": "Late"},
        workflow_id=workflow_id_for(instance_id),
        status=InstanceStatus.RUNNING,
    )
    done = wait_for_instance(instance_id)
    assert done.status == "completed"
    assert done.output == {"name": "Late", "greeting": "Hello Late"}


def test_concurrent_starts_with_one_key_make_one_row_and_one_workflow(api):
    publish(api, GREETING)
    body = {"definition": "greeting", "input": {"name": "Twin"}}
    answers: list = []

    def post():
        answers.append(
            api.post("/api/v1/instances/", body, format="json", HTTP_IDEMPOTENCY_KEY="twins-1")
        )

    threads = [threading.Thread(target=post) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {a.status_code for a in answers} == {201}
    assert len({a.json()["id"] for a in answers}) == 1
    assert WorkflowInstance.objects.count() == 1
    done = wait_for_instance(answers[0].json()["id"])
    assert done.status == "completed"


def test_a_start_while_temporal_is_down_is_kept_and_started_by_the_reconciler(api, settings):
    publish(api, GREETING)
    real_address = settings.TEMPORAL_ADDRESS
    settings.TEMPORAL_ADDRESS = "127.0.0.1:1"
    temporal.reset()
    try:
        response = start(api, "greeting", {"name": "Patient"})
    finally:
        settings.TEMPORAL_ADDRESS = real_address
        temporal.reset()
    assert response.status_code == 201, response.json()
    assert response.json()["status"] == "starting"
    instance_id = response.json()["id"]
    report = reconcile_instances(starting_grace=timedelta(0))
    assert report.starts_reissued == 1
    done = wait_for_instance(instance_id)
    assert done.status == "completed"
    assert done.output["greeting"] == "Hello Patient"


def test_the_reconciler_repairs_a_lost_end_report_and_says_so():
    definition = _published(GREETING)
    instance = wait_for_instance(
        do_start_instance(definition=definition, input={"name": "Lost"}).pk
    )
    assert instance.status == "completed"
    # As if the worker died before the end report reached Postgres:
    stale = timezone.now() - timedelta(minutes=5)
    WorkflowInstance.objects.filter(pk=instance.pk).update(
        status=InstanceStatus.RUNNING, output=None, ended_at=None, updated_at=stale
    )
    report = reconcile_instances()
    assert str(instance.pk) in report.repaired
    repaired = WorkflowInstance.objects.get(pk=instance.pk)
    assert repaired.status == "completed"
    assert repaired.output == {"name": "Lost", "greeting": "Hello Lost"}
    note = InstanceEvent.objects.get(instance=instance, event_type="reconciled")
    assert note.details["from"] == "running" and note.details["to"] == "completed"
    # A second pass finds nothing to do.
    assert reconcile_instances().repaired == []


def test_operators_see_the_current_state_while_the_instance_runs(api):
    publish(api, NAPPER)
    instance_id = start(api, "napper").json()["id"]

    def sleeping():
        detail = api.get(f"/api/v1/instances/{instance_id}/").json()
        return detail if detail["current_states"] == ["Nap"] else None

    detail = _wait(sleeping, "the live current state", timeout=3.5)
    assert detail["status"] == "running"
    assert detail["visited_states"] == ["First", "Nap"]
    kinds = [e["kind"] for e in api.get(f"/api/v1/instances/{instance_id}/timeline").json()]
    assert "state" in kinds  # states entered are on the timeline while it runs
    done = wait_for_instance(instance_id)
    assert done.output == {"step": 3}
    assert done.current_states == []


NUL_MAKER = {
    "id": "nul-maker",
    "version": "1",
    "specVersion": "0.8",
    "start": "Make",
    "functions": [
        {"name": "nul", "type": "expression", "operation": '{text: ("a" + ([0] | implode) + "b")}'}
    ],
    "states": [
        {
            "name": "Make",
            "type": "operation",
            "actions": [{"functionRef": "nul"}],
            "end": True,
        }
    ],
}


def test_data_with_a_nul_character_is_stored_without_loss(api):
    publish(api, NUL_MAKER)
    instance = wait_for_instance(start(api, "nul-maker").json()["id"])
    assert instance.status == "completed"
    assert instance.output == {"text": "a\u0000b"}
    assert api.get(f"/api/v1/instances/{instance.id}/").json()["output"] == {"text": "a\u0000b"}


class _SlowService:
    """A local REST service whose answers wait until the test releases them."""

    def __init__(self) -> None:
        import json
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.release = threading.Event()
        self.calls: list[dict] = []
        service = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                service.calls.append(
                    {"path": self.path, "key": self.headers.get("Idempotency-Key")}
                )
                service.release.wait(30)
                status = 500 if self.path.endswith("/fail") else 200
                body = json.dumps({"ok": status == 200}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


@pytest.fixture
def slow_service(allow_outbound):
    service = _SlowService()
    allow_outbound(service.url.removeprefix("http://"))
    yield service
    service.close()


def _caller(url: str, *, invoke: str, path: str = "/work") -> dict:
    return {
        "id": f"caller-{invoke}",
        "version": "1",
        "specVersion": "0.8",
        "start": "Call",
        "functions": [
            {
                "name": "work",
                "type": "rest",
                "operation": {"url": url, "path": path, "method": "post"},
            }
        ],
        "states": [
            {
                "name": "Call",
                "type": "operation",
                "actions": [
                    {"name": "doWork", "functionRef": {"refName": "work", "invoke": invoke}}
                ],
                "end": True,
            }
        ],
    }


def test_an_action_in_flight_shows_as_pending_while_it_runs(api, slow_service):
    publish(api, _caller(slow_service.url, invoke="sync"))
    instance_id = start(api, "caller-sync").json()["id"]

    def pending():
        detail = api.get(f"/api/v1/instances/{instance_id}/").json()
        return detail["pending_actions"] or None

    [action] = _wait(pending, "the pending action")
    assert action["state"] == "Call" and action["action"] == "doWork"
    assert action["function"] == "work"
    slow_service.release.set()
    done = wait_for_instance(instance_id)
    assert done.status == "completed" and done.pending_actions == []
    assert len(slow_service.calls) == 1
    assert slow_service.calls[0]["key"].startswith(f"xflow-{instance_id}-")


def test_an_async_call_does_not_hold_the_instance_and_is_made_once(api, slow_service):
    publish(api, _caller(slow_service.url, invoke="async", path="/fail"))
    instance_id = start(api, "caller-async").json()["id"]
    # The instance ends while the call is still waiting for its answer (fire and forget).
    done = wait_for_instance(instance_id)
    assert done.status == "completed"
    _wait(lambda: slow_service.calls, "the async call to arrive")
    assert not slow_service.release.is_set()
    slow_service.release.set()
    note = _wait(
        lambda: InstanceEvent.objects.filter(
            instance_id=instance_id, event_type="async_call_failed"
        ).first(),
        "the async call's failure on the timeline",
    )
    assert note.details["function"] == "work" and note.details["error"] == "500"
    assert len(slow_service.calls) == 1
    texts = [e["text"] for e in api.get(f"/api/v1/instances/{instance_id}/timeline").json()]
    assert all(texts)


def test_temporal_finds_an_instance_by_definition_business_key_and_status(api):
    from apps.core import search_attributes as sa

    publish(api, NAPPER)
    instance_id = start(api, "napper", businessKey=f"bk-{uuid.uuid4().hex[:6]}").json()["id"]
    row = wait_for_instance(instance_id)
    assert row.status == "completed"

    async def attributes(client):
        described = await client.get_workflow_handle(row.workflow_id).describe()
        memo = await described.memo()
        return described.typed_search_attributes, memo

    typed, memo = temporal.call(attributes)
    assert typed.get(sa.DEFINITION) == "napper"
    assert typed.get(sa.VERSION) == "1"
    assert typed.get(sa.BUSINESS_KEY) == row.business_key
    assert typed.get(sa.STATUS) == "completed"
    assert memo["businessKey"] == row.business_key

    async def listed(client):
        query = f'XflowBusinessKey="{row.business_key}" AND XflowDefinition="napper"'
        return [w.id async for w in client.list_workflows(query)]

    assert _wait(lambda: temporal.call(listed), "visibility to list it") == [row.workflow_id]
