"""Changing who may start a definition (its starter groups), with an audit row."""

from __future__ import annotations

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.db import transaction

from apps.core.errors import NotFound, ServiceError
from apps.workflows.error_codes import WorkflowErrorCode
from apps.workflows.models import DefinitionAccess, DefinitionEvent, WorkflowDefinition


def starter_group_names(key: str) -> list[str]:
    access = DefinitionAccess.objects.filter(key=key).first()
    return sorted(g.name for g in access.starter_groups.all()) if access else []


@transaction.atomic
def do_set_starter_groups(
    *, key: str, groups: Iterable[Group | str], user=None
) -> DefinitionAccess:
    """Replace the groups whose members may start `key`; empty leaves it to staff."""
    newest = WorkflowDefinition.objects.filter(key=key).order_by("-created_at").first()
    if newest is None:
        raise NotFound(
            f"There is no definition '{key}'.", code=WorkflowErrorCode.DEFINITION_NOT_FOUND
        )
    names = sorted({g.name if isinstance(g, Group) else str(g) for g in groups})
    found = list(Group.objects.filter(name__in=names))
    unknown = sorted(set(names) - {g.name for g in found})
    if unknown:
        raise ServiceError(
            f"There is no group named {', '.join(unknown)}.", fields={"groups": unknown}
        )
    access, _ = DefinitionAccess.objects.select_for_update().get_or_create(key=key)
    before = sorted(access.starter_groups.values_list("name", flat=True))
    if before != names:
        access.starter_groups.set(found)
        access.updated_by = user
        access.save(update_fields=["updated_by", "updated_at"])
        # On the newest version, where the admin shows a definition's history.
        DefinitionEvent.objects.create(
            definition=newest,
            event_type="starters_changed",
            actor=user,
            details={"before": before, "after": names},
        )
    return access
