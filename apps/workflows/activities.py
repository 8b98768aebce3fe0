"""Temporal activities of the engine that touch the database (run in the worker process).

They are synchronous (Django's ORM is) and run in the worker's thread pool. Each one is
idempotent: Temporal may run an activity again after a worker dies mid-way.
"""

from __future__ import annotations

from temporalio import activity

from apps.core.activities import db_activity, is_platform_instance
from apps.workflows.engine.contracts import (
    ACT_CLEAR_WAIT,
    ACT_EMIT_EVENT,
    ACT_INSTANCE_CHANGED,
    ACT_NOTE_INSTANCE,
    ACT_REGISTER_WAIT,
    ACT_RESOLVE_SUBFLOW,
    EmitEvent,
    EventWait,
    InstanceChanged,
    InstanceNote,
    SubflowRequest,
    SubflowResolved,
    workflow_id_for,
)


@activity.defn(name=ACT_INSTANCE_CHANGED)
@db_activity
def instance_changed(change: InstanceChanged) -> None:
    """Mirror the instance's status, current states, output/error and new timeline entries.

    A platform instance's row not visible yet raises, and Temporal retries the report: it
    is never dropped. Ad-hoc runs (`run_workflow`, benchmarks, test harnesses) start their
    workflows under other ids and have no row: their reports are dropped.
    """
    from apps.workflows.services.mirror import apply_instance_change

    apply_instance_change(change, strict=is_platform_instance(change.instance_id))


@activity.defn(name=ACT_NOTE_INSTANCE)
@db_activity
def note_instance(note: InstanceNote) -> None:
    """Add one entry to an instance's timeline (e.g. the outcome of an async call)."""
    from apps.workflows.services.mirror import note_instance as write

    write(note, strict=activity.info().workflow_id.startswith(workflow_id_for(note.instance_id)))


@activity.defn(name=ACT_EMIT_EVENT)
@db_activity
def emit_event(emit: EmitEvent) -> str:
    """Write a produced CloudEvent to the outbox (once per dedupe key)."""
    from apps.workflows.services.events import emit_event as write

    return write(emit)


@activity.defn(name=ACT_REGISTER_WAIT)
@db_activity
def register_wait(wait: EventWait) -> None:
    """Let the event service find this instance for the events it now waits for."""
    from apps.workflows.services.events import register_wait as write

    write(wait, strict=is_platform_instance(wait.instance_id))


@activity.defn(name=ACT_CLEAR_WAIT)
@db_activity
def clear_wait(wait: EventWait) -> None:
    """The instance no longer waits (the event came, or a timeout fired)."""
    from apps.workflows.services.events import clear_wait as clear

    clear(wait.instance_id, wait.wait_id or None)


@activity.defn(name=ACT_RESOLVE_SUBFLOW)
@db_activity
def resolve_subflow(request: SubflowRequest) -> SubflowResolved:
    """The child's published definition and a mirror row for the child instance."""
    from apps.workflows.services.subflows import resolve_subflow as resolve

    return resolve(
        request, attempt_key=activity.info().workflow_run_id + activity.info().activity_id
    )


def engine_activities() -> list:
    return [
        instance_changed,
        note_instance,
        emit_event,
        register_wait,
        clear_wait,
        resolve_subflow,
    ]
