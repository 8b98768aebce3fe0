"""Task timers and taskTimeout on Temporal's time-skipping server, with the production worker
(the interpreter and the tasks app's real activities): three days pass in a moment."""

from __future__ import annotations

import asyncio
import os
import sys
import threading
import uuid

import pytest
from temporalio.testing import WorkflowEnvironment

from apps.core import temporal
from apps.tasks.models import TaskEvent, UserTask
from apps.workflows.engine.contracts import INTERPRETER_WORKFLOW, QUEUE_ENGINE, InterpreterInput
from apps.workflows.models import OutboxEvent

pytestmark = pytest.mark.django_db(transaction=True)

BIN = os.path.join(sys.prefix, "bin")

NOTIFY = {"name": "Nudge", "type": "org.example.nudge", "source": "/hr", "kind": "produced"}
DOCUMENT = {
    "id": "leave-timers",
    "version": "1",
    "specVersion": "0.8",
    "start": "Approve",
    "events": [NOTIFY],
    "states": [
        {
            "name": "Approve",
            "type": "usertask",
            "taskKey": "approve",
            "title": "Approve ${ .who }",
            "assignee": "bob",
            "candidateUsers": ["alice"],
            "candidateGroups": ["hr"],
            "outcomes": [{"name": "ok"}],
            "listeners": [{"on": ["escalated"], "produceEventRef": "Nudge"}],
            "timers": [
                {
                    "name": "remind",
                    "after": "PT24H",
                    "every": "PT12H",
                    "max": 2,
                    "action": "remind",
                },
                {"name": "nudge", "after": "PT30H", "action": "event", "produceEventRef": "Nudge"},
                {
                    "name": "escalate",
                    "after": "PT40H",
                    "action": "escalate",
                    "candidateGroups": ["hr-leads"],
                },
            ],
            "timeouts": {"taskTimeout": "PT72H"},
            "onTaskTimeout": {"transition": "AutoReject"},
            "end": True,
        },
        {"name": "AutoReject", "type": "inject", "data": {"auto": True}, "end": True},
    ],
}


@pytest.fixture(scope="module")
def skipping(django_db_setup, django_db_blocker):
    """The time-skipping server with the production workers, on a loop of their own."""
    from apps.core.worker import build_registry, build_workers

    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True, name="skipping").start()
    queue = temporal.queue_name(QUEUE_ENGINE)

    async def up():
        env = await WorkflowEnvironment.start_time_skipping(
            test_server_existing_path=os.path.join(BIN, "temporal-test-server")
        )
        workers = build_workers(env.client, build_registry(), max_activity_threads=8)
        for worker in workers:
            asyncio.ensure_future(worker.run())
        return env, workers

    with django_db_blocker.unblock():
        env, workers = asyncio.run_coroutine_threadsafe(up(), loop).result(120)
        yield env, loop, queue

        async def down():
            for worker in workers:
                await worker.shutdown()
            await env.shutdown()

        asyncio.run_coroutine_threadsafe(down(), loop).result(60)
    loop.call_soon_threadsafe(loop.stop)


def test_reminders_event_escalation_and_timeout_over_three_days(
    skipping, people, make_user, mailoutbox
):
    env, loop, queue = skipping
    make_user("lena", groups=["hr-leads"])
    instance_id = str(uuid.uuid4())

    async def run():
        # An ad-hoc run (no instance row), as `run_workflow` makes.
        handle = await env.client.start_workflow(
            INTERPRETER_WORKFLOW,
            InterpreterInput(
                instance_id=instance_id,
                definition=DOCUMENT,
                definition_key="leave-timers",
                version="1",
                input={"who": "Ann"},
            ),
            id=f"adhoc-{instance_id}",
            task_queue=queue,
        )
        return await handle.result()

    output = asyncio.run_coroutine_threadsafe(run(), loop).result(120)

    # the workflow took onTaskTimeout after 72 h
    assert output == {"who": "Ann", "auto": True}
    task = UserTask.objects.get(instance_key=instance_id)
    assert task.status == "timed_out" and task.title == "Approve Ann"
    # reminders at 24 h and 36 h, the event at 30 h, the escalation at 40 h, then the timeout
    fired = [
        (e.details["timer"], e.details["fired"])
        for e in TaskEvent.objects.filter(task=task, event_type="timer_fired").order_by("id")
    ]
    assert fired == [("remind", 1), ("nudge", 1), ("remind", 2), ("escalate", 1)]
    kinds = list(
        TaskEvent.objects.filter(task=task).order_by("id").values_list("event_type", flat=True)
    )
    assert kinds[-2:] == ["escalated", "timed_out"]
    assert kinds.count("reminded") == 2
    # the escalation gave the task to hr-leads, back in the queue
    assert task.candidate_groups == ["hr-leads"] and task.assignee is None and task.escalations == 1
    # emails: assigned to bob, two reminders to bob, then hr-leads (and alice) may claim it
    sent = [(m.to[0], m.subject.split(":")[0]) for m in mailoutbox]
    assert sent[:3] == [
        ("bob@example.com", "[xflow] Task assigned to you"),
        ("bob@example.com", "[xflow] Reminder"),
        ("bob@example.com", "[xflow] Reminder"),
    ]
    assert sorted(to for to, _ in sent[3:]) == ["alice@example.com", "lena@example.com"]
    # the `event` timer and the `escalated` listener produced the definition's event
    nudges = OutboxEvent.objects.filter(event_type="org.example.nudge").order_by("id")
    assert [e.data["event"] for e in nudges] == ["timer", "escalated"]
    assert OutboxEvent.objects.filter(
        event_type="io.xflow.task.timed_out", attributes__xflowtaskid=str(task.pk)
    ).exists()
