"""Attack: a definition whose parts (constants, dataInputSchema, ...) name server files or
internal URLs, so that the web process reads them and hands them back in instance data.

Each start is refused with a 4xx naming the refusal, the answer carries nothing of the file
or page, nothing half-written remains, and the platform still runs a trivial instance.
"""

from __future__ import annotations

import pytest

from apps.core.models import IdempotencyRecord
from apps.workflows.models import InstanceEvent, WorkflowInstance
from tests.conftest import wait_for_instance  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

TRIVIAL = {
    "id": "trivial",
    "version": "1",
    "specVersion": "0.8",
    "start": "Done",
    "states": [{"name": "Done", "type": "inject", "data": {"ok": True}, "end": True}],
}


def definition(key: str, section: str, uri: str) -> dict:
    doc = {**TRIVIAL, "id": key}
    if section == "dataInputSchema (object)":
        doc["dataInputSchema"] = {"schema": uri, "failOnValidationErrors": True}
    else:
        doc[section] = uri
    return doc


def publish(api, document: dict) -> None:
    response = api.post("/api/v1/definitions/?publish=true", document, format="json")
    assert response.status_code == 201, response.json()


def assert_platform_unharmed(api) -> None:
    """Nothing of the refused start remains, and a trivial instance still completes."""
    assert WorkflowInstance.objects.count() == 0
    assert InstanceEvent.objects.count() == 0
    assert IdempotencyRecord.objects.count() == 0
    publish(api, TRIVIAL)
    started = api.post("/api/v1/instances/", {"definition": "trivial"}, format="json")
    assert started.status_code == 201, started.json()
    assert wait_for_instance(started.json()["id"]).status == "completed"


SECTIONS = ["constants", "dataInputSchema", "dataInputSchema (object)", "functions", "secrets"]


@pytest.mark.parametrize("section", SECTIONS)
def test_a_server_file_named_by_a_definition_is_never_read(api, settings, section):
    # Given a published definition whose part names the server's password file
    settings.XFLOW_RESOURCE_DIR = None
    publish(api, definition("reads-files", section, "file:///etc/passwd"))

    # When an instance is started (with an idempotency key, which must not be spent)
    response = api.post(
        "/api/v1/instances/",
        {"definition": "reads-files"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="try-1",
    )

    # Then the start is refused, naming the setting, and shows nothing of the file
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "outbound_refused"
    assert "file:///etc/passwd is refused" in error["message"]
    assert "XFLOW_RESOURCE_DIR" in error["message"]
    assert "root:" not in response.content.decode()
    assert_platform_unharmed(api)


@pytest.mark.parametrize("section", ["constants", "dataInputSchema"])
def test_a_file_outside_the_resource_directory_is_refused(api, settings, tmp_path, section):
    # Given a resource directory, and a definition climbing out of it
    (tmp_path / "resources").mkdir()
    (tmp_path / "private.json").write_text('{"password": "hunter2"}')
    settings.XFLOW_RESOURCE_DIR = str(tmp_path / "resources")
    publish(api, definition("climbs-out", section, "file://../private.json"))

    response = api.post("/api/v1/instances/", {"definition": "climbs-out"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "outbound_refused"
    assert "outside XFLOW_RESOURCE_DIR" in response.json()["error"]["message"]
    assert "hunter2" not in response.content.decode()
    assert_platform_unharmed(api)


@pytest.mark.parametrize("section", ["constants", "dataInputSchema", "timeouts"])
def test_the_platforms_own_endpoints_are_not_fetched(api, live_server, section):
    # Given the platform itself serving /readyz on 127.0.0.1 (JSON a start would accept)
    port = live_server.url.rsplit(":", 1)[1]
    readyz = f"http://127.0.0.1:{port}/readyz"
    publish(api, definition("reads-readyz", section, readyz))

    # When an instance is started
    response = api.post("/api/v1/instances/", {"definition": "reads-readyz"}, format="json")

    # Then the URL is refused as loopback, before any request
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "outbound_refused"
    assert error["message"].endswith(
        f"{readyz} is refused: 127.0.0.1 is a loopback address; allow it with XFLOW_OUTBOUND_ALLOW."
    )
    assert "temporal" not in response.content.decode().lower()
    assert_platform_unharmed(api)


@pytest.mark.parametrize(
    "uri",
    ["http://169.254.169.254/latest/meta-data/", "http://[::ffff:10.0.0.1]/x", "gopher://x/"],
)
def test_metadata_private_and_odd_scheme_urls_are_refused_at_start(api, uri):
    publish(api, definition("reaches-in", "constants", uri))

    response = api.post("/api/v1/instances/", {"definition": "reaches-in"}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "outbound_refused"
    assert_platform_unharmed(api)
