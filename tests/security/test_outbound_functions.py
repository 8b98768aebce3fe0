"""Attack: functions aimed at the platform's own services (Postgres, Redis, Temporal, cloud
metadata) through REST, GraphQL, OpenAPI documents or OAuth token endpoints.

Each call fails its action with the function error code `OutboundRefused` (catchable by
`onErrors` like any function error), and the platform still runs a trivial instance.
"""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_for_instance  # noqa: F401

from .test_outbound_definition_parts import TRIVIAL, publish

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]


def calling(function: dict, **top) -> dict:
    return {
        "id": "caller",
        "version": "1",
        "specVersion": "0.8",
        "start": "Call",
        "functions": [{"name": "target", **function}],
        "states": [
            {
                "name": "Call",
                "type": "operation",
                "actions": [
                    {
                        "functionRef": {
                            "refName": "target",
                            "arguments": {"q": 1},
                            **({"selectionSet": "{ id }"} if function["type"] == "graphql" else {}),
                        }
                    }
                ],
                "end": True,
                **top.pop("state", {}),
            },
            *top.pop("states", []),
        ],
        **top,
    }


def run(api, document: dict):
    publish(api, document)
    started = api.post("/api/v1/instances/", {"definition": document["id"]}, format="json")
    assert started.status_code == 201, started.json()
    return wait_for_instance(started.json()["id"])


def assert_trivial_instance_completes(api) -> None:
    publish(api, TRIVIAL)
    started = api.post("/api/v1/instances/", {"definition": "trivial"}, format="json")
    assert wait_for_instance(started.json()["id"]).status == "completed"


@pytest.mark.parametrize(
    ("function", "target"),
    [
        (
            {"type": "rest", "operation": {"url": "http://127.0.0.1:5432", "path": "/"}},
            "http://127.0.0.1:5432/",
        ),
        (
            {"type": "rest", "operation": {"url": "http://localhost:6379", "path": "/x"}},
            "http://localhost:6379/x",
        ),
        (
            {"type": "graphql", "operation": "http://[::1]:7233/graphql#query#pets"},
            "http://[::1]:7233/graphql",
        ),
        (
            {"type": "rest", "operation": "http://169.254.169.254/openapi.json#getPet"},
            "http://169.254.169.254/openapi.json",
        ),
        (
            {
                "type": "rest",
                "operation": {"url": "https://api.example.com", "path": "/pets"},
                "authRef": "internal-idp",
            },
            "http://127.0.0.1:6379/token",
        ),
    ],
    ids=["rest-postgres", "rest-redis-by-name", "graphql-temporal", "openapi-metadata", "oauth2"],
)
def test_a_function_aimed_at_an_internal_service_fails_with_outbound_refused(api, function, target):
    # Given a definition calling an internal address (directly, through its OpenAPI
    # document, or through the OAuth token endpoint of its auth)
    document = calling(
        function,
        auth=[
            {
                "name": "internal-idp",
                "scheme": "oauth2",
                "properties": {
                    "grantType": "clientCredentials",
                    "clientId": "app",
                    "clientSecret": "s",
                    "metadata": {"tokenUrl": "http://127.0.0.1:6379/token"},
                },
            }
        ],
    )

    # When it runs
    failed = run(api, document)

    # Then the instance failed on the refusal, which names the URL and the setting
    assert failed.status == "failed"
    assert failed.error["type"] == "OutboundRefused"
    assert f"{target} is refused" in failed.error["message"]
    assert "XFLOW_OUTBOUND_ALLOW" in failed.error["message"]
    assert_trivial_instance_completes(api)


def test_an_openapi_document_on_the_server_disk_is_not_read(api, settings):
    settings.XFLOW_RESOURCE_DIR = None

    failed = run(api, calling({"type": "rest", "operation": "file:///etc/passwd#getPet"}))

    assert failed.status == "failed"
    assert failed.error["type"] == "OutboundRefused"
    assert "XFLOW_RESOURCE_DIR" in failed.error["message"]
    assert "root:" not in json.dumps(failed.error)
    assert_trivial_instance_completes(api)


def test_onerrors_catches_an_outbound_refusal_like_any_function_error(api):
    # Given a definition that handles OutboundRefused by moving to a fallback state
    document = calling(
        {"type": "rest", "operation": {"url": "http://10.0.0.1", "path": "/internal"}},
        errors=[{"name": "refused", "code": "OutboundRefused"}],
        state={"onErrors": [{"errorRef": "refused", "transition": "Fallback"}]},
        states=[{"name": "Fallback", "type": "inject", "data": {"handled": True}, "end": True}],
    )

    # When it runs
    done = run(api, document)

    # Then the refusal was caught and the instance completed through the fallback
    assert done.status == "completed", done.error
    assert done.output == {"handled": True}
