"""Children of a workflow: the subflow's definition and its mirror row."""

from __future__ import annotations

import uuid

from django.db import transaction

from apps.workflows.engine.contracts import SubflowRequest, SubflowResolved
from apps.workflows.models import InstanceStatus, WorkflowInstance
from apps.workflows.services.instances import (
    record_instance_event,
    resolve_definition,
    resolve_envs,
    workflow_id_for,
)
from apps.workflows.services.resources import inline_resources
from apps.workflows.services.secrets import resolve_secrets

SUBFLOW_NAMESPACE = uuid.UUID("0c5f3a52-3f44-4f43-8a8e-7d2f3d5b9e61")


@transaction.atomic
def resolve_subflow(request: SubflowRequest, *, attempt_key: str) -> SubflowResolved:
    """Create (once per activity attempt key) the child's row; the engine starts its workflow."""
    definition = resolve_definition(request.workflow_id, request.version or None)
    document = inline_resources(definition.document)
    if request.purpose == "continue_as":
        # The same instance goes on as another definition (end.continueAs): no child row.
        instance = WorkflowInstance.objects.filter(pk=request.parent_instance_id).first()
        if instance is not None:
            record_instance_event(
                instance, "continued_as", workflow=definition.key, version=definition.version
            )
        return SubflowResolved(
            instance_id=request.parent_instance_id,
            definition=document,
            definition_key=definition.key,
            version=definition.version,
            envs=resolve_envs(document),
            secrets=resolve_secrets(document),
        )
    parent = WorkflowInstance.objects.filter(pk=request.parent_instance_id).first()
    # The same activity retried must not create a second child: derive the id from its key.
    child_id = uuid.uuid5(SUBFLOW_NAMESPACE, f"{request.parent_instance_id}:{attempt_key}")
    child, created = WorkflowInstance.objects.get_or_create(
        id=child_id,
        defaults={
            "definition": definition,
            "definition_key": definition.key,
            "version": definition.version,
            "parent": parent,
            "workflow_id": workflow_id_for(child_id),
            "input": None,
            # The parent workflow starts the child (a child workflow): never the reconciler.
            "status": InstanceStatus.RUNNING,
            "start_spec": {"kind": "subflow"},
        },
    )
    if created:
        record_instance_event(child, "started", parent=request.parent_instance_id)
    return SubflowResolved(
        instance_id=str(child.id),
        definition=document,
        definition_key=definition.key,
        version=definition.version,
        envs=resolve_envs(document),
        secrets=resolve_secrets(document),
    )
