"""Starting and controlling workflow instances; keeping the Postgres mirror current."""

from __future__ import annotations

import os
import uuid
from typing import Any

import jsonschema
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from apps.core import temporal
from apps.core.errors import Conflict, NotFound, ServiceError, Unavailable
from apps.workflows.engine.contracts import InterpreterInput
from apps.workflows.engine.contracts import workflow_id_for as _contract_workflow_id
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

CLOSED = set(InstanceStatus.closed_values())
# Deterministic instance ids: the same start asked twice gets the same row and workflow id.
START_NAMESPACE = uuid.UUID("3b8f5a0e-6f0c-4c1e-9a59-2d7b3c4e5f61")


def workflow_id_for(instance_id: uuid.UUID | str) -> str:
    return _contract_workflow_id(str(instance_id))


def instance_id_for(kind: str, *parts: Any) -> uuid.UUID:
    """A stable instance id for a start identified by `kind` and its parts (a key, an event),
    within this deployment (its database: a fresh one never meets an old workflow id)."""
    from apps.core.models import installation_uid

    namespace = uuid.uuid5(START_NAMESPACE, str(installation_uid()))
    return uuid.uuid5(namespace, ":".join([kind, *(str(p) for p in parts)]))


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


def interpreter_input(
    document: dict[str, Any],
    *,
    instance_id: str,
    definition_key: str,
    version: str,
    input: Any,
    parent_id: str | None = None,
    **extra: Any,
) -> InterpreterInput:
    """What the interpreter starts with: the document with its URI parts inlined, $ENVS and
    $SECRETS resolved. Raises ServiceError (a 4xx for the caller) when one cannot be."""
    document = inline_resources(document)
    return InterpreterInput(
        instance_id=instance_id,
        definition=document,
        definition_key=definition_key,
        version=version,
        input=input,
        envs=resolve_envs(document),
        secrets=resolve_secrets(document),
        parent_instance_id=parent_id,
        end_via_writer=True,  # platform workers run the live writer (services/live.py)
        **extra,
    )


def do_start_instance(
    *,
    definition: WorkflowDefinition,
    input: Any = None,
    business_key: str = "",
    user=None,
    parent: WorkflowInstance | None = None,
    start_event: dict | None = None,
    restarted_from: WorkflowInstance | None = None,
    instance_id: uuid.UUID | None = None,
) -> WorkflowInstance:
    """Write the instance row (`starting`); its workflow starts once the row is committed.

    With an `instance_id` derived from what identifies the start (an Idempotency-Key, an
    event), asking twice returns the first row: one row, one workflow. Everything that can
    refuse the start (input schema, envs, secrets, URI parts) is checked before the row is
    written, so a refusal leaves nothing behind.
    """
    if definition.status != DefinitionStatus.PUBLISHED:
        raise Conflict(
            f"{definition} is {definition.status}; only published versions start instances.",
            code=WorkflowErrorCode.NOT_PUBLISHED,
        )
    if instance_id is not None:
        existing = WorkflowInstance.objects.filter(pk=instance_id).first()
        if existing is not None:
            return existing
    if input is None:
        input = {}
    validate_input(definition.document, input)
    instance_id = instance_id or uuid.uuid4()
    params = interpreter_input(
        definition.document,
        instance_id=str(instance_id),
        definition_key=definition.key,
        version=definition.version,
        input=input,
        parent_id=str(parent.pk) if parent else None,
    )
    from apps.workflows.services.starts import start_after_commit

    with transaction.atomic():
        instance, created = WorkflowInstance.objects.get_or_create(
            id=instance_id,
            defaults={
                "definition": definition,
                "definition_key": definition.key,
                "version": definition.version,
                "business_key": business_key or "",
                "input": input,
                "parent": parent,
                "workflow_id": workflow_id_for(instance_id),
                "started_by": user,
                "restarted_from": restarted_from,
                "status": InstanceStatus.STARTING,
                "start_spec": {"kind": "start", "start_event": start_event},
                "start_requested_at": timezone.now(),
            },
        )
        if not created:
            return instance  # a concurrent twin of this start wrote it first
        record_instance_event(
            instance,
            "started",
            actor=user,
            business_key=business_key or "",
            version=definition.version,
        )
        start_after_commit(instance.pk, params)
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
    instance.pending_actions = []
    instance.save(
        update_fields=["status", "ended_at", "current_states", "pending_actions", "updated_at"]
    )
    record_instance_event(instance, event, actor=user, **details)
    from apps.workflows import hooks

    hooks.instance_closed(instance, user=user)


def _stop(instance: WorkflowInstance, *, user, reason: str, terminate: bool) -> WorkflowInstance:
    """Temporal first (outside any transaction), then the mirror; the reconciler covers a
    crash in between, as the workflow's own end report would."""
    action = "terminated" if terminate else "cancelled"
    instance = WorkflowInstance.objects.get(pk=instance.pk)
    _require_open(instance, action)

    async def stop(client):
        handle = _handle(instance, client)
        if terminate:
            await handle.terminate(reason=reason or "terminated by an operator")
        else:
            await handle.cancel()

    _engine_call(stop, f"{'terminate' if terminate else 'cancel'} the instance")
    status = InstanceStatus.TERMINATED if terminate else InstanceStatus.CANCELLED
    with transaction.atomic():
        instance = WorkflowInstance.objects.select_for_update().get(pk=instance.pk)
        if instance.status not in CLOSED:
            _close(instance, status, user=user, event=action, reason=reason)
    return instance


def do_cancel_instance(
    instance: WorkflowInstance, *, user=None, reason: str = ""
) -> WorkflowInstance:
    """Ask the workflow to cancel: it runs its cancellation handling (open tasks are cancelled)."""
    return _stop(instance, user=user, reason=reason, terminate=False)


def do_terminate_instance(
    instance: WorkflowInstance, *, user=None, reason: str = ""
) -> WorkflowInstance:
    """Stop at once: no workflow code runs any more (no compensation, no cleanup)."""
    return _stop(instance, user=user, reason=reason, terminate=True)


def do_retry_instance(instance: WorkflowInstance, *, user=None) -> WorkflowInstance:
    """Run a failed instance again from the state that failed, with the data it had there.

    The row goes back to `starting` with what the new run needs; the run starts after the
    commit (or from the reconciler), as a first start does.
    """
    from apps.workflows.services.starts import start_after_commit

    with transaction.atomic():
        instance = (
            WorkflowInstance.objects.select_for_update()
            .select_related("definition")
            .get(pk=instance.pk)
        )
        if instance.status not in {InstanceStatus.FAILED, InstanceStatus.TIMED_OUT}:
            raise Conflict(
                "Only a failed or timed-out instance can be retried; "
                f"this one is {instance.status}.",
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
        seq = max(instance.events.aggregate(m=Max("seq"))["m"] or 0, instance.engine_seq)
        instance.status = InstanceStatus.STARTING
        instance.start_spec = {
            "kind": "retry",
            "resume_state": state,
            "resume_data": error.get("data"),
            "carry": {"seq": seq, "visited": instance.visited_states},
        }
        instance.start_requested_at = timezone.now()
        instance.error = None
        instance.ended_at = None
        instance.current_states = [state]
        instance.save(
            update_fields=[
                "status",
                "start_spec",
                "start_requested_at",
                "error",
                "ended_at",
                "current_states",
                "updated_at",
            ]
        )
        record_instance_event(instance, "retried", actor=user, state=state)
        start_after_commit(instance.pk)
    instance.refresh_from_db()
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
