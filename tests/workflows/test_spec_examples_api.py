"""The spec's 27 schema-valid examples, uploaded through the API as an operator would."""

import json
from pathlib import Path

import pytest

from tests.dsl.test_dsl_examples import ALL_EXAMPLES, INVALID_EXAMPLE, KNOWN_MISTAKES
from tests.shared import EXAMPLES, needs_examples

pytestmark = needs_examples

VALID = [n for n in ALL_EXAMPLES if n != INVALID_EXAMPLE]


@pytest.mark.parametrize("name", VALID)
def test_each_schema_valid_example_is_accepted(api, name):
    document = json.loads((EXAMPLES / name).read_text(encoding="utf-8"))
    response = api.post("/api/v1/definitions/?publish=true", document, format="json")
    if name in KNOWN_MISTAKES:
        # Accepted as a draft, with the example's own reference mistakes named; publishing
        # them would only move the failure to run time.
        assert response.status_code == 400
        fields = response.json()["error"]["fields"]
        assert set(fields) == {path for path, _ in KNOWN_MISTAKES[name]}
        saved = api.post("/api/v1/definitions/", document, format="json")
        assert saved.status_code == 201
        assert saved.json()["status"] == "draft"
    else:
        assert response.status_code == 201, response.json()
        assert response.json()["status"] == "published"


def test_example_08_is_refused_with_the_misplaced_event_timeout(api):
    document = json.loads((EXAMPLES / INVALID_EXAMPLE).read_text(encoding="utf-8"))
    report = api.post("/api/v1/definitions/validate", document, format="json").json()
    assert report["valid"] is False
    assert [i["path"] for i in report["issues"] if i["severity"] == "error"] == [
        "states[0].eventTimeout"
    ]


def test_the_examples_folder_is_there():
    assert Path(EXAMPLES).is_dir() and len(ALL_EXAMPLES) == 28
