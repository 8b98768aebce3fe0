"""Masking the `$SECRETS` of an instance's definition wherever its data is shown.

`mask_instance_data(instance, value)` is the one call for a single value; a page or an API
list showing many instances uses one `InstanceMasker` so the store is read once. Values are
looked up in the store when shown (read side); the mirror may also be masked when written.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Iterable, Iterator
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, close_old_connections

from apps.core.errors import ServiceError
from apps.core.masking import Masker, secret_strings
from apps.workflows.models import WorkflowInstance
from apps.workflows.services.secrets import secret_names, secret_values

_current: contextvars.ContextVar[InstanceMasker | None] = contextvars.ContextVar(
    "xflow_instance_masker", default=None
)


class InstanceMasker:
    """Masks instances' data; caches the decrypted values it read for its own lifetime."""

    def __init__(self) -> None:
        self._values: dict[str, Any] = {}
        self._loaded: set[str] = set()
        self._maskers: dict[tuple[str, ...], Masker] = {}

    def _load(self, names: Iterable[str]) -> None:
        wanted = [n for n in names if n not in self._loaded]
        if not wanted:
            return
        try:
            self._values.update(secret_values(wanted))
        except ServiceError:
            # A value the current keys cannot decrypt cannot be shown either: nothing to mask.
            pass
        self._loaded.update(wanted)

    def prime(self, instances: Iterable[WorkflowInstance]) -> None:
        """Read the secrets of all these instances at once (list pages)."""
        names: set[str] = set()
        for instance in instances:
            names.update(secret_names(instance.definition.document or {}))
        self._load(sorted(names))

    def masker_for(self, instance: WorkflowInstance) -> Masker:
        names = tuple(sorted(secret_names(instance.definition.document or {})))
        masker = self._maskers.get(names)
        if masker is None:
            self._load(names)
            masker = Masker(secret_strings(self._values[n] for n in names if n in self._values))
            self._maskers[names] = masker
        return masker

    def mask(self, instance: WorkflowInstance, value: Any) -> Any:
        return self.masker_for(instance)(value)


def current_masker() -> InstanceMasker:
    """The masker of the current scope (a page being rendered), else a fresh one."""
    return _current.get() or InstanceMasker()


@contextlib.contextmanager
def masking_scope() -> Iterator[InstanceMasker]:
    """One masker for everything rendered inside (an admin page reads the store once)."""
    masker = InstanceMasker()
    token = _current.set(masker)
    try:
        yield masker
    finally:
        _current.reset(token)


def mask_instance_data(instance: WorkflowInstance, value: Any) -> Any:
    """`value` with the values of the instance's `$SECRETS` replaced by a fixed mask."""
    return current_masker().mask(instance, value)


def _mask_for_instance_id(instance_id: str, values: tuple) -> tuple:
    close_old_connections()
    try:
        rows = WorkflowInstance.objects.select_related("definition").filter(pk=instance_id)
        found = rows.first()
        if found is None:
            return values  # a run without a mirror row (run_workflow): no store secrets to hide
        masker = InstanceMasker().masker_for(found)
        return tuple(masker(v) for v in values)
    except (DatabaseError, ValidationError, ValueError, RuntimeError):
        # A log line must never fail the call it reports: without the store, log as it is.
        return values
    finally:
        close_old_connections()


async def masked_log_args(instance_id: str, *values: Any) -> tuple:
    """Log arguments with the instance's secrets masked (for async activities)."""
    return await asyncio.to_thread(_mask_for_instance_id, instance_id, values)
