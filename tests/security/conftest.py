"""The roles of the permission matrix, and a small world of definitions, instances, secrets."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.test import Client
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.core import temporal
from apps.core.management.commands.load_demo import ensure_groups
from apps.workflows.models import OutboxEvent, Secret, WorkflowDefinition, WorkflowInstance
from apps.workflows.services.access import do_set_starter_groups
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.secrets import do_set_secret
from tests.security.unharmed import platform, root_api  # noqa: F401  (input-bounds fixtures)

ROLES = ["anonymous", "plain", "starter", "staff", "viewer", "operator", "superuser"]


def napper(key: str, **extra) -> dict:
    return {
        "id": key,
        "version": "1",
        "specVersion": "0.8",
        "start": "Nap",
        "states": [{"name": "Nap", "type": "sleep", "duration": "PT1H", "end": True}],
        **extra,
    }


def _user(username: str, *, groups=(), perms=(), staff=False, superuser=False) -> User:
    # No password: hashing one costs more than the request under test.
    user = User.objects.create(
        username=username, is_staff=staff or superuser, is_superuser=superuser
    )
    user.groups.set([Group.objects.get_or_create(name=g)[0] for g in groups])
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return User.objects.get(pk=user.pk)


@dataclass
class World:
    users: dict[str, User]
    open_def: WorkflowDefinition  # employees may start it
    staff_def: WorkflowDefinition  # no starter groups: staff with the permission only
    draft: WorkflowDefinition
    mine: WorkflowInstance  # started by the starter, running
    failed: WorkflowInstance  # started by the operator, failed in a state
    secret: Secret
    pending: OutboxEvent
    clients: dict[str, object] = field(default_factory=dict)

    def api(self, role: str) -> APIClient:
        client = APIClient()
        if role != "anonymous":
            token, _ = Token.objects.get_or_create(user=self.users[role])
            client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
        return client

    def admin(self, role: str) -> Client:
        client = Client()
        if role != "anonymous":
            client.force_login(self.users[role])
        return client


@pytest.fixture
def world(db, settings) -> World:
    # Starts go to queues no worker serves: nothing runs, nothing leaks into other tests.
    settings.TEMPORAL_QUEUE_PREFIX = f"matrix-{uuid.uuid4().hex[:8]}-"
    ensure_groups()
    users = {
        "plain": _user("plain"),
        "starter": _user("starter", groups=["employees"]),
        "staff": _user("staff", staff=True),
        "viewer": _user(
            "viewer",
            staff=True,
            perms=["workflows.view_workflowdefinition", "workflows.view_workflowinstance"],
        ),
        "operator": _user("operator", staff=True, groups=["operators"]),
        "superuser": _user("superuser", superuser=True),
    }
    open_def, _ = do_save_definition(source=napper("open-to-employees"), publish=True)
    do_set_starter_groups(key="open-to-employees", groups=["employees"])
    staff_def, _ = do_save_definition(source=napper("staff-only", secrets=["apiKey"]), publish=True)
    draft, _ = do_save_definition(source=napper("draft-one"))
    secret = do_set_secret(name="apiKey", value="matrix-secret-value")
    mine = WorkflowInstance.objects.create(
        definition=open_def,
        definition_key=open_def.key,
        version=open_def.version,
        workflow_id=f"xflow-matrix-{uuid.uuid4()}",
        started_by=users["starter"],
        status="running",
        current_states=["Nap"],
        input={"who": "starter"},
    )
    failed = WorkflowInstance.objects.create(
        definition=staff_def,
        definition_key=staff_def.key,
        version=staff_def.version,
        workflow_id=f"xflow-matrix-{uuid.uuid4()}",
        started_by=users["operator"],
        status="failed",
        error={"state": "Nap", "message": "boom", "data": {}},
        input={},
    )
    pending = OutboxEvent.objects.create(
        dedupe_key=f"matrix-{uuid.uuid4()}",
        topic="events",
        event_id=str(uuid.uuid4()),
        event_type="matrix.pending",
        source="/matrix",
    )
    yield World(users, open_def, staff_def, draft, mine, failed, secret, pending)
    _terminate_started()


def _terminate_started() -> None:
    """Stop the workflows that allowed starts, retries and restarts created."""
    workflow_ids = list(WorkflowInstance.objects.open().values_list("workflow_id", flat=True))

    async def terminate(client):
        for workflow_id in workflow_ids:
            try:
                await client.get_workflow_handle(workflow_id).terminate(reason="test ended")
            except Exception:  # never started (a row made by the fixture), or already gone
                pass

    if workflow_ids:
        temporal.call(terminate)
