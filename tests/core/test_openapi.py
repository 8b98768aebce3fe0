"""The OpenAPI schema is generated from the code and the docs are served locally."""

import re

import yaml


def test_schema_generates_and_lists_the_api(api):
    response = api.get("/api/schema/")
    assert response.status_code == 200
    schema = yaml.safe_load(response.content)
    assert schema["openapi"].startswith("3.")
    paths = schema["paths"]
    assert "/api/v1/me" in paths
    assert "/api/v1/instances/" in paths
    assert "/api/v1/definitions/" in paths


def test_swagger_ui_is_served_without_a_cdn(client, operator):
    client.force_login(operator)
    page = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in page
    for url in re.findall(r'(?:src|href)="([^"]+)"', page):
        assert not url.startswith(("http://", "https://", "//")), url
    asset = re.search(r'src="([^"]*swagger-ui-bundle\.js)"', page).group(1)
    assert client.get(asset).status_code == 200
