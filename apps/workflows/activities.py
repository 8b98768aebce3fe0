"""Temporal activities of the engine that touch the database (run in the worker process).

They are synchronous (Django's ORM is) and run in the worker's thread pool. Each one is
idempotent: Temporal may run an activity again after a worker dies mid-way.
"""

from __future__ import annotations

import functools

from django.db import close_old_connections
from temporalio import activity
from temporalio.exceptions import ApplicationError

from apps.core.errors import ServiceError
from apps.workflows.engine.contracts import (
    ACT_CLEAR_WAIT,
    ACT_EMIT_EVENT,
    ACT_INSTANCE_CHANGED,
    ACT_NOTE_INSTANCE,
    ACT_REGISTER_WAIT,
    ACT_RESOLVE_SUBFLOW,
    FUNCTION_ERROR,
    EmitEvent,
    EventWait,
    InstanceChanged,
    InstanceNote,
    SubflowRequest,
    SubflowResolved,
    workflow_id_for,
)


def _fresh_connection(fn):
    """Fresh DB connections per call; a refusal by a service is a business error, not retried.

    Long-lived worker threads must not reuse a connection the server has closed, and a
    ServiceError (say, a subflow naming no published definition) will not heal by retrying.
    """

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        close_old_connections()
        try:
            return fn(*args, **kwargs)
        except ServiceError as exc:
            raise ApplicationError(
                exc.message,
                {"code": exc.code, "message": exc.message},
                type=FUNCTION_ERROR,
                non_retryable=True,
            ) from None
        finally:
            close_old_connections()

    return wrapper


def _is_platform_instance(instance_id: str) -> bool:
    """Platform instances run under the workflow id derived from their row's id."""
    return activity.info().workflow_id == workflow_id_for(instance_id)


@activity.defn(name=ACT_INSTANCE_CHANGED)
@_fresh_connection
def instance_changed(change: InstanceChanged) -> None:
    """Mirror the instance's status, current states, output/error and new timeline entries.

    A platform instance's row not visible yet raises, and Temporal retries the report: it
    is never dropped. Ad-hoc runs (`run_workflow`, benchmarks, test harnesses) start their
    workflows under other ids and have no row: their reports are dropped.
    """
    from apps.workflows.services.mirror import apply_instance_change

    apply_instance_change(change, strict=_is_platform_instance(change.instance_id))


@activity.defn(name=ACT_NOTE_INSTANCE)
@_fresh_connection
def note_instance(note: InstanceNote) -> None:
    """Add one entry to an instance's timeline (e.g. the outcome of an async call)."""
    from apps.workflows.services.mirror import note_instance as write

    write(note, strict=activity.info().workflow_id.startswith(workflow_id_for(note.instance_id)))


@activity.defn(name=ACT_EMIT_EVENT)
@_fresh_connection
def emit_event(emit: EmitEvent) -> str:
    """Write a produced CloudEvent to the outbox (once per dedupe key)."""
    from apps.workflows.services.events import emit_event as write

    return write(emit)


@activity.defn(name=ACT_REGISTER_WAIT)
@_fresh_connection
def register_wait(wait: EventWait) -> None:
    """Let the event service find this instance for the events it now waits for."""
    from apps.workflows.services.events import register_wait as write

    write(wait, strict=_is_platform_instance(wait.instance_id))


@activity.defn(name=ACT_CLEAR_WAIT)
@_fresh_connection
def clear_wait(wait: EventWait) -> None:
    """The instance no longer waits (the event came, or a timeout fired)."""
    from apps.workflows.services.events import clear_wait as clear

    clear(wait.instance_id, wait.wait_id or None)


@activity.defn(name=ACT_RESOLVE_SUBFLOW)
@_fresh_connection
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
