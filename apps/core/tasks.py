"""Platform-level Celery tasks."""

from celery import shared_task
from django.utils import timezone


@shared_task(name="xflow.core.ping")
def ping(message: str = "pong") -> dict:
    """Round trip through the broker: proves a worker is consuming (used by tests and ops)."""
    return {"message": message, "at": timezone.now().isoformat()}
