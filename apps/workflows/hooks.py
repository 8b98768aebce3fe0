"""What other apps do when an instance changes, called explicitly by the services.

DESIGN.md: no Django signals for internal logic. The tasks app plugs in here by name, so
the workflows app does not import it at module load (no import cycle).
"""

from __future__ import annotations

from importlib import import_module


def instance_closed(instance, *, user=None) -> None:
    """An instance ended (any way): its open user tasks are cancelled with it."""
    try:
        services = import_module("apps.tasks.services")
    except ModuleNotFoundError:
        return  # the tasks app has no service layer yet (it arrives with the user-task issue)
    cancel = getattr(services, "do_cancel_tasks_of_instance", None)
    if cancel is not None:
        cancel(instance, user=user)
