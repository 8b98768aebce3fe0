"""The reconciler: every open row is compared with Temporal, and what disagrees is repaired.

A periodic job (Celery beat, `xflow.workflows.reconcile`; `manage.py reconcile_instances`
runs one pass by hand). One pass:
1. rows still `starting` after a grace period get their start issued again (a start that was
   lost between the commit and Temporal: process killed, Temporal down);
2. open rows not updated for a while are looked up in Temporal's visibility (one paged
   listing of the running interpreter workflows, not one call per row); each one whose
   workflow is no longer running is described, and its status, output or error, current
   states and missing timeline entries are written, with a `reconciled` timeline entry
   saying what was repaired.
Only one pass runs at a time (a Postgres advisory lock); every step is idempotent.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from apps.core import temporal
from apps.workflows import hooks
from apps.workflows.engine.contracts import (
    INTERPRETER_WORKFLOW,
    QUERY_STATUS,
    InstanceChanged,
)
from apps.workflows.models import InstanceEvent, InstanceStatus, WorkflowInstance
from apps.workflows.services.events import resend_pending_deliveries
from apps.workflows.services.mirror import apply_instance_change
from apps.workflows.services.starts import describe_workflow, dispatch_start

log = logging.getLogger("xflow.workflows.reconcile")

STARTING_GRACE = timedelta(seconds=10)  # the after-commit start normally happens in ms
IDLE_BEFORE_CHECK = timedelta(seconds=30)  # rows updated more recently are left alone
BATCH = 500
# Up to this many candidates are described one by one (exact); more are first narrowed by
# one paged visibility listing (cheap, but it lags a little behind a just-closed workflow).
DESCRIBE_DIRECTLY = 100
LOCK_KEY = 0x78666C6F77_01  # "xflow" + 1: one reconciler pass at a time
CALL_TIMEOUT = 15.0
QUERY_TIMEOUT = 5.0


@dataclass
class ReconcileReport:
    starts_reissued: int = 0
    events_resent: int = 0
    task_signals_resent: int = 0
    checked: int = 0
    running_in_temporal: int = 0
    repaired: list[str] = field(default_factory=list)
    skipped_locked: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "starts_reissued": self.starts_reissued,
            "events_resent": self.events_resent,
            "task_signals_resent": self.task_signals_resent,
            "checked": self.checked,
            "running_in_temporal": self.running_in_temporal,
            "repaired": self.repaired,
            "skipped_locked": self.skipped_locked,
        }


def _try_lock() -> bool:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_try_advisory_lock(%s)", [LOCK_KEY])
        return bool(cur.fetchone()[0])


def _unlock() -> None:
    with connection.cursor() as cur:
        cur.execute("SELECT pg_advisory_unlock(%s)", [LOCK_KEY])


def running_workflow_ids() -> set[str]:
    """Ids of the interpreter workflows Temporal lists as running (visibility, paged)."""

    async def listing(client):
        ids = set()
        query = f"WorkflowType = '{INTERPRETER_WORKFLOW}' AND ExecutionStatus = 'Running'"
        async for execution in client.list_workflows(query, page_size=1000):
            ids.add(execution.id)
        return ids

    return temporal.call(listing, timeout=120)


def _query_status(workflow_id: str) -> dict[str, Any] | None:
    """The interpreter's own account (status, states, timeline); None if no worker answers."""

    async def query(client):
        return await client.get_workflow_handle(workflow_id).query(
            QUERY_STATUS, rpc_timeout=timedelta(seconds=QUERY_TIMEOUT)
        )

    try:
        answer = temporal.call(query, timeout=QUERY_TIMEOUT + 2)
    except Exception as exc:  # noqa: BLE001 - no worker, or the query failed: work without it
        log.info("status query of %s unanswered: %s", workflow_id, exc)
        return None
    return answer if isinstance(answer, dict) else None


def _outcome(workflow_id: str, run_id: str, temporal_status: str) -> tuple[str, Any, Any]:
    """(mirror status, output, error) of a closed run, from its history's close event."""
    from temporalio.client import WorkflowFailureError
    from temporalio.exceptions import ApplicationError

    async def result(client):
        return await client.get_workflow_handle(workflow_id, run_id=run_id).result(
            follow_runs=False
        )

    if temporal_status == "COMPLETED":
        return InstanceStatus.COMPLETED, temporal.call(result, timeout=CALL_TIMEOUT), None
    if temporal_status == "FAILED":
        try:
            temporal.call(result, timeout=CALL_TIMEOUT)
        except WorkflowFailureError as exc:
            cause = exc.cause
            if isinstance(cause, ApplicationError) and cause.details:
                detail = cause.details[0]
                if isinstance(detail, dict):
                    return InstanceStatus.FAILED, None, detail
            return InstanceStatus.FAILED, None, {"type": "Failed", "message": str(cause)}
        return InstanceStatus.FAILED, None, {"type": "Failed", "message": "failed"}
    mapping = {
        "CANCELED": InstanceStatus.CANCELLED,
        "TERMINATED": InstanceStatus.TERMINATED,
        "TIMED_OUT": InstanceStatus.TIMED_OUT,
    }
    return mapping.get(temporal_status, InstanceStatus.FAILED), None, None


def _note(instance: WorkflowInstance, before: str, after: str, reason: str) -> None:
    InstanceEvent.objects.create(
        instance=instance,
        event_type="reconciled",
        occurred_at=timezone.now(),
        details={"from": before, "to": after, "reason": reason},
    )


def repair(instance: WorkflowInstance) -> bool:
    """Bring one open row in line with Temporal; True when something was repaired."""
    described = describe_workflow(instance.workflow_id)
    before = instance.status
    if described is None:
        # Starts of our own are re-issued in step 1; what is left never started in Temporal
        # (a subflow its parent did not start) or was lost by it.
        with transaction.atomic():
            changed = WorkflowInstance.objects.filter(
                pk=instance.pk, status__in=InstanceStatus.open_values()
            ).update(
                status=InstanceStatus.FAILED,
                error={
                    "type": "WorkflowMissing",
                    "message": "Temporal has no workflow for this instance (it never started, "
                    "or the namespace lost it).",
                    "state": None,
                },
                ended_at=timezone.now(),
                updated_at=timezone.now(),
            )
            if changed:
                _note(instance, before, InstanceStatus.FAILED, "no workflow in Temporal")
        return bool(changed)
    temporal_status = described.status.name if described.status else "RUNNING"
    if temporal_status == "RUNNING":
        if before != InstanceStatus.STARTING:
            # Running as the row says; its progress arrives with its next report.
            WorkflowInstance.objects.filter(pk=instance.pk).update(reconciled_at=timezone.now())
            return False
        # Running, but the row never heard of it (its start and first reports were lost).
        answer = _query_status(instance.workflow_id) or {}
        status = answer.get("status")
        change = InstanceChanged(
            instance_id=str(instance.pk),
            status=status
            if status in (InstanceStatus.RUNNING, InstanceStatus.WAITING)
            else InstanceStatus.RUNNING,
            current_states=list(answer.get("current_states") or []),
            timeline=list(answer.get("timeline") or []),
            visited_states=list(answer.get("visited_states") or []),
            seq=_last_seq(answer),
        )
        apply_instance_change(change)
        WorkflowInstance.objects.filter(pk=instance.pk, run_id="").update(run_id=described.run_id)
        _note(instance, before, change.status, "the workflow runs; the row had not heard of it")
        WorkflowInstance.objects.filter(pk=instance.pk).update(reconciled_at=timezone.now())
        return True
    answer = _query_status(instance.workflow_id)
    status, output, error = _outcome(instance.workflow_id, described.run_id, temporal_status)
    # The interpreter ends `end.terminate` and workflowExecTimeout runs as a completed
    # Temporal workflow; its own status says which.
    own = (answer or {}).get("status")
    if status == InstanceStatus.COMPLETED and own in (
        InstanceStatus.TERMINATED,
        InstanceStatus.TIMED_OUT,
    ):
        status = own
    change = InstanceChanged(
        instance_id=str(instance.pk),
        status=status,
        current_states=[],
        output=output,
        error=error,
        timeline=list((answer or {}).get("timeline") or []),
        visited_states=list((answer or {}).get("visited_states") or []),
        seq=_last_seq(answer or {}),
    )
    apply_instance_change(change)
    _note(instance, before, status, f"the workflow ended ({temporal_status.lower()}) unreported")
    WorkflowInstance.objects.filter(pk=instance.pk).update(reconciled_at=timezone.now())
    return True


def _last_seq(answer: dict[str, Any]) -> int:
    seqs = [e.get("seq") for e in answer.get("timeline") or [] if isinstance(e, dict)]
    return max([s for s in seqs if isinstance(s, int)], default=0)


def reconcile_instances(
    *, idle: timedelta = IDLE_BEFORE_CHECK, starting_grace: timedelta = STARTING_GRACE
) -> ReconcileReport:
    """One reconciliation pass (see the module docstring)."""
    report = ReconcileReport()
    if not _try_lock():
        report.skipped_locked = True
        return report
    try:
        now = timezone.now()
        starting = (
            WorkflowInstance.objects.filter(
                status=InstanceStatus.STARTING, start_requested_at__lt=now - starting_grace
            )
            .exclude(start_spec__kind="subflow")
            .values_list("pk", flat=True)[:BATCH]
        )
        for pk in list(starting):
            if dispatch_start(pk, check_existing=True):
                report.starts_reissued += 1
        report.events_resent = resend_pending_deliveries()
        report.task_signals_resent = hooks.resend_task_signals()
        candidates = list(
            WorkflowInstance.objects.filter(
                Q(reconciled_at__isnull=True) | Q(reconciled_at__lt=now - idle),
                status__in=InstanceStatus.open_values(),
                updated_at__lt=now - idle,
            )
            .exclude(status=InstanceStatus.STARTING, start_spec__kind__in=["start", "retry"])
            .order_by("reconciled_at", "updated_at")[:BATCH]
        )
        report.checked = len(candidates)
        if not candidates:
            return report
        running = running_workflow_ids() if len(candidates) > DESCRIBE_DIRECTLY else set()
        for instance in candidates:
            if instance.workflow_id in running:
                report.running_in_temporal += 1
                continue
            try:
                if repair(instance):
                    report.repaired.append(str(instance.pk))
            except Exception as exc:  # noqa: BLE001 - one row must not stop the pass
                log.warning("instance %s not reconciled: %s", instance.pk, exc)
        if report.repaired:
            log.info("reconciled %d instance(s)", len(report.repaired))
        return report
    finally:
        _unlock()
