"""A user task's lifecycle: its statuses, the actions on it, and the one transition table.

Who may take an action is decided by `permissions.available_actions`, which reads this
table: the API, the admin and the inbox all ask it, so they never disagree (DESIGN rule 2).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import models


class TaskStatus(models.TextChoices):
    UNASSIGNED = "unassigned", "Unassigned"  # in the queue of its candidates
    ASSIGNED = "assigned", "Assigned"
    # The owner handed it to a delegate, who works on it and resolves it back.
    DELEGATED = "delegated", "Delegated"
    COMPLETED = "completed", "Completed"
    DELETED = "deleted", "Deleted"  # by an operator: the process takes onTaskDeleted
    TIMED_OUT = "timed_out", "Timed out"  # taskTimeout: the process takes onTaskTimeout
    CANCELLED = "cancelled", "Cancelled"  # its instance ended without it

    @classmethod
    def open_values(cls) -> list[str]:
        return [cls.UNASSIGNED, cls.ASSIGNED, cls.DELEGATED]

    @classmethod
    def closed_values(cls) -> list[str]:
        return [cls.COMPLETED, cls.DELETED, cls.TIMED_OUT, cls.CANCELLED]


class TaskAction(models.TextChoices):
    """What people do to a task (the API's POST actions and the admin's)."""

    CLAIM = "claim", "Claim"
    UNCLAIM = "unclaim", "Unclaim"
    ASSIGN = "assign", "Assign"
    DELEGATE = "delegate", "Delegate"
    RESOLVE = "resolve", "Resolve"
    DRAFT = "draft", "Save draft"
    COMPLETE = "complete", "Complete"
    COMMENT = "comment", "Comment"
    ATTACH = "attach", "Attach a file"
    DELETE = "delete", "Delete"


class Rule(models.TextChoices):
    """Who may take an action (evaluated by `permissions.has_role`)."""

    CANDIDATE = "candidate"  # a candidate user, or a member of a candidate group
    ASSIGNEE = "assignee"
    ASSIGNEE_OR_MANAGER = "assignee_or_manager"
    MANAGER = "manager"  # holds tasks.assign_usertask
    PARTICIPANT = "participant"  # anyone who may see the task
    # Attach files: the assignee, the owner of a delegated task, a files-or-tasks operator,
    # and a candidate while the task waits in their queue (see permissions.has_role).
    CONTRIBUTOR = "contributor"
    OPERATOR = "operator"  # holds tasks.delete_usertask
    ENGINE = "engine"  # the workflow side (activities), never a person


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str | None  # None: the status stays (or depends on the arguments, see `assign`)
    rule: str


S = TaskStatus
OPEN = frozenset(S.open_values())
ANY = frozenset(S.values)

TRANSITIONS: dict[str, Transition] = {
    TaskAction.CLAIM: Transition(frozenset({S.UNASSIGNED}), S.ASSIGNED, Rule.CANDIDATE),
    TaskAction.UNCLAIM: Transition(frozenset({S.ASSIGNED}), S.UNASSIGNED, Rule.ASSIGNEE_OR_MANAGER),
    # To someone: assigned; to nobody: back to the queue. Ends a pending delegation.
    TaskAction.ASSIGN: Transition(OPEN, None, Rule.MANAGER),
    TaskAction.DELEGATE: Transition(frozenset({S.ASSIGNED}), S.DELEGATED, Rule.ASSIGNEE),
    TaskAction.RESOLVE: Transition(frozenset({S.DELEGATED}), S.ASSIGNED, Rule.ASSIGNEE),
    TaskAction.DRAFT: Transition(frozenset({S.ASSIGNED, S.DELEGATED}), None, Rule.ASSIGNEE),
    # A delegated task is resolved back to its owner first, who completes it (BPMN/Camunda).
    TaskAction.COMPLETE: Transition(frozenset({S.ASSIGNED}), S.COMPLETED, Rule.ASSIGNEE),
    TaskAction.COMMENT: Transition(ANY, None, Rule.PARTICIPANT),
    TaskAction.ATTACH: Transition(OPEN, None, Rule.CONTRIBUTOR),
    TaskAction.DELETE: Transition(OPEN, S.DELETED, Rule.OPERATOR),
    # The workflow side.
    "timeout": Transition(OPEN, S.TIMED_OUT, Rule.ENGINE),
    "cancel": Transition(OPEN, S.CANCELLED, Rule.ENGINE),
    "escalate": Transition(OPEN, S.UNASSIGNED, Rule.ENGINE),
    "remind": Transition(OPEN, None, Rule.ENGINE),
}

USER_ACTIONS: tuple[str, ...] = tuple(TaskAction.values)

# Lifecycle events a definition's listeners may name (xflow-extensions.json `taskEvent`).
LIFECYCLE_EVENTS = (
    "created",
    "assigned",
    "claimed",
    "completed",
    "deleted",
    "timed_out",
    "escalated",
)
