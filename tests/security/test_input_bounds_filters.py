"""Malformed or out-of-range filters and cursors are a 400 naming the parameter."""

from __future__ import annotations

import base64

import pytest

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]


@pytest.mark.parametrize(
    ("parameter", "value"),
    [
        ("created_before", "0453-01-24T15:54:32.32-19:52"),  # the issue's: an offset past ±14h
        ("created_after", "0001-01-01T00:00:00+05:00"),  # before year 1 in UTC
        ("ended_after", "9999-12-31T23:59:59-05:00"),  # after year 9999 in UTC
        ("ended_before", "yesterday"),
        ("created_after", "2026-13-45T99:00:00Z"),
        ("created_before", "2026-01-31T09:30:00+24:00"),
        ("status", "exploded"),
        ("parent", "not-a-uuid"),
    ],
)
def test_a_bad_instance_filter_is_a_400_naming_it(root_api, platform, parameter, value):
    before = platform.snapshot()
    response = root_api.get("/api/v1/instances/", {parameter: value})
    assert response.status_code == 400, response.content
    assert parameter in response.json()["error"]["fields"]
    platform.assert_unharmed(before)


@pytest.mark.parametrize(
    "value",
    ["2026-01-31T09:30:00Z", "2026-01-31T09:30:00+14:00", "2026-01-31", "0453-01-24T15:54:32Z"],
)
def test_a_good_date_filter_is_applied(root_api, platform, value):
    response = root_api.get("/api/v1/instances/", {"created_after": value})
    assert response.status_code == 200, response.content
    assert response.json()["results"] == [] or value.startswith("0453")


@pytest.mark.parametrize(
    "cursor",
    [
        "garbage",
        base64.b64encode(b"p=not-a-date").decode(),  # a well-formed cursor DRF would trust
        base64.b64encode(b"o=5&p=2026-01-01").decode() + ":forged",
    ],
)
def test_a_cursor_the_api_did_not_give_out_is_a_400(root_api, platform, cursor):
    before = platform.snapshot()
    response = root_api.get("/api/v1/instances/", {"cursor": cursor})
    assert response.status_code == 400
    assert "cursor" in response.json()["error"]["fields"]
    platform.assert_unharmed(before)


def test_the_cursors_the_api_gives_out_page_through_the_list(root_api, platform):
    for _ in range(3):
        platform.run_trivial()
    first = root_api.get("/api/v1/instances/", {"page_size": 2}).json()
    second = root_api.get(first["next"]).json()
    assert len(first["results"]) == 2 and len(second["results"]) == 1
    assert {i["id"] for i in first["results"]}.isdisjoint(i["id"] for i in second["results"])


@pytest.mark.parametrize(("parameter", "value"), [("status", "bogus"), ("search", "s" * 201)])
def test_a_bad_definition_filter_is_a_400(root_api, platform, parameter, value):
    response = root_api.get("/api/v1/definitions/", {parameter: value})
    assert response.status_code == 400
    assert parameter in response.json()["error"]["fields"]


def test_an_unknown_export_format_is_a_400_and_json_is_json(root_api, platform):
    url = "/api/v1/definitions/trivial/versions/1/export"
    assert root_api.get(url, {"format": "xml"}).status_code == 400
    exported = root_api.get(url, {"format": "json"})
    assert exported["Content-Type"].startswith("application/json")
    assert exported.json()["id"] == "trivial"
    assert root_api.get(url, {"format": "yaml"})["Content-Type"].startswith("application/yaml")


def test_the_schema_answers_json_when_asked(root_api):
    schema = root_api.get("/api/schema/", {"format": "json"})
    assert schema.status_code == 200
    assert "json" in schema["Content-Type"]
    assert schema.json()["openapi"].startswith("3.")
    assert root_api.get("/api/schema/")["Content-Type"].startswith("application/vnd.oai.openapi")
