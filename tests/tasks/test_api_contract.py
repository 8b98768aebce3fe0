"""The task API keeps its OpenAPI contract on real tasks too (schemathesis, in-process).

tests/core/test_api_contract.py runs every operation, but names no task, so a task operation
there only ever answers 404. Here each generated request runs again against a real task the
caller is part of, so the 2xx answers (lists, the detail, every action's result) are checked
against the schema: status codes, shapes, content types and headers.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import Group, User
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from tests.core.test_api_contract import (  # noqa: F401
    CONFIG,
    in_process_wsgi,
    validate_as_each_caller,
)
from xflow_site.wsgi import application

from .conftest import task_request

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)
tasks = schema.include(path_regex=r"^/api/v1/tasks")


@pytest.fixture
def world(in_process_wsgi) -> dict:  # noqa: F811
    from apps.tasks.services import do_create_task

    bob = User.objects.create(username="bob", email="bob@example.com")
    carol = User.objects.create(username="carol")
    carol.groups.add(Group.objects.create(name="hr"))
    root = User.objects.create(username="root", is_staff=True, is_superuser=True)
    return {
        "tokens": [Token.objects.create(user=u).key for u in (bob, carol, root)],
        "make": lambda: str(do_create_task(task_request(assignee="bob"), strict=False).pk),
    }


@tasks.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_every_task_answer_matches_the_schema(case, world):
    # As the assignee, a candidate, a superuser.
    validate_as_each_caller(case, world["tokens"], world["make"])
