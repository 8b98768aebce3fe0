"""A completion resumes its workflow exactly once, whatever dies in between: the process that
completed the task (after its commit, before its signal), the worker, or Temporal's reach."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.utils import timezone

from apps.core import temporal
from apps.tasks.models import TaskResume, UserTask
from apps.tasks.services import do_claim_task, do_complete_task
from apps.tasks.services.resume import resend_pending_signals, send_signals
from apps.workflows.models import InstanceEvent, WorkflowInstance
from apps.workflows.services.reconcile import reconcile_instances

from .conftest import client_for, wait_for_instance
from .test_workflow import DATA, start_leave, wait_for_task

pytestmark = pytest.mark.django_db(transaction=True)

ROOT = Path(__file__).resolve().parents[2]


def _env(**extra) -> dict:
    db = connection.settings_dict
    return {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        **extra,
    }


def _completions(instance) -> int:
    return InstanceEvent.objects.filter(instance=instance, event_type="task_completed").count()


def _assert_applied_once(instance, comment: str) -> None:
    done = wait_for_instance(instance.pk, timeout=60)
    assert done.status == "completed", done.error
    assert done.output == {**DATA, "decision": {"comment": comment}, "booked": True}
    assert _completions(instance) == 1
    assert done.visited_states.count("Book") == 1


DIE_AFTER_COMMIT = """
import os, signal
from django.contrib.auth.models import User
from django.db import transaction
from apps.tasks.models import UserTask
from apps.tasks.services import do_complete_task

with transaction.atomic():
    # Registered first, so it runs first after the commit: the process dies with the
    # completion committed and its signal not sent.
    transaction.on_commit(lambda: os.kill(os.getpid(), signal.SIGKILL))
    do_complete_task(
        UserTask.objects.get(pk="{task}"),
        user=User.objects.get(username="carol"),
        outcome="approved",
        data={{"comment": "from a dying process"}},
    )
"""


@pytest.mark.usefixtures("engine_worker")
def test_the_completing_process_dies_after_its_commit_and_the_reconciler_resumes(people):
    instance = start_leave()
    task = wait_for_task(instance)
    do_claim_task(task, user=people["member"])
    wait_for_instance(instance.pk, statuses=("waiting",))

    dying = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", DIE_AFTER_COMMIT.format(task=task.pk)],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        timeout=120,
    )
    assert dying.returncode == -signal.SIGKILL, dying.stderr.decode()[-2000:]

    # the completion is committed, its signal never left: the instance still waits
    task.refresh_from_db()
    assert task.status == "completed"
    resume = TaskResume.objects.get(task=task)
    assert resume.status == "pending" and resume.attempts == 0
    time.sleep(1.0)
    assert WorkflowInstance.objects.get(pk=instance.pk).status == "waiting"

    # the reconciler's pass (Celery beat, every 30 s) relays what is older than 5 s
    TaskResume.objects.filter(pk=resume.pk).update(created_at=timezone.now() - timedelta(seconds=6))
    report = reconcile_instances()
    assert report.task_signals_resent == 1
    _assert_applied_once(instance, "from a dying process")

    # a redelivery (say, a relay racing a slow after-commit send) changes nothing
    TaskResume.objects.filter(pk=resume.pk).update(status="pending")
    send_signals([resume.pk])
    assert TaskResume.objects.get(pk=resume.pk).status == "closed"  # the workflow has ended
    _assert_applied_once(instance, "from a dying process")


@pytest.mark.usefixtures("engine_worker")
def test_temporal_unreachable_at_completion_keeps_the_signal_until_it_is_back(people, settings):
    instance = start_leave()
    task = wait_for_task(instance)
    do_claim_task(task, user=people["member"])
    real = settings.TEMPORAL_ADDRESS
    settings.TEMPORAL_ADDRESS = "127.0.0.1:1"
    temporal.reset()
    try:
        # the person's completion is accepted: Postgres has it
        response = client_for(people["member"]).post(
            f"/api/v1/tasks/{task.pk}/complete",
            {"outcome": "approved", "data": {"comment": "while Temporal was away"}},
            format="json",
        )
        assert response.status_code == 200, response.content
    finally:
        settings.TEMPORAL_ADDRESS = real
        temporal.reset()
    resume = TaskResume.objects.get(task=task)
    assert resume.status == "pending" and resume.attempts == 1 and resume.last_error
    assert resend_pending_signals(older_than=timedelta(0)) == 1
    _assert_applied_once(instance, "while Temporal was away")
    assert resend_pending_signals(older_than=timedelta(0)) == 0


def _worker(prefix: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker"],  # every queue: engine and tasks
        cwd=ROOT,
        env=_env(TEMPORAL_QUEUE_PREFIX=prefix),
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _stop(proc: subprocess.Popen | None, sig=signal.SIGTERM) -> None:
    if proc is not None and proc.poll() is None:
        os.killpg(proc.pid, sig)
        proc.wait(30)


def test_a_completion_while_the_worker_is_dead_is_applied_once_by_the_next(people, settings):
    prefix = f"tasks-crash-{uuid.uuid4().hex[:8]}-"
    settings.TEMPORAL_QUEUE_PREFIX = prefix
    temporal.reset()
    first = _worker(prefix)
    second = None
    try:
        instance = start_leave()
        task = wait_for_task(instance, timeout=90)
        wait_for_instance(instance.pk, statuses=("waiting",), timeout=60)
        do_claim_task(task, user=people["member"])
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(10)

        # Completed with no worker alive: Temporal keeps the signal in the history.
        do_complete_task(
            UserTask.objects.get(pk=task.pk),
            user=people["member"],
            outcome="approved",
            data={"comment": "no worker"},
        )
        assert TaskResume.objects.get(task=task).status == "signalled"
        time.sleep(1.0)
        assert WorkflowInstance.objects.get(pk=instance.pk).status == "waiting"

        second = _worker(prefix)
        _assert_applied_once(instance, "no worker")
    finally:
        _stop(first, signal.SIGKILL)
        _stop(second)
        temporal.reset()
