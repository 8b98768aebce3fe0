"""Fixtures of the task tests: the people around a task, tasks made the way the engine makes
them (through the creating service), and API clients signed in as each person."""

from __future__ import annotations

import uuid

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.tasks.services import do_create_task
from apps.workflows.engine.contracts import CreateUserTask

# The production worker for end-to-end tests (one per session, shared with tests/workflows).
from tests.conftest import wait_for_instance  # noqa: F401

OUTCOMES = [{"name": "approved", "label": "Approve"}, {"name": "rejected", "label": "Reject"}]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    """The cast has six people; hashing their passwords properly would dominate the run."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _celery_in_process(settings):
    """Emails are sent by Celery tasks; here they run in the test's process, into mailoutbox."""
    from xflow_site.celery import app

    previous = app.conf.task_always_eager
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = previous


@pytest.fixture
def people(make_user):
    """The cast: assignee bob, candidate alice, hr member carol, outsider dave, a manager and an
    operator."""
    return {
        "assignee": make_user("bob"),
        "candidate": make_user("alice"),
        "member": make_user("carol", groups=["hr"]),
        "other": make_user("dave", groups=["sales"]),
        "manager": make_user("mia", perms=["tasks.assign_usertask"]),
        "operator": make_user(
            "otto", staff=True, perms=["tasks.view_usertask", "tasks.delete_usertask"]
        ),
    }


def task_request(**task) -> CreateUserTask:
    """What the interpreter sends when an ad-hoc run reaches a usertask state."""
    spec = {
        "taskKey": "approve-leave",
        "title": "Leave request from Ann",
        "candidateUsers": ["alice"],
        "candidateGroups": ["hr"],
        "priority": 50,
        "outcomes": OUTCOMES,
        **task,
    }
    return CreateUserTask(
        instance_id=str(uuid.uuid4()),
        workflow_id=f"adhoc-{uuid.uuid4().hex[:8]}",
        state="ApproveLeave",
        task=spec,
        input={"employee": "Ann", "days": 3},
        dedupe_key=str(uuid.uuid4()),
    )


@pytest.fixture
def make_task(db):
    def make(**task):
        return do_create_task(task_request(**task), strict=False)

    return make


def client_for(user) -> APIClient:
    client = APIClient()
    if user is not None:
        token, _ = Token.objects.get_or_create(user=user)
        client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client
