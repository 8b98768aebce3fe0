"""Who may do what with definitions, instances and secrets: one helper per resource.

The API, the admin and (later) the inbox call these and nothing else; docs/permissions.md
shows the matrix they implement. Refusals follow one rule: what a user may not see is a 404
(its existence is not revealed), what they may see but not do is a 403, and what they may do
but not in the instance's current state is a 409.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from apps.core.errors import Conflict, ErrorCode, NotFound, ServiceError
from apps.workflows.error_codes import WorkflowErrorCode
from apps.workflows.models import (
    DefinitionAccess,
    DefinitionStatus,
    InstanceStatus,
    WorkflowDefinition,
    WorkflowInstance,
)

VIEW_DEFINITION = "workflows.view_workflowdefinition"
ADD_DEFINITION = "workflows.add_workflowdefinition"
CHANGE_DEFINITION = "workflows.change_workflowdefinition"
START_INSTANCE = "workflows.add_workflowinstance"
VIEW_INSTANCE = "workflows.view_workflowinstance"
CHANGE_INSTANCE = "workflows.change_workflowinstance"
SEND_EVENT = "workflows.add_inboundevent"
RETRY_OUTBOX = "workflows.change_outboxevent"
REPLAY_DEAD_LETTER = "workflows.change_deadletter"


def denied(message: str) -> ServiceError:
    return ServiceError(message, code=ErrorCode.PERMISSION_DENIED, status=403)


def _signed_in(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


# --- definitions --------------------------------------------------------------------------


def can_read_definitions(user) -> bool:
    """Every version of every definition with its source, document, issues and exports."""
    # As in the admin, the change permission includes viewing.
    return _signed_in(user) and (user.has_perm(VIEW_DEFINITION) or user.has_perm(CHANGE_DEFINITION))


def can_upload_definitions(user) -> bool:
    """Save (and validate) new definition versions."""
    return _signed_in(user) and user.has_perm(ADD_DEFINITION)


def can_change_definitions(user) -> bool:
    """Publish, archive, mark latest, and set who may start a definition."""
    return _signed_in(user) and user.has_perm(CHANGE_DEFINITION)


def starts_everything(user) -> bool:
    """Staff with the start permission may start any published definition."""
    return (
        _signed_in(user) and (user.is_superuser or user.is_staff) and user.has_perm(START_INSTANCE)
    )


def startable_keys(user) -> set[str] | None:
    """Definition keys the user may start; None means every key."""
    if not _signed_in(user):
        return set()
    if starts_everything(user):
        return None
    return set(
        DefinitionAccess.objects.filter(starter_groups__user=user).values_list("key", flat=True)
    )


def can_start(user, key: str) -> bool:
    """Start instances of `key`: staff with the permission, or a member of a starter group."""
    keys = startable_keys(user)
    return keys is None or key in keys


def visible_definitions(user) -> QuerySet[WorkflowDefinition]:
    """Versions the user sees: all for readers; the published ones they may start otherwise."""
    rows = WorkflowDefinition.objects.all()
    if can_read_definitions(user):
        return rows
    rows = rows.filter(status=DefinitionStatus.PUBLISHED)
    keys = startable_keys(user)
    return rows if keys is None else rows.filter(key__in=keys)


def _no_definition(key: str, version: str | None = None) -> NotFound:
    message = (
        f"Definition '{key}' has no version {version}."
        if version
        else f"There is no definition '{key}'."
    )
    return NotFound(message, code=WorkflowErrorCode.DEFINITION_NOT_FOUND)


def access_definition(user, key: str, version: str, *, source: bool = False) -> WorkflowDefinition:
    """The version if the user may see it (else 404); `source` also needs reader rights (403)."""
    definition = visible_definitions(user).filter(key=key, version=version).first()
    if definition is None:
        raise _no_definition(key, version)
    if source and not can_read_definitions(user):
        raise denied("You may start this definition but not read its source.")
    return definition


def require_start(user, key: str) -> None:
    """Refuse a start: 404 when the user may not even see the key, 403 when only reading."""
    if can_start(user, key):
        return
    if visible_definitions(user).filter(key=key).exists():
        raise denied(f"You are not allowed to start '{key}'.")
    raise _no_definition(key)


def require_upload(user) -> None:
    if not can_upload_definitions(user):
        raise denied("You are not allowed to upload definitions.")


def require_change_definitions(user) -> None:
    if not can_change_definitions(user):
        raise denied("You are not allowed to change definitions.")


def require_read_definitions(user) -> None:
    if not can_read_definitions(user):
        raise denied("You are not allowed to read definitions' sources and settings.")


# --- instances ----------------------------------------------------------------------------


def can_see_all_instances(user) -> bool:
    return _signed_in(user) and (user.has_perm(VIEW_INSTANCE) or user.has_perm(CHANGE_INSTANCE))


def _taking_part(user) -> Q:
    """Instances a user sees without the view permission: the ones they started and the ones
    they have (or had) a task in that they may see. Every view of instances comes here."""
    from apps.tasks.permissions import instances_with_tasks_for  # tasks builds on workflows

    return Q(started_by=user) | instances_with_tasks_for(user)


def visible_instances(user) -> QuerySet[WorkflowInstance]:
    """Instances the user may see: all with the view permission, else the ones they take part in."""
    rows = WorkflowInstance.objects.with_definition()
    if can_see_all_instances(user):
        return rows
    if not _signed_in(user):
        return rows.none()
    return rows.filter(_taking_part(user))


def access_instance(user, pk) -> WorkflowInstance:
    """The instance if the user may see it; otherwise 404, as if it did not exist."""
    try:
        instance = visible_instances(user).filter(pk=pk).first()
    except (ValueError, TypeError, ValidationError):  # a malformed id in a URL
        instance = None
    if instance is None:
        raise NotFound(
            "There is no instance with this id.", code=WorkflowErrorCode.INSTANCE_NOT_FOUND
        )
    return instance


OPEN = frozenset(InstanceStatus.open_values())
FAILED = frozenset({InstanceStatus.FAILED, InstanceStatus.TIMED_OUT})
ANY = frozenset(InstanceStatus.values)


def _operator(user, instance: WorkflowInstance) -> bool:
    return _signed_in(user) and user.has_perm(CHANGE_INSTANCE)


def _operator_who_may_start(user, instance: WorkflowInstance) -> bool:
    return _operator(user, instance) and can_start(user, instance.definition_key)


def _failed_in_a_state(instance: WorkflowInstance) -> str | None:
    if not (instance.error or {}).get("state"):
        return (
            "The failure is not tied to a state (e.g. the whole workflow timed out); "
            "restart the instance instead."
        )
    return None


@dataclass(frozen=True)
class Transition:
    """One instance action: the statuses it starts from, who may take it, and a last guard."""

    sources: frozenset[str]
    allowed: Callable[[object, WorkflowInstance], bool]
    refusal: str  # the 403 message
    not_now: str  # the 409 message when the status is not a source
    not_now_code: WorkflowErrorCode
    guard: Callable[[WorkflowInstance], str | None] | None = None


# The lifecycle table: the API, the admin's buttons and bulk actions all read it.
INSTANCE_ACTIONS: dict[str, Transition] = {
    "cancel": Transition(
        OPEN,
        _operator,
        "You are not allowed to cancel instances.",
        "The instance is already {status}; it cannot be cancelled.",
        WorkflowErrorCode.INSTANCE_NOT_OPEN,
    ),
    "terminate": Transition(
        OPEN,
        _operator,
        "You are not allowed to terminate instances.",
        "The instance is already {status}; it cannot be terminated.",
        WorkflowErrorCode.INSTANCE_NOT_OPEN,
    ),
    "retry": Transition(
        FAILED,
        _operator,
        "You are not allowed to retry instances.",
        "Only a failed or timed-out instance can be retried; this one is {status}.",
        WorkflowErrorCode.INSTANCE_NOT_FAILED,
        guard=_failed_in_a_state,
    ),
    "restart": Transition(
        ANY,
        _operator_who_may_start,
        "You are not allowed to restart instances of this definition.",
        "The instance is {status}; it cannot be restarted.",
        WorkflowErrorCode.INSTANCE_NOT_OPEN,
    ),
}


def available_actions(instance: WorkflowInstance, user) -> list[str]:
    """The actions this user may take on this instance now, in table order."""
    return [
        name
        for name, t in INSTANCE_ACTIONS.items()
        if instance.status in t.sources
        and t.allowed(user, instance)
        and (t.guard is None or t.guard(instance) is None)
    ]


def require_instance_action(instance: WorkflowInstance, user, action: str) -> None:
    """403 when the user may not take `action`, 409 when the instance's status forbids it."""
    transition = INSTANCE_ACTIONS.get(action)
    if transition is None:
        raise NotFound(f"There is no instance action '{action}'.")
    if not transition.allowed(user, instance):
        raise denied(transition.refusal)
    if instance.status not in transition.sources:
        raise Conflict(
            transition.not_now.format(status=instance.get_status_display().lower()),
            code=transition.not_now_code,
        )
    problem = transition.guard(instance) if transition.guard else None
    if problem:
        raise Conflict(problem, code=transition.not_now_code)


# --- secrets ------------------------------------------------------------------------------

SECRET_ACTIONS = {"view", "add", "change", "delete"}


def can_manage_secrets(user, action: str) -> bool:
    """Secrets by model permission (view/add/change/delete_secret), in the API and the admin."""
    assert action in SECRET_ACTIONS, action
    return _signed_in(user) and user.has_perm(f"workflows.{action}_secret")


def require_secrets(user, action: str) -> None:
    if not can_manage_secrets(user, action):
        verb = {"view": "list", "add": "add", "change": "overwrite", "delete": "delete"}[action]
        raise denied(f"You are not allowed to {verb} secrets.")


# --- events -------------------------------------------------------------------------------


def can_operate_events(user, action: str) -> bool:
    """The event plumbing's operator actions: `retry` outbox rows, `replay` or `discard`
    dead letters."""
    perm = RETRY_OUTBOX if action == "retry" else REPLAY_DEAD_LETTER
    if action not in ("retry", "replay", "discard"):
        raise ValueError(f"unknown event operation {action!r}")
    return _signed_in(user) and user.has_perm(perm)


def require_send_events(user) -> None:
    if not (_signed_in(user) and user.has_perm(SEND_EVENT)):
        raise denied("You are not allowed to send events.")
