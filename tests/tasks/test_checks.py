"""Startup checks of the tasks app."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from apps.tasks.checks import check_candidate_groups
from apps.workflows.services.definitions import do_save_definition

from .test_workflow import leave_definition

pytestmark = pytest.mark.django_db


def test_a_published_task_offered_to_a_missing_group_is_reported():
    do_save_definition(
        source=leave_definition(
            timers=[
                {"name": "up", "after": "PT1H", "action": "escalate", "candidateGroups": ["leads"]}
            ]
        ),
        user=None,
        publish=True,
    )
    problems = check_candidate_groups()
    assert [p.id for p in problems] == ["xflow.W010"]
    assert "hr, leads" in problems[0].msg
    Group.objects.create(name="hr")
    Group.objects.create(name="leads")
    assert check_candidate_groups() == []
