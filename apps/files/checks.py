"""Startup checks of the files app: the storage files go to can take them."""

from __future__ import annotations

import os
from pathlib import Path

from django.conf import settings
from django.core.checks import Error, Warning, register


@register("xflow")
def check_file_storage(app_configs=None, **kwargs):
    """Filesystem mode: MEDIA_ROOT must be (or become) a writable directory; S3: a bucket."""
    if settings.XFLOW_STORAGE == "s3":
        options = settings.STORAGES["default"].get("OPTIONS", {})
        if not options.get("bucket_name"):
            return [Error("XFLOW_STORAGE=s3 needs S3_BUCKET.", id="xflow.E030")]
        return []
    root = Path(settings.MEDIA_ROOT)
    existing = next((p for p in (root, *root.parents) if p.exists()), None)
    if existing is None or not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        return [
            Warning(
                f"MEDIA_ROOT ({root}) is not writable: uploads will fail with 503.",
                hint="Set MEDIA_ROOT to a writable directory, or use XFLOW_STORAGE=s3.",
                id="xflow.W030",
            )
        ]
    return []
