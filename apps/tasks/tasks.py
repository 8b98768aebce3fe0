"""Celery tasks of the tasks app."""

from __future__ import annotations

from celery import shared_task


@shared_task(
    name="xflow.tasks.send_task_mail",
    ignore_result=True,
    autoretry_for=(OSError,),  # the mail server is unreachable: try again later
    retry_backoff=30,
    max_retries=5,
)
def send_task_mail(task_id: str, kind: str, exclude_id: int | None = None) -> int:
    """Email the people a task now concerns (assigned, claimable, reminder)."""
    from apps.tasks.mail import send_task_mail as send

    return send(task_id, kind, exclude_id)


@shared_task(name="xflow.tasks.resend_signals", ignore_result=True)
def resend_signals() -> int:
    """The relay of task completions not yet acknowledged by Temporal (also run by the
    instance reconciler's pass)."""
    from apps.tasks.services.resume import resend_pending_signals

    return resend_pending_signals()
