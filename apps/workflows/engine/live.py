"""Live progress of running instances, off the workflow's critical path.

The durable mirror reports (`Run.report`, a local activity) happen where they matter: when an
instance starts waiting, stops waiting, and ends. Between those, operators still want to see
where an instance is within a second. Writing a report per state would put a database write
on every state's path (and an event in the history); instead the workflow *publishes* its
progress to a sink the worker process installed, which batches the writes on a thread of its
own (`apps.workflows.services.live`).

Publishing is not workflow logic: it never affects what the workflow decides, it is skipped
while replaying (so a replay never re-sends old progress), and a lost update is repaired by
the next durable report or by the reconciler. Pure module, passed through the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import workflow

_sink: Callable[[dict[str, Any]], None] | None = None


def install(sink: Callable[[dict[str, Any]], None] | None) -> None:
    """Route published progress to `sink` (None: drop it, as tests without a mirror do)."""
    global _sink
    _sink = sink


def publish(update: dict[str, Any]) -> None:
    """Hand one progress update to the worker's sink (never while replaying)."""
    sink = _sink
    if sink is None or workflow.unsafe.is_replaying():
        return
    try:
        sink(update)
    except Exception:  # noqa: BLE001 - progress is best effort; the workflow must go on
        pass
