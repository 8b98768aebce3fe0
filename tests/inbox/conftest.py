"""Fixtures of the inbox tests: the task tests' cast and tasks, browsers signed in as each
person, and tasks that belong to a recorded process instance."""

from __future__ import annotations

import html
import re
import sys
import types
import uuid

import pytest
from django.test import Client

from apps.tasks.services import do_create_task
from apps.workflows.engine.contracts import CreateUserTask
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.instances import do_start_instance

# The task tests' people and tasks (and, through them, the production worker).
from tests.tasks.conftest import (  # noqa: F401
    OUTCOMES,
    _celery_in_process,
    _fast_passwords,
    make_task,
    people,
    task_request,
    wait_for_instance,
)


@pytest.fixture
def browser_for():
    """A test client signed in as the user (a session, as the login page makes)."""

    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


def leave_process(**extra) -> dict:
    """A small published process whose first state is a user task (drawn on the task page)."""
    return {
        "id": "leave",
        "version": "1",
        "specVersion": "0.8",
        "start": "ApproveLeave",
        **extra,
        "states": [
            {
                "name": "ApproveLeave",
                "type": "usertask",
                "taskKey": "approve-leave",
                "title": "Leave request",
                "candidateGroups": ["hr"],
                "outcomes": OUTCOMES,
                "transition": "Book",
            },
            {"name": "Book", "type": "inject", "data": {"booked": True}, "end": True},
        ],
    }


@pytest.fixture
def make_process_task(db):
    """A task of a recorded (not running) instance: the row is written, its workflow would
    start after the commit, which a test's rolled-back transaction never reaches."""

    def make(document: dict | None = None, data=None, **task):
        definition, _ = do_save_definition(
            source=document or leave_process(), user=None, publish=True
        )
        assert definition.status == "published", definition.issues
        instance = do_start_instance(definition=definition, input=data or {"days": 3})
        type(instance).objects.filter(pk=instance.pk).update(
            status="waiting", current_states=["ApproveLeave"], visited_states=["ApproveLeave"]
        )
        request = CreateUserTask(
            instance_id=str(instance.pk),
            workflow_id=instance.workflow_id,
            state="ApproveLeave",
            task={
                "taskKey": "approve-leave",
                "title": "Leave request",
                "candidateGroups": ["hr"],
                "outcomes": OUTCOMES,
                **task,
            },
            input=data or {"days": 3},
            dedupe_key=str(uuid.uuid4()),
        )
        return do_create_task(request)

    return make


@pytest.fixture
def form_schemas(monkeypatch):
    """Stands in for the forms app (not built yet): `form_schemas["key"] = schema` gives the
    tasks whose formKey is "key" that schema, through the contract of apps/tasks/forms_link."""
    schemas: dict[str, dict] = {}
    module = types.ModuleType("apps.forms.services")
    module.form_schema = lambda key, version=None: schemas.get(key)
    monkeypatch.setitem(sys.modules, "apps.forms.services", module)
    return schemas


def messages_of(response) -> list[str]:
    """The texts of the messages a page shows."""
    page = response.content.decode()
    return [
        html.unescape(re.sub(r"\s+", " ", m).strip())
        for m in re.findall(r'<p class="msg [^"]*"[^>]*>(.*?)</p>', page, re.S)
    ]


def titles(response) -> list[str]:
    """The task titles a list page shows, in order."""
    assert response.status_code == 200, response.content[:500]
    html = response.content.decode()
    return re.findall(r'<td data-label="Task"><a href="/inbox/tasks/[^"]+/">([^<]*)</a>', html)
