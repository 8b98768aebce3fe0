"""The queue: a user's claimable tasks, merged from their own and their groups' candidacies."""

from __future__ import annotations

import pytest
from rest_framework import serializers

from apps.tasks import services
from apps.tasks.api.serializers import TaskSerializer
from apps.tasks.models import TaskCandidacy, UserTask
from apps.tasks.selectors import TaskFilters, task_page

from .conftest import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def grace(make_user):
    return make_user("grace", groups=["hr", "finance"])


def _walk(user, size: int, filters: TaskFilters | None = None) -> list[UserTask]:
    rows, cursor = [], None
    while True:
        page = task_page(user, "queue", filters, cursor=cursor, size=size)
        rows += page.rows
        if page.next_cursor is None:
            return rows
        cursor = page.next_cursor


def test_the_queue_merges_the_users_and_groups_offers_once_each_in_order(people, grace, make_task):
    offers = [
        make_task(candidateUsers=[], candidateGroups=["hr"], priority=40),
        make_task(candidateUsers=[], candidateGroups=["finance"], priority=90),
        make_task(candidateUsers=[], candidateGroups=["hr", "finance"], priority=60),
        make_task(candidateUsers=["grace"], candidateGroups=["finance"], priority=60),
        make_task(candidateUsers=["grace"], candidateGroups=[], priority=10),
        make_task(candidateUsers=[], candidateGroups=["sales"], priority=99),  # not hers
        make_task(assignee="bob", candidateGroups=["hr"], priority=95),  # assigned: no queue
    ]
    for size in (1, 2, 50):
        seen = _walk(grace, size)
        assert [t.pk for t in seen] == [
            offers[1].pk,
            offers[3].pk,  # equal priorities: newest first
            offers[2].pk,
            offers[0].pk,
            offers[4].pk,
        ], size
    # the same set as the general query (another ordering takes that path)
    general = task_page(grace, "queue", ordering="-created", size=50).rows
    assert {t.pk for t in general} == {t.pk for t in _walk(grace, 50)}


def test_filters_apply_to_the_queue(grace, make_task):
    a = make_task(candidateGroups=["hr"], priority=80, title="Invoice A")
    make_task(candidateGroups=["hr"], priority=20, title="Invoice B")
    make_task(candidateGroups=["finance"], priority=90, title="Holiday")
    UserTask.objects.filter(pk=a.pk).update(definition_key="invoices")
    rows = _walk(grace, 1, filters=TaskFilters(priority_min=50, title="invoice"))
    assert [t.pk for t in rows] == [a.pk]
    rows = _walk(grace, 50, filters=TaskFilters(definition="invoices"))
    assert [t.pk for t in rows] == [a.pk]


def test_the_queue_follows_every_change_of_the_task(people, grace, make_user, make_task):
    task = make_task(candidateUsers=["grace"], candidateGroups=["hr"])

    def queued() -> set[str]:
        return set(TaskCandidacy.objects.filter(task=task).values_list("principal", flat=True))

    assert queued() == {"u:grace", "g:hr"}
    services.do_claim_task(task, user=grace)
    assert queued() == set() and _walk(grace, 50) == []
    services.do_unclaim_task(task, user=grace)
    assert queued() == {"u:grace", "g:hr"}
    services.do_assign_task(task, user=people["manager"], assignee=people["assignee"])
    assert queued() == set()
    services.do_fire_timer(
        task, timer={"name": "e", "action": "escalate", "candidateGroups": ["leads"]}, fire_count=1
    )
    assert queued() == {"u:grace", "g:leads"}
    lead = make_user("lee", groups=["leads"])
    assert [t.pk for t in _walk(lead, 50)] == [task.pk]
    services.do_delete_task(task, user=people["operator"])
    assert queued() == set()
    other = make_task(candidateGroups=["hr"])
    services.do_timeout_task(other)
    assert not TaskCandidacy.objects.filter(task=other).exists()


def test_the_fast_list_row_equals_drfs_rendering(people, make_task):
    tasks = [
        make_task(assignee="bob", dueDate="PT1H", formKey="f@2"),
        make_task(candidateUsers=[], dueDate="2001-01-01T00:00:00"),
    ]
    services.do_delegate_task(tasks[0], user=people["assignee"], delegate=people["member"])
    for task in UserTask.objects.for_list().filter(pk__in=[t.pk for t in tasks]):
        fast = TaskSerializer(task).data
        drf = serializers.ModelSerializer.to_representation(TaskSerializer(), task)
        for key in ("instance", "definition", "version", "outcome"):
            drf[key] = drf[key] or None
        assert fast == dict(drf)


def test_the_queue_page_costs_the_same_queries_for_any_number_of_tasks(grace, make_task):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    api = client_for(grace)

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get("/api/v1/tasks/?view=queue").status_code == 200
        return len(queries)

    make_task(candidateGroups=["hr"])
    few = count()
    for _ in range(30):
        make_task(candidateGroups=["finance", "hr"])
    assert count() == few <= 4  # token, groups, the candidacies, the page's tasks


def test_the_tab_counts(people, grace, make_task):
    from apps.tasks.selectors import counts_for

    make_task(candidateUsers=["grace"], candidateGroups=["hr"])  # offered twice, counted once
    make_task(candidateGroups=["finance"])
    mine = make_task(assignee="grace")
    services.do_delegate_task(mine, user=grace, delegate=people["member"])
    assert counts_for(grace) == {"mine": 0, "queue": 2, "delegated": 1}
    assert counts_for(people["member"])["mine"] == 1
