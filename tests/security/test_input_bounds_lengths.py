"""Strings longer than the platform stores are a 400 before the database, never a 500."""

from __future__ import annotations

import pytest

from apps.workflows.dsl.validation.limits import MAX_KEY_LENGTH, MAX_VERSION_LENGTH
from apps.workflows.models import Secret, WorkflowDefinition, WorkflowInstance
from tests.conftest import wait_for_instance  # noqa: F401
from tests.security.unharmed import wait_closed_in_temporal

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]


def _document(**identity) -> dict:
    return {
        "specVersion": "0.8",
        "start": "Done",
        "states": [{"name": "Done", "type": "inject", "data": {}, "end": True}],
        "id": "fine",
        "version": "1",
        **identity,
    }


def test_the_limits_are_the_columns():
    assert WorkflowDefinition._meta.get_field("key").max_length == MAX_KEY_LENGTH
    assert WorkflowDefinition._meta.get_field("version").max_length == MAX_VERSION_LENGTH
    assert WorkflowInstance._meta.get_field("definition_key").max_length == MAX_KEY_LENGTH


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("id", "k" * (MAX_KEY_LENGTH + 1)),
        ("version", "9" * (MAX_VERSION_LENGTH + 1)),
        ("key", "k" * (MAX_KEY_LENGTH + 1)),
    ],
)
def test_an_identity_too_long_is_not_valid_and_not_saved(root_api, platform, field, value):
    document = _document(**{field: value})
    if field == "key":
        del document["id"]
    before = platform.snapshot()

    report = root_api.post("/api/v1/definitions/validate", {"definition": document}, format="json")
    assert report.status_code == 200
    assert report.json()["valid"] is False
    assert {(i["path"], i["code"]) for i in report.json()["issues"]} >= {(field, "limit")}

    for publish in ("false", "true"):
        saved = root_api.post(f"/api/v1/definitions/?publish={publish}", document, format="json")
        assert saved.status_code == 400, saved.content
        assert field in saved.json()["error"]["fields"]
    platform.assert_unharmed(before)


def test_an_identity_at_the_limit_is_stored(root_api, platform):
    document = _document(id="k" * MAX_KEY_LENGTH, version="9" * MAX_VERSION_LENGTH)
    saved = root_api.post("/api/v1/definitions/?publish=true", document, format="json")
    assert saved.status_code == 201, saved.content
    started = root_api.post(
        "/api/v1/instances/", {"definition": "k" * MAX_KEY_LENGTH}, format="json"
    )
    assert started.status_code == 201
    instance = wait_for_instance(started.json()["id"])
    assert instance.status == "completed"
    wait_closed_in_temporal(instance.workflow_id)


@pytest.mark.parametrize(
    "body",
    [
        {"definition": "k" * 201},
        {"definition": "trivial", "version": "9" * 101},
        {"definition": "trivial", "businessKey": "b" * 201},
    ],
)
def test_a_start_with_a_field_too_long_is_refused(root_api, platform, body):
    before = platform.snapshot()
    response = root_api.post("/api/v1/instances/", body, format="json")
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) & set(body)
    platform.assert_unharmed(before)


def test_an_idempotency_key_too_long_is_refused(root_api, platform):
    before = platform.snapshot()
    response = root_api.post(
        "/api/v1/instances/",
        {"definition": "trivial"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k" * 201,
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    platform.assert_unharmed(before)


@pytest.mark.parametrize(("attribute", "limit"), [("id", 200), ("source", 500), ("type", 300)])
def test_an_event_attribute_too_long_is_refused(root_api, platform, attribute, limit):
    event = {"specversion": "1.0", "id": "e-1", "source": "/s", "type": "t.x"}
    event[attribute] = "a" * (limit + 1)
    before = platform.snapshot()
    response = root_api.post("/api/v1/events/", event, format="json")
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "event_invalid"
    assert attribute in response.json()["error"]["fields"]
    platform.assert_unharmed(before)


@pytest.mark.parametrize(
    "body",
    [
        {"name": "s" * 201, "value": 1},
        {"name": "ok", "value": 1, "description": "d" * 501},
        {"name": "not a name", "value": 1},
    ],
)
def test_a_secret_with_a_field_too_long_or_malformed_is_refused(root_api, platform, body):
    before = platform.snapshot()
    response = root_api.post("/api/v1/secrets/", body, format="json")
    assert response.status_code == 400
    assert not Secret.objects.exists()
    platform.assert_unharmed(before)
