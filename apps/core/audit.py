"""Writing audit events: one small function per event type lives in each app's services."""

from __future__ import annotations

from typing import Any

from apps.core.models import PlatformEvent


def record_platform_event(event_type: str, *, actor=None, subject: str = "", **details: Any):
    return PlatformEvent.objects.create(
        event_type=event_type, actor=actor, subject=subject, details=details
    )
