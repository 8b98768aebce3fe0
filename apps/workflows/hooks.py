"""What other apps do when an instance changes, called explicitly by the services.

DESIGN.md: no Django signals for internal logic. The tasks app plugs in here by name, so
the workflows app does not import it at module load (no import cycle).
"""

from __future__ import annotations

from functools import lru_cache
from importlib import import_module


@lru_cache(maxsize=1)
def _cancel_tasks():
    # Looked up once: every instance end passes here, and a failed import is not cached.
    try:
        services = import_module("apps.tasks.services")
    except ModuleNotFoundError:
        return None  # the tasks app has no service layer yet (it comes with the user-task issue)
    return getattr(services, "do_cancel_tasks_of_instance", None)


def resend_task_signals() -> int:
    """The tasks app's relay: completions whose signal Temporal has not acknowledged yet."""
    try:
        resume = import_module("apps.tasks.services.resume")
    except ModuleNotFoundError:
        return 0
    return resume.resend_pending_signals()


def instances_closed(instances, *, user=None) -> None:
    """Several instances ended (the worker's writer): one query finds those with open tasks."""
    if not instances:
        return
    try:
        services = import_module("apps.tasks.services.engine")
    except ModuleNotFoundError:
        return
    with_tasks = services.instances_with_open_tasks([i.pk for i in instances])
    for instance in instances:
        if instance.pk in with_tasks:
            instance_closed(instance, user=user)


def instance_closed(instance, *, user=None) -> None:
    """An instance ended (any way): its open user tasks are cancelled with it."""
    cancel = _cancel_tasks()
    if cancel is not None:
        cancel(instance, user=user)
