"""Operators in the admin: upload and publish definitions, see problems, manage secrets."""

from __future__ import annotations

import json

import pytest
import yaml

from apps.workflows.models import Secret, WorkflowDefinition
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.secrets import resolve_secrets

from .test_definitions_api import GREETING

ADD_URL = "/admin/workflows/workflowdefinition/add/"


@pytest.fixture
def admin_client(client, make_user):
    client.force_login(make_user("root", superuser=True))
    return client


def test_pasting_a_yaml_definition_and_publishing_it(admin_client):
    response = admin_client.post(ADD_URL, {"source": yaml.safe_dump(GREETING), "publish_now": "on"})
    assert response.status_code == 302, response.content.decode()[:2000]
    definition = WorkflowDefinition.objects.get(key="greeting", version="1.0")
    assert definition.status == "published"
    page = admin_client.get(response["Location"]).content.decode()
    assert "No problems found." in page
    assert "/api/v1/definitions/greeting/versions/1.0/diagram.svg" in page


def test_uploading_a_file(admin_client):
    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = SimpleUploadedFile(
        "greeting.json", json.dumps(GREETING).encode(), content_type="application/json"
    )
    response = admin_client.post(ADD_URL, {"upload": upload})
    assert response.status_code == 302
    assert WorkflowDefinition.objects.get(key="greeting").status == "draft"


def test_broken_text_is_explained_on_the_form(admin_client):
    response = admin_client.post(ADD_URL, {"source": "id: x\nstates: [\n"})
    assert response.status_code == 200
    assert "cannot be read" in response.content.decode()
    assert not WorkflowDefinition.objects.exists()


def test_a_draft_with_errors_shows_each_problem_and_refuses_publish(admin_client):
    doc = {
        **GREETING,
        "states": [{"name": "Greet", "type": "inject", "data": {}, "transition": "Nowhere"}],
    }
    definition, _ = do_save_definition(source=doc)
    page = admin_client.get(f"/admin/workflows/workflowdefinition/{definition.pk}/change/")
    text = page.content.decode()
    assert "states[0].transition" in text
    assert "Nowhere" in text
    response = admin_client.post(
        "/admin/workflows/workflowdefinition/",
        {"action": "publish_selected", "_selected_action": [definition.pk]},
        follow=True,
    )
    assert "error" in response.content.decode()
    definition.refresh_from_db()
    assert definition.status == "draft"


def test_a_secret_set_in_the_admin_is_stored_encrypted_and_never_shown(admin_client):
    response = admin_client.post(
        "/admin/workflows/secret/add/",
        {"name": "apiKey", "description": "partner API", "value": '{"user": "u", "password": "p"}'},
    )
    assert response.status_code == 302
    secret = Secret.objects.get(name="apiKey")
    assert "password" not in secret.ciphertext
    page = admin_client.get(f"/admin/workflows/secret/{secret.pk}/change/").content.decode()
    assert '"p"' not in page and "password&quot;: &quot;p" not in page
    assert resolve_secrets({"secrets": ["apiKey"]}) == {"apiKey": {"user": "u", "password": "p"}}


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("engine_worker")
def test_an_operator_watches_and_cancels_an_instance_in_the_admin(admin_client):
    from apps.workflows.models import WorkflowInstance
    from apps.workflows.services.instances import do_start_instance

    from .conftest import wait_for_instance

    definition, _ = do_save_definition(
        publish=True,
        source={
            "id": "napper",
            "version": "1",
            "specVersion": "0.8",
            "start": "Nap",
            "states": [{"name": "Nap", "type": "sleep", "duration": "PT1H", "end": True}],
        },
    )
    instance = do_start_instance(definition=definition, input={"who": "ops"})
    wait_for_instance(instance.id, statuses=("waiting",))
    page = admin_client.get(f"/admin/workflows/workflowinstance/{instance.id}/change/")
    text = page.content.decode()
    assert f"/api/v1/instances/{instance.id}/diagram.svg" in text
    assert "Nap" in text  # the current state
    assert "&quot;who&quot;: &quot;ops&quot;" in text  # the input
    control = f"/admin/workflows/workflowinstance/{instance.id}/control/cancel/"
    confirm = admin_client.get(control)
    assert "Cancel instance" in confirm.content.decode()
    done = admin_client.post(control, follow=True)
    assert "Cancel: done." in done.content.decode()
    assert WorkflowInstance.objects.get(pk=instance.id).status == "cancelled"


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("engine_worker")
def test_an_operator_starts_an_instance_from_the_definition_page(admin_client):
    from apps.workflows.models import WorkflowInstance

    from .conftest import wait_for_instance

    definition, _ = do_save_definition(
        publish=True,
        source={
            "id": "greeter",
            "version": "1",
            "specVersion": "0.8",
            "start": "Hello",
            "states": [{"name": "Hello", "type": "inject", "data": {"greeted": True}, "end": True}],
        },
    )
    page = admin_client.get(f"/admin/workflows/workflowdefinition/{definition.pk}/change/")
    start_url = f"/admin/workflows/workflowdefinition/{definition.pk}/start/"
    assert start_url in page.content.decode()
    # Not JSON, then JSON holding a NUL character: the form says why, nothing starts
    bad = admin_client.post(start_url, {"input": "{name: x}", "business_key": ""})
    assert bad.status_code == 200 and "The input is not valid JSON" in bad.content.decode()
    nul = admin_client.post(start_url, {"input": '{"name": "a\\u0000"}', "business_key": ""})
    assert "NUL character" in nul.content.decode()
    assert not WorkflowInstance.objects.exists()
    # Valid input: it starts, and the operator lands on the instance's page
    done = admin_client.post(start_url, {"input": '{"name": "Ada"}', "business_key": "case-7"})
    instance = WorkflowInstance.objects.get()
    assert done.status_code == 302
    assert done["Location"].endswith(f"/admin/workflows/workflowinstance/{instance.pk}/change/")
    assert instance.business_key == "case-7" and instance.input == {"name": "Ada"}
    assert wait_for_instance(instance.pk).output == {"name": "Ada", "greeted": True}


@pytest.mark.django_db
def test_staff_without_the_start_permission_cannot_start_from_the_admin(client, make_user):
    from apps.workflows.models import WorkflowInstance

    definition, _ = do_save_definition(
        publish=True,
        source={
            "id": "locked",
            "version": "1",
            "specVersion": "0.8",
            "start": "S",
            "states": [{"name": "S", "type": "inject", "data": {}, "end": True}],
        },
    )
    client.force_login(make_user("viewer", staff=True, perms=["workflows.view_workflowdefinition"]))
    answer = client.post(
        f"/admin/workflows/workflowdefinition/{definition.pk}/start/", {"input": "{}"}, follow=True
    )
    assert "not allowed to start" in answer.content.decode()
    assert not WorkflowInstance.objects.exists()
