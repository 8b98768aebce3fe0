"""Instances end to end: the API starts them, the real worker runs them on Temporal."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from apps.core import temporal
from apps.workflows.models import InstanceEvent, WorkflowInstance

from .conftest import wait_for_instance

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

GREETING = {
    "id": "greeting",
    "version": "1.0",
    "specVersion": "0.8",
    "start": "Greet",
    "functions": [{"name": "greetFn", "type": "expression", "operation": '"Hello " + .name'}],
    "states": [
        {
            "name": "Greet",
            "type": "operation",
            "actions": [
                {"functionRef": "greetFn", "actionDataFilter": {"toStateData": ".greeting"}}
            ],
            "end": True,
        }
    ],
}

SLEEPER = {
    "id": "sleeper",
    "version": "1",
    "specVersion": "0.8",
    "start": "Nap",
    "states": [{"name": "Nap", "type": "sleep", "duration": "PT1H", "end": True}],
}


def publish(api, document):
    response = api.post("/api/v1/definitions/?publish=true", document, format="json")
    assert response.status_code in (200, 201), response.json()
    return response.json()


def start(api, definition, input=None, **fields):
    body = {"definition": definition, "input": input or {}, **fields}
    return api.post("/api/v1/instances/", body, format="json")


def test_an_instance_runs_to_completion_and_shows_its_output(api):
    publish(api, GREETING)
    response = start(api, "greeting", {"name": "Ada"})
    assert response.status_code == 201, response.json()
    instance = wait_for_instance(response.json()["id"])
    assert instance.status == "completed"
    detail = api.get(f"/api/v1/instances/{instance.id}/").json()
    assert detail["output"] == {"name": "Ada", "greeting": "Hello Ada"}
    assert detail["version"] == "1.0"
    assert detail["ended_at"] is not None
    timeline = api.get(f"/api/v1/instances/{instance.id}/timeline").json()
    assert timeline[0]["kind"] == "started"
    assert any(e["state"] == "Greet" for e in timeline)
    assert "Action greetFn returned Hello Ada" in [e["text"] for e in timeline]
    assert all(e["text"] for e in timeline)
    assert [e["seq"] for e in timeline if e["seq"]] == sorted(
        e["seq"] for e in timeline if e["seq"]
    )


def test_the_same_idempotency_key_starts_one_instance(api):
    publish(api, GREETING)
    headers = {"HTTP_IDEMPOTENCY_KEY": "order-42"}
    body = {"definition": "greeting", "input": {"name": "Bo"}}
    first = api.post("/api/v1/instances/", body, format="json", **headers)
    second = api.post("/api/v1/instances/", body, format="json", **headers)
    assert first.status_code == second.status_code == 201
    assert first.json()["id"] == second.json()["id"]
    assert second["Idempotent-Replayed"] == "true"
    assert WorkflowInstance.objects.count() == 1
    other = api.post(
        "/api/v1/instances/", {**body, "input": {"name": "X"}}, format="json", **headers
    )
    assert other.status_code == 409
    assert other.json()["error"]["code"] == "idempotency_key_reused"


def test_starting_refuses_unknown_unpublished_and_invalid_input(api, tmp_path, settings):
    assert start(api, "nope").status_code == 404
    api.post("/api/v1/definitions/", {**GREETING, "id": "drafty"}, format="json")
    draft = start(api, "drafty")
    assert draft.status_code == 409
    assert "no published version" in draft.json()["error"]["message"]
    settings.XFLOW_RESOURCE_DIR = str(tmp_path)  # the only directory definitions may name
    schema_file = tmp_path / "person.json"
    schema_file.write_text(
        json.dumps(
            {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
        )
    )
    schema = {"schema": schema_file.as_uri(), "failOnValidationErrors": True}
    publish(api, {**GREETING, "id": "typed", "dataInputSchema": schema})
    bad = start(api, "typed", {"name": 5})
    assert bad.status_code == 400
    error = bad.json()["error"]
    assert error["code"] == "input_invalid"
    assert "input.name" in error["fields"]["input"][0]
    assert WorkflowInstance.objects.count() == 0


def test_a_missing_env_or_secret_refuses_the_start(api, monkeypatch):
    publish(api, {**GREETING, "id": "needs-env", "envs": ["XFLOW_TEST_REGION"]})
    monkeypatch.delenv("XFLOW_TEST_REGION", raising=False)
    response = start(api, "needs-env")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "env_missing"
    assert "XFLOW_TEST_REGION" in response.json()["error"]["message"]
    publish(api, {**GREETING, "id": "needs-secret", "secrets": ["apiKey"]})
    response = start(api, "needs-secret")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "secret_missing"


def test_secrets_envs_and_constants_reach_expressions(api, monkeypatch):
    monkeypatch.setenv("XFLOW_TEST_REGION", "eu-west")
    created = api.post("/api/v1/secrets/", {"name": "apiKey", "value": "s3cr3t"}, format="json")
    assert created.status_code == 201
    assert "value" not in created.json()
    assert "s3cr3t" not in json.dumps(api.get("/api/v1/secrets/").json())
    publish(
        api,
        {
            "id": "reader",
            "version": "1",
            "specVersion": "0.8",
            "start": "Read",
            "envs": ["XFLOW_TEST_REGION"],
            "secrets": ["apiKey"],
            "constants": {"greeting": "hi"},
            "states": [
                {
                    "name": "Read",
                    "type": "inject",
                    "data": {},
                    "end": True,
                    "stateDataFilter": {
                        "output": "${ {key: $SECRETS.apiKey, shout: ($SECRETS.apiKey | "
                        "ascii_upcase), region: $ENVS.XFLOW_TEST_REGION, "
                        "word: $CONST.greeting} }"
                    },
                }
            ],
        },
    )
    instance = wait_for_instance(start(api, "reader").json()["id"])
    # The secret reached the expression (its upper-case form shows it); the value itself is
    # masked wherever the platform stores or shows instance data.
    assert instance.output == {
        "key": "********",
        "shout": "S3CR3T",
        "region": "eu-west",
        "word": "hi",
    }


def test_cancel_and_terminate_stop_a_running_instance(api):
    publish(api, SLEEPER)
    napping = start(api, "sleeper").json()["id"]
    wait_for_instance(napping, statuses=("running", "waiting"))
    cancelled = api.post(
        f"/api/v1/instances/{napping}/cancel", {"reason": "not needed"}, format="json"
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = api.post(f"/api/v1/instances/{napping}/cancel")
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "instance_not_open"

    other = start(api, "sleeper").json()["id"]
    terminated = api.post(f"/api/v1/instances/{other}/terminate")
    assert terminated.json()["status"] == "terminated"

    async def describe(client):
        return await client.get_workflow_handle(f"xflow-{other}").describe()

    assert temporal.call(describe).status.name == "TERMINATED"
    kinds = set(
        InstanceEvent.objects.filter(instance_id=napping).values_list("event_type", flat=True)
    )
    assert "cancelled" in kinds


class _FlakyService(BaseHTTPRequestHandler):
    """Fails with 503 until told to work; answers {"ok": true} afterwards."""

    healthy = False
    calls = 0

    def do_POST(self):  # noqa: N802
        type(self).calls += 1
        length = int(self.headers.get("Content-Length") or 0)
        payload = json.loads(self.rfile.read(length) or b"{}")
        status, body = (
            (200, {"ok": True, "got": payload}) if self.healthy else (503, {"error": "down"})
        )
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def flaky_service(allow_outbound):
    _FlakyService.healthy = False
    _FlakyService.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FlakyService)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    allow_outbound(f"127.0.0.1:{server.server_port}")
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_failed_instance_is_retried_from_the_failed_state(api, flaky_service):
    publish(
        api,
        {
            "id": "caller",
            "version": "1",
            "specVersion": "0.8",
            "start": "Prepare",
            "functions": [
                {
                    "name": "notify",
                    "type": "rest",
                    "operation": {"url": flaky_service, "path": "/notify", "method": "post"},
                }
            ],
            "states": [
                {
                    "name": "Prepare",
                    "type": "inject",
                    "data": {"prepared": True},
                    "transition": "Notify",
                },
                {
                    "name": "Notify",
                    "type": "operation",
                    "actions": [
                        {
                            "functionRef": {"refName": "notify", "arguments": {"n": "${ .n }"}},
                            "actionDataFilter": {"toStateData": ".reply"},
                        }
                    ],
                    "end": True,
                },
            ],
        },
    )
    instance_id = start(api, "caller", {"n": 7}).json()["id"]
    failed = wait_for_instance(instance_id)
    assert failed.status == "failed"
    assert failed.error["state"] == "Notify"
    assert "503" in json.dumps(failed.error)
    texts = [e["text"] for e in api.get(f"/api/v1/instances/{instance_id}/timeline").json()]
    assert any(t.startswith("Action notify failed with 503") for t in texts), texts

    _FlakyService.healthy = True
    retried = api.post(f"/api/v1/instances/{instance_id}/retry")
    assert retried.status_code == 200, retried.json()
    done = wait_for_instance(instance_id)
    assert done.status == "completed"
    # The retry ran from Notify with the data Notify had: Prepare's injection is kept.
    assert done.output == {"n": 7, "prepared": True, "reply": {"ok": True, "got": {"n": 7}}}


def test_restart_starts_a_new_instance_with_the_same_input(api):
    publish(api, GREETING)
    first = wait_for_instance(start(api, "greeting", {"name": "Cy"}).json()["id"])
    response = api.post(f"/api/v1/instances/{first.id}/restart")
    assert response.status_code == 201
    second = wait_for_instance(response.json()["id"])
    assert second.id != first.id
    assert second.restarted_from_id == first.id
    assert second.output == first.output


def test_an_instance_keeps_its_version_after_a_new_one_is_published(api):
    publish(
        api,
        {
            **SLEEPER,
            "states": [
                {"name": "Nap", "type": "sleep", "duration": "PT2S", "transition": "Done"},
                {"name": "Done", "type": "inject", "data": {"v": 1}, "end": True},
            ],
        },
    )
    old = start(api, "sleeper").json()["id"]
    publish(
        api,
        {
            **SLEEPER,
            "version": "2",
            "states": [
                {"name": "Nap", "type": "sleep", "duration": "PT0S", "transition": "Done"},
                {"name": "Done", "type": "inject", "data": {"v": 2}, "end": True},
            ],
        },
    )
    new = start(api, "sleeper").json()["id"]
    assert wait_for_instance(new).output == {"v": 2}
    finished_old = wait_for_instance(old)
    assert (finished_old.version, finished_old.output) == ("1", {"v": 1})


def test_list_filters_and_paginates(api):
    publish(api, GREETING)
    ids = [
        start(api, "greeting", {"name": str(i)}, businessKey=f"bk-{i}").json()["id"]
        for i in range(3)
    ]
    for i in ids:
        wait_for_instance(i)
    page = api.get("/api/v1/instances/?definition=greeting&status=completed&page_size=2").json()
    assert len(page["results"]) == 2
    assert page["next"]
    rest = api.get(page["next"]).json()
    assert len(rest["results"]) == 1
    seen = {r["id"] for r in page["results"] + rest["results"]}
    assert seen == set(ids)
    by_key = api.get("/api/v1/instances/?businessKey=bk-1").json()["results"]
    assert [r["id"] for r in by_key] == [ids[1]]


def test_instance_diagram_highlights_the_visited_state(api):
    publish(api, GREETING)
    instance = wait_for_instance(start(api, "greeting", {"name": "D"}).json()["id"])
    svg = api.get(f"/api/v1/instances/{instance.id}/diagram.svg")
    assert svg.status_code == 200
    assert b"Greet" in svg.content
