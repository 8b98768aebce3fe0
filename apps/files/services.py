"""The file service: every change to a stored file goes through one of these (DESIGN rule 1).

An upload is checked (present, not empty, within the size limit, of an accepted type), its
bytes are written to storage outside any transaction, then its row, its audit row and, for
an attachment, the task's link and audit row commit together. If that transaction fails the
bytes are removed again: no row points at nothing, and nothing is left behind unrecorded.
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.utils import timezone

from apps.core.errors import ServiceError, Unavailable
from apps.files import permissions
from apps.files.error_codes import FileErrorCode
from apps.files.models import FileEvent, StoredFile
from apps.files.naming import sanitise_filename
from apps.files.sniff import sniff
from apps.files.storage import file_storage, new_key

log = logging.getLogger("xflow.files")


class FileEventType(models.TextChoices):
    UPLOADED = "uploaded", "Uploaded"
    ATTACHED = "attached", "Attached to a task"
    DELETED = "deleted", "Deleted"


def record(file: StoredFile, event_type: str, *, actor=None, **details: Any) -> FileEvent:
    """Write one audit row (inside the transaction that made the change)."""
    return FileEvent.objects.create(
        file=file, event_type=FileEventType(event_type).value, actor=actor, details=details
    )


def too_large_error(limit: int | None = None) -> ServiceError:
    limit = settings.XFLOW_FILE_MAX_BYTES if limit is None else limit
    return ServiceError(
        f"The file is larger than {limit:,} bytes, the most this platform accepts.",
        code=FileErrorCode.FILE_TOO_LARGE,
        status=413,
        fields={"file": [f"larger than {limit:,} bytes"]},
    )


def missing_error() -> ServiceError:
    return ServiceError(
        "Send the file as a multipart/form-data part named 'file'.",
        code=FileErrorCode.FILE_MISSING,
        fields={"file": ["No file was sent."]},
    )


def check_content_type(content_type: str) -> None:
    """Refuse what the deny list names, and what the allow list (when set) does not."""
    allowed = settings.XFLOW_FILE_ALLOWED_TYPES
    denied = settings.XFLOW_FILE_DENIED_TYPES
    family = content_type.split("/", 1)[0] + "/*"
    refused = content_type in denied or family in denied
    if allowed and content_type not in allowed and family not in allowed:
        refused = True
    if refused:
        raise ServiceError(
            f"Files of type {content_type} are not accepted here"
            + (" (programs and scripts are refused)." if content_type in denied else "."),
            code=FileErrorCode.FILE_TYPE_REFUSED,
            status=415,
            fields={"file": [f"type {content_type} refused"]},
        )


def _sha256(upload) -> str:
    """The hash the upload handler computed while receiving, else read chunk by chunk."""
    known = getattr(upload, "sha256", None)
    if known:
        return known
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    return digest.hexdigest()


def _store(key: str, upload) -> str:
    try:
        return file_storage().save(key, upload)
    except Exception as exc:  # noqa: BLE001 - OSError, botocore's errors: the store is down
        log.warning("storing %s failed: %s", key, exc)
        raise Unavailable(
            "The file could not be stored right now; nothing was saved. Try again later.",
            code=FileErrorCode.STORAGE_UNAVAILABLE,
        ) from exc


def _discard(key: str) -> None:
    try:
        file_storage().delete(key)
    except Exception as exc:  # noqa: BLE001 - an orphan blob is logged, never a failed request
        log.warning("could not remove %s after a failed upload: %s", key, exc)


def do_upload_file(*, user, upload, task=None, instance=None) -> StoredFile:
    """Store an uploaded file for `user`; with `task`, attach it to that task (which also
    links it to the task's instance); with `instance`, link it to that instance."""
    if upload is None:
        raise missing_error()
    try:
        return _upload(user=user, upload=upload, task=task, instance=instance)
    finally:
        # The temporary copy goes now (filesystem storage may have moved it into place).
        upload.close()


def _upload(*, user, upload, task, instance) -> StoredFile:
    from apps.tasks import permissions as task_permissions
    from apps.tasks.lifecycle import TaskAction
    from apps.tasks.services import do_attach_file

    limit = settings.XFLOW_FILE_MAX_BYTES
    if upload.size is None or upload.size > limit:
        raise too_large_error(limit)
    if upload.size == 0:
        raise ServiceError(
            "The file is empty (0 bytes); choose a file with content.",
            code=FileErrorCode.FILE_EMPTY,
            fields={"file": ["The file is empty."]},
        )
    if task is not None:
        # Before the bytes are stored; checked again under the task's lock below.
        task_permissions.check(task, user, TaskAction.ATTACH)
    content_type = sniff(upload.file)
    check_content_type(content_type)
    sha256 = _sha256(upload)
    upload.seek(0)  # storage reads from where the hashing left off otherwise
    name = sanitise_filename(upload.name)
    file_id = uuid.uuid4()
    upload.content_type = content_type  # what S3 stores as the object's type
    key = _store(new_key(file_id), upload)
    try:
        with transaction.atomic():
            stored = StoredFile.objects.create(
                id=file_id,
                name=name,
                content_type=content_type,
                size=upload.size,
                sha256=sha256,
                storage_key=key,
                owner=user,
                instance=instance,
            )
            record(
                stored,
                FileEventType.UPLOADED,
                actor=user,
                name=name,
                size=upload.size,
                sha256=sha256,
                content_type=content_type,
            )
            if task is not None:
                do_attach_file(task, user=user, file=stored)
                record(stored, FileEventType.ATTACHED, actor=user, task=str(stored.task_id))
    except BaseException:
        _discard(key)
        raise
    return stored


def do_delete_file(file: StoredFile, *, user) -> StoredFile:
    """Soft delete: the file is no longer listed or served; its row and bytes stay."""
    from apps.tasks.services import do_note_file_deleted

    with transaction.atomic():
        locked = StoredFile.objects.select_for_update().filter(pk=file.pk).first()
        if locked is None:
            raise permissions.not_found()
        permissions.check_delete(locked, user)
        locked.deleted_at, locked.deleted_by = timezone.now(), user
        locked.save(update_fields=["deleted_at", "deleted_by"])
        record(locked, FileEventType.DELETED, actor=user, name=locked.name)
        if locked.task_id:
            do_note_file_deleted(locked.task, user=user, file=locked)
    return locked
