"""NUL characters and lone surrogates (text PostgreSQL cannot store) are a 400, never a 500."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

# JSON escapes, written as raw bodies: a JSON encoder would refuse the surrogate itself.
NUL, SURROGATE = r"\u0000", r"\ud800"


def _post_raw(client, path: str, text: str, content_type: str = "application/json"):
    return client.generic("POST", path, text.encode(), content_type=content_type)


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
@pytest.mark.parametrize(
    ("where", "body"),
    [
        ("input value", '{"definition": "trivial", "input": {"name": "a%sb"}}'),
        ("input key", '{"definition": "trivial", "input": {"a%sb": 1}}'),
        ("businessKey", '{"definition": "trivial", "businessKey": "k%s"}'),
        ("definition", '{"definition": "trivial%s"}'),
    ],
)
def test_an_instance_start_with_unstorable_text_is_refused(root_api, platform, bad, where, body):
    before = platform.snapshot()
    response = _post_raw(root_api, "/api/v1/instances/", body % bad)
    assert response.status_code == 400, (where, response.content)
    assert response.json()["error"]["code"] == "parse_error"
    platform.assert_unharmed(before)


@pytest.mark.parametrize("bad", [NUL, SURROGATE])
@pytest.mark.parametrize("attribute", ["id", "source", "type", "data"])
def test_an_event_with_unstorable_text_is_refused(root_api, platform, bad, attribute):
    event = {"id": "evt-1", "source": "/s", "type": "t.happened", "data": "d"}
    event[attribute] = f"x{bad}y"
    body = "{" + ", ".join(f'"{k}": "{v}"' for k, v in event.items()) + "}"
    before = platform.snapshot()
    response = _post_raw(root_api, "/api/v1/events/", body)
    assert response.status_code == 400, response.content
    assert "contains" in response.json()["error"]["message"]
    platform.assert_unharmed(before)


@pytest.mark.parametrize("path", ["/api/v1/definitions/", "/api/v1/definitions/validate"])
@pytest.mark.parametrize(
    "text",
    [
        'id: "nul\\0here"\nversion: "1"\nstates: []\n',  # YAML's \0 escape
        'id: x\nversion: "1"\ndescription: "\\ud800"\nstates: []\n',  # a lone surrogate escape
        '{"id": "x", "version": "1", "name": "a\\u0000b", "states": []}',  # JSON text
    ],
)
def test_definition_text_with_unstorable_escapes_is_refused(root_api, platform, path, text):
    before = platform.snapshot()
    response = _post_raw(root_api, path, text, content_type="application/yaml")
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "definition_syntax"
    platform.assert_unharmed(before)


def test_a_definition_source_string_with_a_surrogate_is_refused(root_api, platform):
    before = platform.snapshot()
    response = _post_raw(root_api, "/api/v1/definitions/", '{"source": "id: x' + SURROGATE + '"}')
    assert response.status_code == 400
    platform.assert_unharmed(before)


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", "/api/v1/instances/?definition=a%00b"),
        ("GET", "/api/v1/instances/?businessKey=%00"),
        ("GET", "/api/v1/definitions/?search=%00"),
        ("GET", "/api/v1/definitions/a%00b/"),
        ("GET", "/api/v1/definitions/trivial/versions/1%00/export"),
        ("DELETE", "/api/v1/secrets/a%00/"),
    ],
)
def test_a_nul_in_a_url_is_refused(root_api, platform, method, url):
    before = platform.snapshot()
    response = root_api.generic(method, url)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["code"] == "invalid"
    platform.assert_unharmed(before)


@pytest.mark.parametrize("key", ["key\x00", "key\x01with-a-control-character", "clé-non-ascii"])
def test_an_unusable_idempotency_key_is_refused(root_api, platform, key):
    before = platform.snapshot()
    response = root_api.post(
        "/api/v1/instances/", {"definition": "trivial"}, format="json", HTTP_IDEMPOTENCY_KEY=key
    )
    assert response.status_code == 400, response.content
    assert "Idempotency-Key" in response.json()["error"]["fields"]
    platform.assert_unharmed(before)


def test_a_nul_in_the_authorization_header_is_refused(platform):
    before = platform.snapshot()
    response = APIClient().get("/api/v1/me", HTTP_AUTHORIZATION="Token abc\x00def")
    assert response.status_code == 400, response.content
    assert "Authorization" in response.json()["error"]["fields"]
    platform.assert_unharmed(before)
