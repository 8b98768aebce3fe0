"""The files API keeps its OpenAPI contract on real files too (schemathesis, in-process).

tests/core/test_api_contract.py runs every operation but names no file, so a file's
operations there only answer 404. Here each generated request runs again against a fresh
real file (owned by the first caller), so the 2xx answers — metadata, the list, the content
with its ranges (200/206/304/416), the deletion — are checked against the schema.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.contrib.auth.models import User
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token

from apps.files.services import do_upload_file
from tests.core.test_api_contract import (  # noqa: F401
    CONFIG,
    in_process_wsgi,
    validate_as_each_caller,
)
from xflow_site.wsgi import application

from .conftest import upload

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application, config=CONFIG)
files = schema.include(path_regex=r"^/api/v1/files")


@pytest.fixture
def world(in_process_wsgi) -> dict:  # noqa: F811
    bob = User.objects.create(username="bob")
    carol = User.objects.create(username="carol")
    root = User.objects.create(username="root", is_staff=True, is_superuser=True)
    return {
        "tokens": [Token.objects.create(user=u).key for u in (bob, carol, root)],
        "make": lambda: str(do_upload_file(user=bob, upload=upload()).pk),
    }


@files.parametrize()
@settings(suppress_health_check=list(HealthCheck), deadline=None)
def test_every_file_answer_matches_the_schema(case, world):
    # As the owner, a stranger, a superuser.
    validate_as_each_caller(case, world["tokens"], world["make"])
