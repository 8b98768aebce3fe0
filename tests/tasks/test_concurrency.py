"""People racing for the same task: one wins, the others hear who, nobody gets a 500."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from apps.tasks.models import TaskEvent
from apps.tasks.services import do_claim_task

from .conftest import client_for

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_claim_waiting_on_a_concurrent_claim_is_told_who_won(people, make_task):
    task = make_task()
    holding = threading.Event()

    def first():
        try:
            with transaction.atomic():
                do_claim_task(task, user=people["candidate"])
                holding.set()
                time.sleep(0.5)  # the row stays locked: the second claim waits here
        finally:
            connection.close()

    thread = threading.Thread(target=first)
    thread.start()
    assert holding.wait(10)
    # PostgreSQL re-reads the locked row after the wait; the refusal must name the new
    # assignee (a joined assignee would be the stale, empty one: a 500).
    response = client_for(people["member"]).post(f"/api/v1/tasks/{task.pk}/claim")
    thread.join(10)
    assert response.status_code == 409, response.content
    assert "already assigned to alice" in response.json()["error"]["message"]


def test_eight_claimers_on_one_queue_never_double_claim(people, make_user, make_task):
    tasks = [make_task(candidateUsers=[], candidateGroups=["pool"]) for _ in range(12)]
    claimers = [make_user(f"claimer{n}", groups=["pool"]) for n in range(8)]
    outcomes: list[int] = []
    lock = threading.Lock()

    def claim_all(user):
        api = client_for(user)
        try:
            for task in tasks:
                status = api.post(f"/api/v1/tasks/{task.pk}/claim").status_code
                with lock:
                    outcomes.append(status)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim_all, args=(u,)) for u in claimers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(set(outcomes)) == [200, 409]
    assert outcomes.count(200) == len(tasks)  # each task claimed exactly once
    claimed = TaskEvent.objects.filter(event_type="claimed", task__in=tasks)
    assert claimed.count() == len(tasks)


def test_closing_an_instance_while_someone_claims_its_task_does_not_deadlock(people, make_task):
    from apps.core.errors import Conflict
    from apps.tasks.services import do_cancel_tasks_of_instance
    from apps.workflows.models import WorkflowDefinition, WorkflowInstance

    definition = WorkflowDefinition.objects.create(
        key="k", version="1", source="{}", document={"id": "k"}, status="published"
    )
    instance = WorkflowInstance.objects.create(
        definition=definition, definition_key="k", version="1", workflow_id="xflow-k"
    )
    task = make_task()
    task.__class__.objects.filter(pk=task.pk).update(instance=instance)
    outcome: list = []

    def claim():
        try:
            do_claim_task(task, user=people["candidate"])
            outcome.append("claimed")
        except Conflict as exc:
            outcome.append(exc.message)
        except Exception as exc:  # a deadlock would land here (or in the closing side)
            outcome.append(repr(exc))
        finally:
            connection.close()

    claimer = threading.Thread(target=claim)
    with transaction.atomic():
        # closing the instance: its row FOR UPDATE (as the mirror and cancel do), then tasks
        WorkflowInstance.objects.select_for_update().get(pk=instance.pk)
        claimer.start()
        time.sleep(0.5)  # the claim is under way, waiting on a lock
        assert do_cancel_tasks_of_instance(instance) == 1
    claimer.join(10)
    assert outcome == ["This task is cancelled; it can no longer be changed."]
