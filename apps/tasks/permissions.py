"""Who sees a task and what they may do with it now: the one helper the API, admin and inbox use.

Seeing: the assignee, the owner (delegation), whoever completed it, its candidate users and
the members of its candidate groups; operators (`tasks.view_usertask`) and managers
(`tasks.assign_usertask`, who cannot assign what they cannot find) see every task. Nobody
else — lists and details are both scoped by `visible_tasks`, so a task one has no part in is
"not found", not "forbidden".

Doing: `check(task, user, action)` reads the transition table (lifecycle.py): the wrong
status is a 409, a visible task the user has no right to act on is a 403, each with the
reason; `available_actions` lists what passes.
"""

from __future__ import annotations

from django.db.models import Q, QuerySet

from apps.core.errors import Conflict, NotFound, ServiceError
from apps.tasks.error_codes import TaskErrorCode
from apps.tasks.lifecycle import TRANSITIONS, USER_ACTIONS, Rule, TaskAction, TaskStatus
from apps.tasks.models import UserTask

VIEW_ALL = "tasks.view_usertask"
ASSIGN = "tasks.assign_usertask"
DELETE = "tasks.delete_usertask"


def group_names(user) -> frozenset[str]:
    """The user's group names, looked up once per user object (one query per request)."""
    if user is None or not user.is_authenticated:
        return frozenset()
    cached = getattr(user, "_xflow_group_names", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._xflow_group_names = cached
    return cached


def sees_all(user) -> bool:
    return bool(user and user.is_authenticated and (user.has_perm(VIEW_ALL) or is_manager(user)))


def is_manager(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(ASSIGN))


def is_operator(user) -> bool:
    return bool(user and user.is_authenticated and user.has_perm(DELETE))


def visible_tasks(user, queryset: QuerySet | None = None) -> QuerySet:
    """The tasks this user may see (every list and detail starts here)."""
    qs = UserTask.objects.all() if queryset is None else queryset
    if user is None or not user.is_authenticated:
        return qs.none()
    if sees_all(user):
        return qs
    return qs.filter(UserTask.objects.participation(user, group_names(user)))


NOT_FOUND_MESSAGE = "There is no such task, or it is not yours to see."


def access_task(user, pk, queryset: QuerySet | None = None) -> UserTask:
    """The task if the user may see it; otherwise "not found" (its existence is not told)."""
    task = visible_tasks(user, queryset).filter(pk=pk).first()
    if task is None:
        raise NotFound(NOT_FOUND_MESSAGE, code=TaskErrorCode.TASK_NOT_FOUND)
    return task


def is_candidate(task: UserTask, user) -> bool:
    if user is None or not user.is_authenticated:
        return False
    if user.get_username() in (task.candidate_users or []):
        return True
    return bool(group_names(user) & set(task.candidate_groups or []))


def can_view(task: UserTask, user) -> bool:
    """`visible_tasks` for one task, cheapest checks first (the perms lookup last)."""
    if user is None or not user.is_authenticated:
        return False
    if user.pk in {task.assignee_id, task.owner_id, task.completed_by_id}:
        return True
    return is_candidate(task, user) or sees_all(user)


def has_role(task: UserTask, user, rule: str) -> bool:
    """Does the user hold the role a transition asks for (status aside)?"""
    if rule == Rule.ENGINE:
        return user is None
    if user is None or not user.is_authenticated:
        return False
    is_assignee = task.assignee_id is not None and task.assignee_id == user.pk
    if rule == Rule.CANDIDATE:
        return is_candidate(task, user)
    if rule == Rule.ASSIGNEE:
        return is_assignee
    if rule == Rule.ASSIGNEE_OR_MANAGER:
        return is_assignee or is_manager(user)
    if rule == Rule.MANAGER:
        return is_manager(user)
    if rule == Rule.PARTICIPANT:
        return can_view(task, user)
    if rule == Rule.OPERATOR:
        return is_operator(user)
    if rule == Rule.CONTRIBUTOR:
        if is_assignee or (task.owner_id is not None and task.owner_id == user.pk):
            return True
        if task.status == TaskStatus.UNASSIGNED and is_candidate(task, user):
            return True
        return is_operator(user)
    return False


def _who(task: UserTask) -> str:
    return task.assignee.get_username() if task.assignee_id else "nobody"


def _status_reason(task: UserTask, action: str) -> str:
    status = task.get_status_display().lower()
    if task.status in TaskStatus.closed_values():
        return f"This task is {status}; it can no longer be changed."
    if action == TaskAction.CLAIM:
        return f"This task is already assigned to {_who(task)}; it cannot be claimed."
    if action == TaskAction.COMPLETE and task.status == TaskStatus.DELEGATED:
        return "This task is delegated: resolve it back to its owner, who completes it."
    if action == TaskAction.RESOLVE:
        return "This task is not delegated; there is nothing to resolve."
    if action == TaskAction.UNCLAIM and task.status == TaskStatus.DELEGATED:
        return "This task is delegated: resolve it back to its owner before unclaiming it."
    if action == TaskAction.UNCLAIM:
        return "This task is not assigned to anyone; there is nothing to unclaim."
    if action == TaskAction.DELEGATE and task.status == TaskStatus.DELEGATED:
        return "This task is already delegated; resolve it before delegating it again."
    if task.status == TaskStatus.UNASSIGNED:
        return "This task is not assigned to anyone yet: claim it first."
    return f"This is not possible while the task is {status}."


_ROLE_REASONS = {
    Rule.CANDIDATE: "Only the task's candidate users and members of its candidate groups may "
    "claim it.",
    Rule.ASSIGNEE: "Only the task's assignee ({who}) may do this.",
    Rule.ASSIGNEE_OR_MANAGER: "Only the task's assignee ({who}) or a manager may unclaim it.",
    Rule.MANAGER: "Only managers (permission tasks.assign_usertask) may assign tasks.",
    Rule.PARTICIPANT: "You have no part in this task.",
    Rule.OPERATOR: "Only operators (permission tasks.delete_usertask) may delete tasks.",
    Rule.CONTRIBUTOR: "Only the task's assignee ({who}), the owner of a delegated task, its "
    "candidates while it is unassigned, and operators (permission tasks.delete_usertask) may "
    "attach files to it.",
    Rule.ENGINE: "Only the workflow engine does this.",
}


def check(task: UserTask, user, action: str):
    """The transition of `action` if the user may take it now; else why not: 404 (the user
    does not see the task), 409 (not in this status), 403 (no right to this action)."""
    transition = TRANSITIONS[action]
    if transition.rule != Rule.ENGINE and not can_view(task, user):
        raise NotFound(NOT_FOUND_MESSAGE, code=TaskErrorCode.TASK_NOT_FOUND)
    if task.status not in transition.sources:
        raise Conflict(_status_reason(task, action), code=TaskErrorCode.WRONG_STATUS)
    if not has_role(task, user, transition.rule):
        raise ServiceError(
            _ROLE_REASONS[transition.rule].format(who=_who(task)),
            code=TaskErrorCode.NOT_ALLOWED,
            status=403,
        )
    return transition


def allowed(task: UserTask, user, action: str) -> bool:
    transition = TRANSITIONS[action]
    return task.status in transition.sources and has_role(task, user, transition.rule)


def available_actions(task: UserTask, user) -> list[str]:
    """What this user may do with this task now (API `allowedActions`, inbox buttons, admin)."""
    return [a for a in USER_ACTIONS if allowed(task, user, a)]


# --- for the workflows app --------------------------------------------------------------


def instances_with_tasks_for(user) -> Q:
    """A filter on WorkflowInstance: instances in which the user has a task they may see.

    For `apps/workflows/permissions.py`:
    `qs.filter(Q(started_by=user) | instances_with_tasks_for(user))`.
    """
    if user is None or not user.is_authenticated:
        return Q(pk__in=[])
    tasks = visible_tasks(user).filter(instance__isnull=False).values("instance_id")
    return Q(pk__in=tasks)


def can_view_instance(user, instance) -> bool:
    """A user who has a task in an instance may view that instance."""
    if user is None or not user.is_authenticated:
        return False
    return visible_tasks(user).filter(instance_id=instance.pk).exists()
