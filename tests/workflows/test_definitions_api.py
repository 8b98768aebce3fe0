"""Definitions through the REST API: upload, report, publish, versions, export, diagram."""

import json

import pytest
import yaml

GREETING = {
    "id": "greeting",
    "version": "1.0",
    "specVersion": "0.8",
    "name": "Greeting",
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


def _with(**changes):
    doc = json.loads(json.dumps(GREETING))
    doc.update(changes)
    return doc


def test_upload_json_saves_a_draft_without_problems(api):
    response = api.post("/api/v1/definitions/", GREETING, format="json")
    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["key"], body["version"], body["status"]) == ("greeting", "1.0", "draft")
    assert body["error_count"] == 0
    assert body["document"]["states"][0]["name"] == "Greet"


def test_upload_yaml_text_and_publish_at_once(api):
    text = yaml.safe_dump(GREETING, sort_keys=False)
    response = api.post(
        "/api/v1/definitions/?publish=true", data=text, content_type="application/yaml"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["status"] == "published"
    assert body["is_latest"] is True
    assert body["source_format"] == "yaml"
    assert body["source"] == text


def test_every_problem_is_reported_with_its_location(api):
    doc = _with(
        states=[
            {
                "name": "Greet",
                "type": "operation",
                "actions": [{"functionRef": "nope"}],
                "transition": "Aproved",
            },
            {"name": "Approved", "type": "sleep", "duration": "soon", "end": True},
        ]
    )
    response = api.post("/api/v1/definitions/validate", doc, format="json")
    assert response.status_code == 200
    report = response.json()
    assert report["valid"] is False
    by_path = {i["path"]: i for i in report["issues"]}
    assert "did you mean 'Approved'" in by_path["states[0].transition"]["message"]
    assert "states[0].actions[0].functionRef" in " ".join(by_path)
    assert "states[1].duration" in by_path
    assert report["error_count"] >= 3


def test_a_definition_with_errors_is_kept_as_draft_but_cannot_be_published(api):
    doc = _with(
        version="2.0",
        states=[{"name": "Greet", "type": "inject", "data": {}, "transition": "Missing"}],
    )
    saved = api.post("/api/v1/definitions/", doc, format="json")
    assert saved.status_code == 201
    assert saved.json()["status"] == "draft"
    assert saved.json()["error_count"] >= 1
    refused = api.post("/api/v1/definitions/greeting/versions/2.0/publish")
    assert refused.status_code == 400
    error = refused.json()["error"]
    assert error["code"] == "definition_invalid"
    assert "states[0].transition" in error["fields"]


def test_published_versions_are_immutable(api):
    api.post("/api/v1/definitions/?publish=true", GREETING, format="json")
    same = api.post("/api/v1/definitions/", GREETING, format="json")
    assert same.status_code == 200  # the identical document: nothing changes
    changed = _with(name="Greeting, changed")
    refused = api.post("/api/v1/definitions/", changed, format="json")
    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "version_immutable"
    assert "new 'version'" in refused.json()["error"]["message"]


def test_versions_are_listed_and_the_newest_published_is_latest(api):
    api.post("/api/v1/definitions/?publish=true", GREETING, format="json")
    api.post("/api/v1/definitions/?publish=true", _with(version="1.1"), format="json")
    api.post("/api/v1/definitions/", _with(version="2.0-draft"), format="json")
    body = api.get("/api/v1/definitions/greeting/").json()
    assert body["latest_version"] == "1.1"
    assert {v["version"]: v["status"] for v in body["versions"]} == {
        "1.0": "published",
        "1.1": "published",
        "2.0-draft": "draft",
    }
    # An operator rolls back: 1.0 becomes the latest again
    api.post("/api/v1/definitions/greeting/versions/1.0/mark-latest")
    assert api.get("/api/v1/definitions/greeting/").json()["latest_version"] == "1.0"


def test_a_document_without_version_gets_the_next_number(api):
    doc = _with()
    del doc["version"]
    first = api.post("/api/v1/definitions/?publish=true", doc, format="json").json()
    doc["name"] = "second"
    second = api.post("/api/v1/definitions/?publish=true", doc, format="json").json()
    assert (first["version"], second["version"]) == ("1", "2")


def test_archiving_the_latest_falls_back_to_the_previous_published(api):
    api.post("/api/v1/definitions/?publish=true", GREETING, format="json")
    api.post("/api/v1/definitions/?publish=true", _with(version="1.1"), format="json")
    archived = api.post("/api/v1/definitions/greeting/versions/1.1/archive").json()
    assert archived["status"] == "archived"
    assert api.get("/api/v1/definitions/greeting/").json()["latest_version"] == "1.0"


def test_export_as_json_and_yaml(api):
    api.post("/api/v1/definitions/", GREETING, format="json")
    as_json = api.get("/api/v1/definitions/greeting/versions/1.0/export?format=json")
    assert as_json["Content-Type"].startswith("application/json")
    assert json.loads(as_json.content) == GREETING
    as_yaml = api.get("/api/v1/definitions/greeting/versions/1.0/export?format=yaml")
    assert as_yaml["Content-Type"].startswith("application/yaml")
    assert yaml.safe_load(as_yaml.content) == GREETING
    assert 'filename="greeting-1.0.yaml"' in as_yaml["Content-Disposition"]


def test_diagram_is_an_svg_naming_the_states(api):
    api.post("/api/v1/definitions/", GREETING, format="json")
    response = api.get("/api/v1/definitions/greeting/versions/1.0/diagram.svg")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in response.content and b"Greet" in response.content


def test_unknown_version_is_a_404_in_the_error_format(api):
    response = api.get("/api/v1/definitions/nope/versions/9/")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "definition_not_found"


def test_a_plain_user_sees_no_definitions_and_cannot_upload(api, make_user, client):
    api.post("/api/v1/definitions/?publish=true", GREETING, format="json")
    client.force_login(make_user("reader"))
    listing = client.get("/api/v1/definitions/")
    assert listing.status_code == 200
    assert listing.json()["results"] == []  # may start none of them (no starter group)
    assert client.get("/api/v1/definitions/greeting/versions/1.0/").status_code == 404
    response = client.post("/api/v1/definitions/", GREETING, content_type="application/json")
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.parametrize(
    ("body", "content_type", "code", "words"),
    [
        ('{"id": "x", "states": [', "application/json", "parse_error", "JSON"),
        (
            "id: x\nstates: [\n  - name: a\n    type: [",
            "application/yaml",
            "definition_syntax",
            "line",
        ),
        (
            "a: &a [1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
            "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
            "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]\n"
            "g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]\nh: [*g,*g,*g,*g,*g,*g,*g,*g,*g]\n",
            "application/yaml",
            "definition_syntax",
            "",
        ),
        ("- just\n- a list\n", "application/yaml", "definition_syntax", ""),
    ],
    ids=["broken-json", "broken-yaml", "yaml-bomb", "not-a-mapping"],
)
def test_unreadable_definitions_get_a_clear_400(api, body, content_type, code, words):
    response = api.post("/api/v1/definitions/", data=body, content_type=content_type)
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == code
    assert words in error["message"]


def test_a_ten_megabyte_document_is_refused_before_it_is_read(api):
    big = json.dumps(_with(description="x" * (10 * 1024 * 1024)))
    response = api.post("/api/v1/definitions/", data=big, content_type="application/json")
    # the request-size limit (DATA_UPLOAD_MAX_MEMORY_SIZE) refused it, not the parser
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_deeply_nested_input_is_refused_not_crashed(api):
    deep = "data: " + "[" * 500 + "]" * 500 + "\n"
    response = api.post(
        "/api/v1/definitions/", data="id: deep\n" + deep, content_type="application/yaml"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "definition_syntax"


def test_wrong_types_everywhere_are_reported_not_crashed(api):
    doc = {
        "id": 5,
        "specVersion": 0.8,
        "states": "nope",
        "functions": {"a": 1},
        "start": ["x"],
        "events": 3,
    }
    response = api.post("/api/v1/definitions/validate", doc, format="json")
    assert response.status_code == 200
    assert response.json()["valid"] is False
    assert response.json()["error_count"] >= 3
