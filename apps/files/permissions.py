"""Who may read and delete a stored file: the one helper the API, the admin and the inbox use.

Reading: the file's owner (who uploaded it); whoever sees its task (the tasks app's rule:
assignee, owner, completer, candidates, operators of tasks); whoever sees its instance (the
workflows app's rule: who started it, who has a task in it, instance viewers); operators of
files (`files.view_storedfile`). A deleted file is read by file operators only.

Deleting (soft): the owner, or an operator holding `files.delete_storedfile`.

What a user may not read is "not found" (its existence is not told); what they read but may
not delete is a 403 with the reason.
"""

from __future__ import annotations

import uuid

from django.db.models import Q, QuerySet

from apps.core.errors import NotFound, ServiceError
from apps.files.error_codes import FileErrorCode
from apps.files.models import StoredFile
from apps.tasks import permissions as task_permissions
from apps.workflows import permissions as workflow_permissions

VIEW_ALL = "files.view_storedfile"
DELETE_ANY = "files.delete_storedfile"

NOT_FOUND_MESSAGE = "There is no such file, or it is not yours to see."


def _signed_in(user) -> bool:
    return bool(user and user.is_authenticated and user.is_active)


def is_operator(user) -> bool:
    return _signed_in(user) and user.has_perm(VIEW_ALL)


def visible_files(user, queryset: QuerySet | None = None) -> QuerySet:
    """The files this user may read (every list and detail starts here)."""
    qs = StoredFile.objects.all() if queryset is None else queryset
    if not _signed_in(user):
        return qs.none()
    if is_operator(user):
        return qs
    tasks = task_permissions.visible_tasks(user).values("pk")
    instances = workflow_permissions.visible_instances(user).values("pk")
    return qs.live().filter(Q(owner_id=user.pk) | Q(task__in=tasks) | Q(instance__in=instances))


def not_found() -> NotFound:
    return NotFound(NOT_FOUND_MESSAGE, code=FileErrorCode.FILE_NOT_FOUND)


def access_file(user, pk, queryset: QuerySet | None = None) -> StoredFile:
    """The file if the user may read it; otherwise "not found"."""
    try:
        pk = uuid.UUID(str(pk))
    except ValueError:
        raise not_found() from None
    found = visible_files(user, queryset).filter(pk=pk).first()
    if found is None:
        raise not_found()
    return found


def can_view(file: StoredFile, user) -> bool:
    """`visible_files` for one file, cheapest checks first."""
    if not _signed_in(user):
        return False
    if is_operator(user):
        return True
    if file.is_deleted:
        return False
    if file.owner_id == user.pk:
        return True
    if file.task_id and task_permissions.can_view(file.task, user):
        return True
    if file.instance_id:
        return workflow_permissions.visible_instances(user).filter(pk=file.instance_id).exists()
    return False


def can_delete(file: StoredFile, user) -> bool:
    if not _signed_in(user) or file.is_deleted:
        return False
    return file.owner_id == user.pk or user.has_perm(DELETE_ANY)


def check_delete(file: StoredFile, user) -> None:
    """404 when the user may not read the file, 403 when they read it but may not delete it."""
    if not can_view(file, user):
        raise not_found()
    if not can_delete(file, user):
        raise ServiceError(
            "Only the person who uploaded this file, or a files operator "
            "(permission files.delete_storedfile), may delete it.",
            code=FileErrorCode.NOT_ALLOWED,
            status=403,
        )
