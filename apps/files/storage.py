"""Where the bytes live: django-storages' default storage (filesystem, or S3 when configured)."""

from __future__ import annotations

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.utils import timezone


def file_storage() -> Storage:
    return storages["default"]


def is_s3() -> bool:
    return settings.XFLOW_STORAGE == "s3"


def new_key(file_id) -> str:
    """The storage key of a new file: chosen by the platform, never from the client's name."""
    return f"files/{timezone.now():%Y/%m}/{file_id}"


def presigned_url(key: str, *, content_type: str, disposition: str) -> str:
    """A short-lived S3 URL that answers with our Content-Type and Content-Disposition."""
    return file_storage().url(
        key,
        parameters={
            "ResponseContentType": content_type,
            "ResponseContentDisposition": disposition,
        },
        expire=settings.XFLOW_FILE_PRESIGN_SECONDS,
    )
