"""The tasks app's link to the forms app, which does not exist yet.

The contract the forms app will fulfil: `apps.forms.services.form_schema(key, version)`
returns the JSON schema of the form `key` (`version` None: its latest published version),
or None when there is no such form. Until then no task has a schema: submissions are checked
for shape and size only, and the API says `"form": null`.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from apps.tasks.models import UserTask


def form_schema(task: UserTask) -> dict[str, Any] | None:
    """The JSON schema of the task's form, or None (no form, or no forms app yet)."""
    if not task.form_key:
        return None
    try:
        services = import_module("apps.forms.services")
    except ModuleNotFoundError:
        return None
    getter = getattr(services, "form_schema", None)
    if getter is None:
        return None
    schema = getter(task.form_key, task.form_version)
    return schema if isinstance(schema, dict) else None
