"""The task's audit trail: one row per change (DESIGN rule 6), and the words for each."""

from __future__ import annotations

from typing import Any

from django.db import models

from apps.tasks.models import TaskEvent, UserTask


class TaskEventType(models.TextChoices):
    CREATED = "created", "Created"
    ASSIGNED = "assigned", "Assigned"
    CLAIMED = "claimed", "Claimed"
    UNCLAIMED = "unclaimed", "Unclaimed"
    DELEGATED = "delegated", "Delegated"
    RESOLVED = "resolved", "Resolved"
    DRAFT_SAVED = "draft_saved", "Draft saved"
    COMPLETED = "completed", "Completed"
    COMMENTED = "commented", "Commented"
    ATTACHED = "attached", "File attached"
    DETACHED = "detached", "Attached file deleted"
    DELETED = "deleted", "Deleted"
    TIMER_FIRED = "timer_fired", "Timer fired"
    REMINDED = "reminded", "Reminder sent"
    ESCALATED = "escalated", "Escalated"
    TIMED_OUT = "timed_out", "Timed out"
    CANCELLED = "cancelled", "Cancelled"
    # The engine's verdict (time-out, cancellation) came first: a completion or deletion that
    # reached the workflow too late is recorded here, and the row follows the workflow.
    SUPERSEDED = "superseded", "Superseded by the process"


def record(task: UserTask, event_type: str, *, actor=None, **details: Any) -> TaskEvent:
    """Write one audit row (inside the transaction that made the change)."""
    return TaskEvent.objects.create(
        task=task, event_type=TaskEventType(event_type).value, actor=actor, details=details
    )


_TEXT = {
    "created": "Task created",
    "assigned": "Assigned to {to}",
    "claimed": "Claimed",
    "unclaimed": "Put back in the queue",
    "delegated": "Delegated to {to}",
    "resolved": "Resolved back to {to}",
    "draft_saved": "Draft saved",
    "completed": "Completed with outcome {outcome}",
    "commented": "Comment added",
    "attached": "Attached {name}",
    "detached": "Deleted the attached file {name}",
    "deleted": "Deleted",
    "timer_fired": "Timer {timer} fired ({action})",
    "reminded": "Reminder sent",
    "escalated": "Escalated to {groups}",
    "timed_out": "Timed out",
    "cancelled": "Cancelled: {reason}",
    "superseded": "The process had already {by}; this {what} did not take effect",
}


class _Default(dict):
    def __missing__(self, key: str) -> str:
        return "?"


def describe(event: TaskEvent) -> str:
    """A sentence a person reads for one audit row (history in the inbox and the admin)."""
    details = dict(event.details or {})
    for key in ("to", "groups"):
        if isinstance(details.get(key), list):
            details[key] = ", ".join(str(v) for v in details[key]) or "nobody"
        elif key in details and details[key] in (None, ""):
            details[key] = "nobody"
    text = _TEXT.get(event.event_type, event.event_type.replace("_", " ").capitalize())
    text = text.format_map(_Default(details))
    if event.event_type == "created" and isinstance(details.get("corrected"), dict):
        text += (
            " (corrected: " + "; ".join(f"{k} {v}" for k, v in details["corrected"].items()) + ")"
        )
    if details.get("unknown_assignee"):
        text += f" (no active user '{details['unknown_assignee']}': left unassigned)"
    if event.actor_id:
        text += " by " + event.actor.get_username()
    return text
