"""Celery tasks of the workflows app."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="xflow.workflows.reconcile", ignore_result=True)
def reconcile() -> dict:
    """One reconciler pass (scheduled by Celery beat; see services.reconcile)."""
    from apps.workflows.services.reconcile import reconcile_instances

    return reconcile_instances().as_dict()


@shared_task(name="xflow.workflows.purge_event_records", ignore_result=True)
def purge_event_records() -> dict:
    """Delete event records past their retention (scheduled by Celery beat; see
    services.retention)."""
    from apps.workflows.services.retention import purge_event_records as purge

    return purge()
