"""Resuming a task's workflow exactly once: a signal after the commit, re-sent until taken.

The completion (or deletion) and a `TaskResume` row commit together. After the commit the
TaskSignal is sent; if the process dies first, or Temporal is unreachable, the row stays
`pending` and the relay (`resend_pending_signals`, run by every reconciler pass) sends it
again. Temporal records a signal durably once it acknowledges it, so a signalled row is
done. A signal may arrive twice (the relay and a slow after-commit send); the interpreter
takes the first TaskSignal per task id and ignores the rest — applied once, never lost.

Why a signal and not a Temporal Update with a validator: an Update needs a worker running
to be accepted, so a completion would fail (or hang) while workers restart, and its result
would still have to be written back to Postgres — the same two-writes problem, reversed.
With the row first, the person's completion is accepted whenever Postgres is, and what the
workflow needs is delivered as soon as Temporal takes it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.core import temporal
from apps.tasks.models import TaskResume, UserTask
from apps.workflows.engine.contracts import SIGNAL_TASK, TaskSignal

log = logging.getLogger("xflow.tasks.resume")

SEND_TIMEOUT = 15
BATCH = 500


def resume_after_commit(
    task: UserTask, kind: str, *, user=None, outcome: str | None = None, data: Any = None
) -> TaskResume:
    """Record the signal that resumes the workflow; it is sent once the transaction commits."""
    signal = TaskSignal(
        task_id=str(task.pk),
        kind=kind,
        outcome=outcome,
        data=data,
        user=user.get_username() if user is not None else None,
    )
    row = TaskResume.objects.create(task=task, workflow_id=task.workflow_id, signal=asdict(signal))
    transaction.on_commit(lambda: send_signals([row.pk]), robust=True)
    return row


def send_signals(ids: Iterable[int]) -> int:
    """Signal the pending resumes among `ids` to their workflows; the number acknowledged."""
    from temporalio.service import RPCError, RPCStatusCode

    sent = 0
    for row in TaskResume.objects.filter(pk__in=list(ids), status=TaskResume.Status.PENDING):
        signal = TaskSignal(**row.signal)

        async def send(client, workflow_id=row.workflow_id, signal=signal):
            await client.get_workflow_handle(workflow_id).signal(SIGNAL_TASK, signal)

        try:
            temporal.call(send, timeout=SEND_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - stays pending: the relay sends it again
            closed = isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND
            TaskResume.objects.filter(pk=row.pk).update(
                status=TaskResume.Status.CLOSED if closed else TaskResume.Status.PENDING,
                attempts=F("attempts") + 1,
                last_error=str(exc)[:1000],
            )
            if not closed:
                log.warning("task %s: signal not sent yet (%s)", row.task_id, exc)
            continue
        TaskResume.objects.filter(pk=row.pk).update(
            status=TaskResume.Status.SIGNALLED,
            attempts=F("attempts") + 1,
            signalled_at=timezone.now(),
        )
        sent += 1
    return sent


def resend_pending_signals(*, older_than: timedelta = timedelta(seconds=5)) -> int:
    """The relay: resumes whose after-commit signal did not go through."""
    ids = TaskResume.objects.filter(
        status=TaskResume.Status.PENDING, created_at__lt=timezone.now() - older_than
    ).values_list("pk", flat=True)[:BATCH]
    return send_signals(list(ids))
