"""Starting and controlling workflow instances; keeping the Postgres mirror current."""

from __future__ import annotations

import os
import uuid
from typing import Any

import jsonschema
from django.db import transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from apps.core import temporal
from apps.core.errors import Conflict, NotFound, ServiceError, Unavailable
from apps.workflows.engine.contracts import (
    INTERPRETER_WORKFLOW,
    QUEUE_ENGINE,
    SIGNAL_EVENT,
    InstanceChanged,
    InterpreterInput,
)
from apps.workflows.error_codes import WorkflowErrorCode
from apps.workflows.models import (
    DefinitionStatus,
    InstanceEvent,
    InstanceStatus,
    WorkflowDefinition,
    WorkflowInstance,
)
from apps.workflows.services.resources import inline_resources, load_document
from apps.workflows.services.secrets import resolve_secrets

CLOSED = {
    InstanceStatus.COMPLETED,
    InstanceStatus.FAILED,
    InstanceStatus.CANCELLED,
    InstanceStatus.TERMINATED,
    InstanceStatus.TIMED_OUT,
}


def workflow_id_for(instance_id: uuid.UUID | str) -> str:
    return f"xflow-{instance_id}"


def resolve_definition(key: str, version: str | None = None) -> WorkflowDefinition:
    """The published version asked for, or the latest published one."""
    if version:
        definition = WorkflowDefinition.objects.filter(key=key, version=version).first()
        if definition is None:
            raise NotFound(
                f"Definition '{key}' has no version {version}.",
                code=WorkflowErrorCode.DEFINITION_NOT_FOUND,
            )
        if definition.status != DefinitionStatus.PUBLISHED:
            raise Conflict(
                f"{definition} is {definition.status}; only published versions start instances.",
                code=WorkflowErrorCode.NOT_PUBLISHED,
            )
        return definition
    definition = WorkflowDefinition.objects.latest_published(key)
    if definition is None:
        exists = WorkflowDefinition.objects.filter(key=key).exists()
        raise (Conflict if exists else NotFound)(
            f"Definition '{key}' has no published version yet."
            if exists
            else f"There is no definition '{key}'.",
            code=WorkflowErrorCode.NOT_PUBLISHED
            if exists
            else WorkflowErrorCode.DEFINITION_NOT_FOUND,
        )
    return definition


def load_input_schema(uri: str) -> dict[str, Any]:
    """The JSON schema a `dataInputSchema` URI names (http(s) or file://, cached)."""
    schema = load_document(uri, what="dataInputSchema")
    if not isinstance(schema, dict):
        raise ServiceError(
            f"The definition's dataInputSchema {uri!r} is not a JSON schema object.",
            code=WorkflowErrorCode.INPUT_INVALID,
        )
    return schema


def validate_input(document: dict[str, Any], data: Any) -> list[str]:
    """Check input against `dataInputSchema`; refuse it only when failOnValidationErrors."""
    spec = document.get("dataInputSchema")
    if isinstance(spec, str):
        spec = {"schema": spec, "failOnValidationErrors": True}
    if not isinstance(spec, dict):
        return []
    schema = spec.get("schema")
    if isinstance(schema, str):
        schema = load_input_schema(schema)
    if not isinstance(schema, dict):
        return []
    try:
        validator_cls = jsonschema.validators.validator_for(schema)
        validator_cls.check_schema(schema)
    except jsonschema.SchemaError as exc:
        return [f"dataInputSchema is not a valid JSON schema: {exc.message}"]
    problems = []
    for error in sorted(validator_cls(schema).iter_errors(data), key=lambda e: list(e.path)):
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.path)
        problems.append(f"input{where}: {error.message}")
    if problems and spec.get("failOnValidationErrors", True):
        raise ServiceError(
            f"The input does not match the definition's dataInputSchema: {problems[0]}",
            code=WorkflowErrorCode.INPUT_INVALID,
            fields={"input": problems},
        )
    return problems


def resolve_envs(document: dict[str, Any]) -> dict[str, str]:
    """`envs` names environment variables the workflow reads as $ENVS; all must be set."""
    names = [n for n in document.get("envs") or [] if isinstance(n, str)]
    missing = [n for n in names if n not in os.environ]
    if missing:
        raise ServiceError(
            f"The definition reads environment variable{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}, not set on this platform.",
            code=WorkflowErrorCode.ENV_MISSING,
            fields={"envs": missing},
        )
    return {n: os.environ[n] for n in names}


def record_instance_event(
    instance: WorkflowInstance, event_type: str, *, actor=None, state: str = "", **details: Any
) -> InstanceEvent:
    return InstanceEvent.objects.create(
        instance=instance, event_type=event_type, actor=actor, state=state, details=details
    )


def _interpreter_input(instance: WorkflowInstance, **extra: Any) -> InterpreterInput:
    document = inline_resources(instance.definition.document)
    return InterpreterInput(
        instance_id=str(instance.id),
        definition=document,
        definition_key=instance.definition_key,
        version=instance.version,
        input=instance.input,
        envs=resolve_envs(document),
        secrets=resolve_secrets(document),
        parent_instance_id=str(instance.parent_id) if instance.parent_id else None,
        **extra,
    )


def _start_workflow(
    instance: WorkflowInstance, params: InterpreterInput, start_event: dict | None = None
) -> str:
    async def start(client):
        kwargs: dict[str, Any] = {}
        if start_event is not None:
            # Signal-with-start: the event is in the history before the first workflow task.
            kwargs = {"start_signal": SIGNAL_EVENT, "start_signal_args": [start_event]}
        handle = await client.start_workflow(
            INTERPRETER_WORKFLOW,
            params,
            id=instance.workflow_id,
            task_queue=temporal.queue_name(QUEUE_ENGINE),
            memo={"definition": instance.definition_key, "version": instance.version},
            **kwargs,
        )
        return handle.result_run_id or handle.first_execution_run_id or ""

    try:
        return temporal.call(start, timeout=15)
    except ServiceError:
        raise
    except Exception as exc:
        raise Unavailable(
            f"The workflow engine did not accept the start ({exc.__class__.__name__}: {exc}); "
            "nothing was started, try again.",
            code=WorkflowErrorCode.ENGINE_UNAVAILABLE,
        ) from exc


def do_start_instance(
    *,
    definition: WorkflowDefinition,
    input: Any = None,
    business_key: str = "",
    user=None,
    parent: WorkflowInstance | None = None,
    start_event: dict | None = None,
    restarted_from: WorkflowInstance | None = None,
) -> WorkflowInstance:
    """Create the instance row and start its workflow; both happen or neither does."""
    if definition.status != DefinitionStatus.PUBLISHED:
        raise Conflict(
            f"{definition} is {definition.status}; only published versions start instances.",
            code=WorkflowErrorCode.NOT_PUBLISHED,
        )
    if input is None:
        input = {}
    validate_input(definition.document, input)
    instance_id = uuid.uuid4()
    with transaction.atomic():
        instance = WorkflowInstance.objects.create(
            id=instance_id,
            definition=definition,
            definition_key=definition.key,
            version=definition.version,
            business_key=business_key or "",
            input=input,
            parent=parent,
            workflow_id=workflow_id_for(instance_id),
            started_by=user,
            restarted_from=restarted_from,
        )
        params = _interpreter_input(instance)
        record_instance_event(
            instance,
            "started",
            actor=user,
            business_key=business_key or "",
            version=definition.version,
        )
        # Started inside the transaction: if Temporal refuses, the row is rolled back and
        # the caller gets a 503; a row never exists without its workflow.
        instance.run_id = _start_workflow(instance, params, start_event)
        instance.save(update_fields=["run_id"])
    return instance


def _handle(instance: WorkflowInstance, client):
    return client.get_workflow_handle(instance.workflow_id)


def _require_open(instance: WorkflowInstance, action: str) -> None:
    if instance.status in CLOSED:
        raise Conflict(
            f"The instance is already {instance.get_status_display().lower()}; "
            f"it cannot be {action}.",
            code=WorkflowErrorCode.INSTANCE_NOT_OPEN,
        )


def _engine_call(fn, what: str):
    try:
        return temporal.call(fn, timeout=15)
    except Exception as exc:
        from temporalio.service import RPCError, RPCStatusCode

        if isinstance(exc, RPCError) and exc.status == RPCStatusCode.NOT_FOUND:
            return None  # the workflow is already gone: the mirror is what is left to fix
        raise Unavailable(
            f"The workflow engine could not {what} ({exc}); nothing changed, try again.",
            code=WorkflowErrorCode.ENGINE_UNAVAILABLE,
        ) from exc


def _close(instance: WorkflowInstance, status: str, *, user, event: str, **details: Any) -> None:
    instance.status = status
    instance.ended_at = timezone.now()
    instance.current_states = []
    instance.save(update_fields=["status", "ended_at", "current_states", "updated_at"])
    record_instance_event(instance, event, actor=user, **details)
    from apps.workflows import hooks

    hooks.instance_closed(instance, user=user)


@transaction.atomic
def do_cancel_instance(
    instance: WorkflowInstance, *, user=None, reason: str = ""
) -> WorkflowInstance:
    """Ask the workflow to cancel: it runs its cancellation handling (open tasks are cancelled)."""
    instance = WorkflowInstance.objects.select_for_update().get(pk=instance.pk)
    _require_open(instance, "cancelled")

    async def cancel(client):
        await _handle(instance, client).cancel()

    _engine_call(cancel, "cancel the instance")
    _close(instance, InstanceStatus.CANCELLED, user=user, event="cancelled", reason=reason)
    return instance


@transaction.atomic
def do_terminate_instance(
    instance: WorkflowInstance, *, user=None, reason: str = ""
) -> WorkflowInstance:
    """Stop at once: no workflow code runs any more (no compensation, no cleanup)."""
    instance = WorkflowInstance.objects.select_for_update().get(pk=instance.pk)
    _require_open(instance, "terminated")

    async def terminate(client):
        await _handle(instance, client).terminate(reason=reason or "terminated by an operator")

    _engine_call(terminate, "terminate the instance")
    _close(instance, InstanceStatus.TERMINATED, user=user, event="terminated", reason=reason)
    return instance


@transaction.atomic
def do_retry_instance(instance: WorkflowInstance, *, user=None) -> WorkflowInstance:
    """Run a failed instance again from the state that failed, with the data it had there."""
    instance = (
        WorkflowInstance.objects.select_for_update()
        .select_related("definition")
        .get(pk=instance.pk)
    )
    if instance.status not in {InstanceStatus.FAILED, InstanceStatus.TIMED_OUT}:
        raise Conflict(
            f"Only a failed or timed-out instance can be retried; this one is {instance.status}.",
            code=WorkflowErrorCode.INSTANCE_NOT_FAILED,
        )
    error = instance.error or {}
    state = error.get("state")
    if not state:
        raise Conflict(
            "The failure is not tied to a state (e.g. the whole workflow timed out); "
            "restart the instance instead.",
            code=WorkflowErrorCode.INSTANCE_NOT_FAILED,
        )
    seq = instance.events.aggregate(m=Max("seq"))["m"] or 0
    params = _interpreter_input(
        instance,
        resume_state=state,
        resume_data=error.get("data"),
        carry={"seq": seq, "visited": instance.visited_states},
    )
    instance.status = InstanceStatus.RUNNING
    instance.error = None
    instance.ended_at = None
    instance.current_states = [state]
    instance.save(update_fields=["status", "error", "ended_at", "current_states", "updated_at"])
    record_instance_event(instance, "retried", actor=user, state=state)
    instance.run_id = _start_workflow(instance, params)
    instance.save(update_fields=["run_id"])
    return instance


def do_restart_instance(instance: WorkflowInstance, *, user=None) -> WorkflowInstance:
    """A new instance of the same definition version with the same input."""
    new = do_start_instance(
        definition=instance.definition,
        input=instance.input,
        business_key=instance.business_key,
        user=user,
        restarted_from=instance,
    )
    record_instance_event(instance, "restarted", actor=user, new_instance=str(new.id))
    return new


# --- the mirror, written by the engine's activity ----------------------------------------


def _event_time(entry: dict[str, Any]):
    value = entry.get("time")
    return parse_datetime(value) if isinstance(value, str) else None


@transaction.atomic
def apply_instance_change(change: InstanceChanged) -> None:
    """Update the mirror row and append new timeline entries; safe to apply twice."""
    instance = WorkflowInstance.objects.select_for_update().filter(pk=change.instance_id).first()
    if instance is None:
        return  # the row was rolled back with a failed start; nothing to mirror
    last_seq = instance.events.aggregate(m=Max("seq"))["m"] or 0
    new_events = []
    for entry in change.timeline:
        seq = entry.get("seq")
        if isinstance(seq, int) and seq <= last_seq:
            continue  # already stored by an earlier attempt of this activity
        if entry.get("kind") == "started":
            continue  # the service recorded the start already, with who started it
        details = dict(entry.get("details") or {})
        details.update(
            {k: v for k, v in entry.items() if k not in {"kind", "state", "time", "seq", "details"}}
        )
        new_events.append(
            InstanceEvent(
                instance=instance,
                event_type=str(entry.get("kind", "progress"))[:64],
                state=str(entry.get("state") or "")[:200],
                occurred_at=_event_time(entry),
                seq=seq if isinstance(seq, int) else None,
                details=details,
            )
        )
    InstanceEvent.objects.bulk_create(new_events)
    # An operator's cancel/terminate already closed the row: the engine's late report of the
    # same end must not reopen or relabel it.
    if instance.status in CLOSED and change.status not in CLOSED:
        return
    if instance.status in {InstanceStatus.TERMINATED, InstanceStatus.CANCELLED}:
        return
    instance.status = change.status
    instance.current_states = change.current_states
    if change.visited_states:
        instance.visited_states = change.visited_states
    update = ["status", "current_states", "visited_states", "updated_at"]
    if change.status in CLOSED:
        instance.output = change.output
        instance.error = change.error
        instance.ended_at = timezone.now()
        update += ["output", "error", "ended_at"]
    instance.save(update_fields=update)
    if change.status in CLOSED:
        from apps.workflows import hooks

        hooks.instance_closed(instance, user=None)
