"""Startup checks of the platform's configuration."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.checks import Error, register


@register("xflow")
def check_storage_writable(app_configs=None, **kwargs):
    """Uploads need a writable MEDIA_ROOT when files are stored on the filesystem."""
    if settings.XFLOW_STORAGE != "filesystem":
        return []
    root = settings.MEDIA_ROOT
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as exc:
        return [Error(f"MEDIA_ROOT {root} cannot be created: {exc}", id="xflow.E001")]
    if not os.access(root, os.W_OK):
        return [
            Error(
                f"MEDIA_ROOT {root} is not writable.",
                hint="Fix its permissions or set MEDIA_ROOT to a writable folder.",
                id="xflow.E002",
            )
        ]
    return []


@register("xflow")
def check_outbound_settings(app_configs=None, **kwargs):
    """XFLOW_OUTBOUND_ALLOW entries must parse; XFLOW_RESOURCE_DIR must be a directory."""
    from apps.core.outbound import SETTING, parse_entry

    problems = []
    for entry in settings.XFLOW_OUTBOUND_ALLOW:
        try:
            parse_entry(entry)
        except ValueError as exc:
            problems.append(
                Error(
                    f"{SETTING}: {exc}.",
                    hint="Entries are host, *.domain, IP or CIDR, optionally with :port.",
                    id="xflow.E020",
                )
            )
    directory = settings.XFLOW_RESOURCE_DIR
    if directory and not os.path.isdir(directory):
        problems.append(
            Error(f"XFLOW_RESOURCE_DIR {directory} is not a directory.", id="xflow.E021")
        )
    return problems


@register("xflow")
def check_payload_encryption(app_configs=None, **kwargs):
    """Production keeps Temporal's history encrypted: it holds instance data and $SECRETS."""
    from apps.core.codec import payload_keys

    if not settings.PRODUCTION or payload_keys():
        return []
    return [
        Error(
            "TEMPORAL_PAYLOAD_KEY is not set: Temporal's history would hold instance data and "
            "$SECRETS values in plain text.",
            hint="Set TEMPORAL_PAYLOAD_KEY (or TEMPORAL_PAYLOAD_KEYS when rotating) to the same "
            "value on web and worker processes.",
            id="xflow.E011",
        )
    ]
