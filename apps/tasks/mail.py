"""Task emails: who gets one and what it says (sent by the Celery task in tasks.py)."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mass_mail
from django.db.models import Q

from apps.tasks.models import UserTask

KINDS = ("assigned", "claimable", "reminder")


def inbox_url(task: UserTask) -> str:
    base = getattr(settings, "XFLOW_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
    return f"{base}/inbox/tasks/{task.pk}/"


def candidates(task: UserTask):
    """Active users who may claim the task: candidate users and candidate groups' members."""
    who = Q(username__in=task.candidate_users or [])
    if task.candidate_groups:
        who |= Q(groups__name__in=task.candidate_groups)
    return get_user_model().objects.filter(who, is_active=True).distinct()


def recipients(task: UserTask, kind: str, exclude_id: int | None = None) -> list:
    if kind == "assigned" or (kind == "reminder" and task.assignee_id):
        users = [task.assignee] if task.assignee_id and task.assignee.is_active else []
    else:
        users = list(candidates(task))
    return [u for u in users if u.email and u.pk != exclude_id]


def _message(task: UserTask, kind: str) -> tuple[str, str]:
    due = f"\nDue: {task.due_at:%Y-%m-%d %H:%M %Z}" if task.due_at else ""
    subject, lead = {
        "assigned": ("Task assigned to you", "A task was assigned to you:"),
        "claimable": ("New task in your queue", "A task you may claim is waiting in your queue:"),
        "reminder": ("Reminder", "A task is still waiting for you:"),
    }[kind]
    body = (
        f"{lead}\n\n  {task.title}\n\nPriority: {task.priority}{due}\nOpen it: {inbox_url(task)}\n"
    )
    return f"[xflow] {subject}: {task.title}"[:200], body


def send_task_mail(task_id: str, kind: str, exclude_id: int | None = None) -> int:
    """Send the email of `kind` about the task as it is now; the number of recipients."""
    task = UserTask.objects.select_related("assignee").filter(pk=task_id).first()
    if task is None or not task.is_open or kind not in KINDS:
        return 0  # closed meanwhile: nothing to ask of anyone
    users = recipients(task, kind, exclude_id)
    if not users:
        return 0
    subject, body = _message(task, kind)
    # One message per person: addresses of colleagues are not shared.
    send_mass_mail(
        [(subject, body, settings.DEFAULT_FROM_EMAIL, [u.email]) for u in users],
        fail_silently=False,
    )
    return len(users)
