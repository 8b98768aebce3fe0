"""The admin keeps to the same rules: per-request upload author, outbox kept, starters audited."""

from __future__ import annotations

import io
import uuid

import pytest
import yaml
from django.contrib.admin.sites import site
from django.contrib.auth.models import Group, User
from django.core.management import call_command
from django.test import RequestFactory
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.core import temporal
from apps.workflows import permissions as perms
from apps.workflows.models import DefinitionEvent, OutboxEvent, WorkflowDefinition
from apps.workflows.services.definitions import do_save_definition

from .conftest import napper


def test_concurrent_uploads_each_record_their_own_author(make_user):
    admin = site._registry[WorkflowDefinition]
    alice = make_user("alice", staff=True, perms=["workflows.add_workflowdefinition"])
    bob = make_user("bob", staff=True, perms=["workflows.add_workflowdefinition"])
    request_a, request_b = RequestFactory().post("/"), RequestFactory().post("/")
    request_a.user, request_b.user = alice, bob
    # Both requests get their form before either is validated, as two threads would.
    form_a = admin.get_form(request_a)(data={"source": yaml.safe_dump(napper("from-alice"))})
    form_b = admin.get_form(request_b)(data={"source": yaml.safe_dump(napper("from-bob"))})
    assert form_b.is_valid() and form_a.is_valid()
    authors = dict(WorkflowDefinition.objects.values_list("key", "author__username"))
    assert authors == {"from-alice": "alice", "from-bob": "bob"}


def _outbox(published: bool) -> OutboxEvent:
    return OutboxEvent.objects.create(
        dedupe_key=str(uuid.uuid4()),
        topic="events",
        event_id=str(uuid.uuid4()),
        event_type="t",
        source="/s",
        published_at=timezone.now() if published else None,
    )


def test_sent_outbox_rows_may_be_deleted_pending_ones_never(make_user, client):
    client.force_login(make_user("root", superuser=True))
    pending, sent = _outbox(False), _outbox(True)
    url = "/admin/workflows/outboxevent/{}/delete/"
    assert client.post(url.format(pending.pk), {"post": "yes"}).status_code == 403
    assert client.post(url.format(sent.pk), {"post": "yes"}).status_code == 302
    assert list(OutboxEvent.objects.values_list("pk", flat=True)) == [pending.pk]
    bulk = client.post(
        "/admin/workflows/outboxevent/",
        {"action": "delete_selected", "_selected_action": [pending.pk], "post": "yes"},
    )
    assert bulk.status_code == 403
    assert OutboxEvent.objects.filter(pk=pending.pk).exists()


def test_starter_groups_set_in_the_admin_are_audited_and_let_members_start(operator, client):
    definition, _ = do_save_definition(source=napper("payroll"), publish=True)
    hr = Group.objects.get(name="hr")  # made by load_demo's groups (the operator fixture)
    member = User.objects.create(username="member")
    member.groups.add(hr)
    assert not perms.can_start(member, "payroll")
    client.force_login(operator)
    page = client.get(f"/admin/workflows/workflowdefinition/{definition.pk}/change/")
    assert "staff with the start permission only" in page.content.decode()
    saved = client.post(
        "/admin/workflows/definitionaccess/add/", {"key": "payroll", "starter_groups": [hr.pk]}
    )
    assert saved.status_code == 302, saved.content.decode()[:2000]
    assert perms.can_start(User.objects.get(pk=member.pk), "payroll")
    event = DefinitionEvent.objects.get(definition=definition, event_type="starters_changed")
    assert (event.actor, event.details) == (operator, {"before": [], "after": ["hr"]})


@pytest.fixture
def demo(settings, db):
    settings.TEMPORAL_QUEUE_PREFIX = f"demo-{uuid.uuid4().hex[:8]}-"
    call_command("load_demo", stdout=io.StringIO())
    yield
    from apps.workflows.models import WorkflowInstance

    ids = list(WorkflowInstance.objects.open().values_list("workflow_id", flat=True))

    async def stop(client):
        for workflow_id in ids:
            try:
                await client.get_workflow_handle(workflow_id).terminate(reason="test ended")
            except Exception:  # never started: this test's transaction never commits
                pass

    if ids:
        temporal.call(stop)


def _api(username: str) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=User.objects.get(username=username))
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def test_the_demo_shows_a_definition_employees_start_and_operators_have_the_admin(demo, client):
    bob = _api("bob")
    listed = bob.get("/api/v1/definitions/").json()["results"]
    assert [d["key"] for d in listed] == ["expense-claim"]
    started = bob.post("/api/v1/instances/", {"definition": "expense-claim"}, format="json")
    assert started.status_code == 201, started.json()
    assert bob.get(f"/api/v1/instances/{started.json()['id']}/").status_code == 200
    assert (
        bob.post("/api/v1/secrets/", {"name": "x", "value": "y"}, format="json").status_code == 403
    )

    client.force_login(User.objects.get(username="operator"))
    for page in [
        "/admin/workflows/secret/",
        "/admin/authtoken/tokenproxy/",
        "/admin/core/platformevent/",
        "/admin/workflows/definitionaccess/",
        f"/admin/workflows/workflowinstance/{started.json()['id']}/change/",
    ]:
        response = client.get(page)
        assert response.status_code == 200, page
    timeline = client.get(f"/admin/workflows/workflowinstance/{started.json()['id']}/change/")
    assert "Timeline" in timeline.content.decode()
    assert "Instance started by bob" in timeline.content.decode()
