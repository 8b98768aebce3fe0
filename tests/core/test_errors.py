"""One JSON error format for the whole API; bad input is never a 500."""

import pytest


def _error(response):
    body = response.json()
    assert set(body) == {"error"}
    assert {"code", "message", "status"} <= set(body["error"])
    assert body["error"]["status"] == response.status_code
    return body["error"]


@pytest.mark.django_db
def test_unknown_api_url_answers_404_in_the_error_format(anon_api):
    response = anon_api.get("/api/v1/no-such-thing/")
    assert response.status_code == 404
    error = _error(response)
    assert error["code"] == "not_found"
    assert "/api/v1/no-such-thing/" in error["message"]


def test_malformed_json_is_a_400_parse_error(api):
    response = api.post("/api/v1/instances/", data="{not json", content_type="application/json")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "parse_error"


def test_validation_errors_name_each_field(api):
    response = api.post("/api/v1/instances/", {"input": []}, format="json")
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid"
    assert "definition" in error["fields"]
    assert error["message"].startswith("definition:")


def test_wrong_method_is_405_in_the_error_format(api):
    response = api.delete("/api/v1/me")
    assert response.status_code == 405
    assert _error(response)["code"] == "method_not_allowed"


def test_unsupported_media_type_is_415(api):
    response = api.post("/api/v1/instances/", data=b"\x00\x01", content_type="application/x-foo")
    assert response.status_code == 415
    assert _error(response)["code"] == "unsupported_media_type"


@pytest.mark.django_db
def test_unknown_page_outside_the_api_is_an_html_404(client):
    response = client.get("/no-such-page")
    assert response.status_code == 404
    assert b"Page not found" in response.content
