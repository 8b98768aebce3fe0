"""Deeply nested JSON and YAML are a 400 where they enter, and nothing deep is published."""

from __future__ import annotations

import json

import pytest

from tests.conftest import wait_for_instance  # noqa: F401
from tests.security.unharmed import wait_closed_in_temporal

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

LIMIT = 64  # XFLOW_API_MAX_DEPTH and the loader's MAX_DEPTH


def nested(levels: int) -> str:
    """JSON text of `levels` nested objects, built without recursion."""
    return '{"a": ' * levels + "1" + "}" * levels


def deep_document(levels: int) -> str:
    return (
        '{"id": "deep", "version": "1", "specVersion": "0.8", "start": "S", "states": '
        f'[{{"name": "S", "type": "inject", "end": true, "data": {nested(levels)}}}]}}'
    )


def _post_raw(client, path: str, text: str, content_type: str = "application/json"):
    return client.generic("POST", path, text.encode(), content_type=content_type)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(deep_document(900), id="the document itself"),
        pytest.param('{"definition": ' + deep_document(900) + "}", id="as definition"),
        pytest.param('{"id": "deep", "x": ' + "[" * 100_000 + "]" * 100_000 + "}", id="100k"),
    ],
)
@pytest.mark.parametrize("path", ["/api/v1/definitions/?publish=true", "/api/v1/definitions/"])
def test_a_json_upload_900_levels_deep_is_refused(root_api, platform, path, body):
    before = platform.snapshot()
    response = _post_raw(root_api, path, body)
    assert response.status_code == 400, response.content[:300]
    assert "nested more than 64 levels" in response.json()["error"]["message"]
    platform.assert_unharmed(before)


@pytest.mark.parametrize(
    ("text", "content_type"),
    [
        ('{"source": ' + '"' + deep_document(900).replace('"', '\\"') + '"}', "application/json"),
        ("id: deep\nversion: '1'\nstates:\n- data: " + "[" * 900 + "]" * 900, "application/yaml"),
    ],
    ids=["JSON text", "YAML text"],
)
def test_definition_text_900_levels_deep_is_refused(root_api, platform, text, content_type):
    before = platform.snapshot()
    for path in ("/api/v1/definitions/?publish=true", "/api/v1/definitions/validate"):
        response = _post_raw(root_api, path, text, content_type)
        assert response.status_code == 400, response.content[:300]
        assert response.json()["error"]["code"] == "definition_syntax"
    platform.assert_unharmed(before)


def test_an_instance_input_900_levels_deep_is_refused(root_api, platform):
    before = platform.snapshot()
    body = '{"definition": "trivial", "input": ' + nested(900) + "}"
    response = _post_raw(root_api, "/api/v1/instances/", body)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "parse_error"
    platform.assert_unharmed(before)


def test_an_event_900_levels_deep_is_refused(root_api, platform):
    before = platform.snapshot()
    body = '{"id": "e", "source": "/s", "type": "t", "data": ' + nested(900) + "}"
    response = _post_raw(root_api, "/api/v1/events/", body)
    assert response.status_code == 400
    platform.assert_unharmed(before)


def test_the_depth_limit_is_exact(root_api, platform):
    # The body is level 1; its `input` holds the rest.
    at_limit = '{"definition": "trivial", "input": ' + nested(LIMIT - 1) + "}"
    started = _post_raw(root_api, "/api/v1/instances/", at_limit)
    assert started.status_code == 201, started.content[:300]
    instance = wait_for_instance(started.json()["id"])
    assert instance.status == "completed"
    assert instance.input == json.loads(at_limit)["input"]
    wait_closed_in_temporal(instance.workflow_id)
    before = platform.snapshot()
    over = '{"definition": "trivial", "input": ' + nested(LIMIT) + "}"
    assert _post_raw(root_api, "/api/v1/instances/", over).status_code == 400
    platform.assert_unharmed(before)
