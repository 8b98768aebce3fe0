"""Starting an instance's workflow after its row is committed (and again, if that was lost).

The rule (PRODUCT.md §8, "row and workflow agree"): the row is written first, in `starting`;
the workflow is started only once that row is committed (`transaction.on_commit`), so the
worker always finds the row it reports to. If the process dies between the commit and the
start, or Temporal is unreachable, the row stays `starting` and the reconciler issues the
start again. Workflow ids are the row's id, which is deterministic for every kind of start
(an API key, an event, a subflow), so a repeated start meets "already started", never a
second workflow.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from apps.core import temporal
from apps.core.errors import ServiceError
from apps.workflows.engine.contracts import (
    INTERPRETER_WORKFLOW,
    QUEUE_ENGINE,
    SIGNAL_EVENT,
    InterpreterInput,
)
from apps.workflows.models import InstanceEvent, InstanceStatus, WorkflowInstance

log = logging.getLogger("xflow.workflows.starts")

START_TIMEOUT_SECONDS = 15
# Set when the namespace turned out not to have xflow's search attributes (a cluster whose
# operator has not created them yet): later starts go without them instead of failing.
_search_attributes_missing = False
# Temporal's clock and ours may differ a little: a run that started this long before the
# request still counts as the one the request asked for.
CLOCK_SKEW = timedelta(seconds=5)


def build_params(instance: WorkflowInstance) -> InterpreterInput:
    """The interpreter's input for this row's start (or retry), from the row alone."""
    from apps.workflows.services.instances import interpreter_input

    spec = instance.start_spec or {}
    extra: dict[str, Any] = {}
    if spec.get("kind") == "retry":
        extra = {
            "resume_state": spec.get("resume_state"),
            "resume_data": spec.get("resume_data"),
            "carry": spec.get("carry") or {},
        }
    return interpreter_input(
        instance.definition.document,
        instance_id=str(instance.id),
        definition_key=instance.definition_key,
        version=instance.version,
        input=instance.input,
        parent_id=str(instance.parent_id) if instance.parent_id else None,
        **extra,
    )


def _search_attributes(instance: WorkflowInstance):
    """Definition, version, business key and status, for Temporal's own list queries."""
    from temporalio.common import SearchAttributePair, TypedSearchAttributes

    from apps.core import search_attributes as sa

    pairs = [
        SearchAttributePair(sa.DEFINITION, instance.definition_key),
        SearchAttributePair(sa.VERSION, instance.version),
        SearchAttributePair(sa.STATUS, InstanceStatus.RUNNING.value),
    ]
    if instance.business_key:
        pairs.append(SearchAttributePair(sa.BUSINESS_KEY, instance.business_key))
    return TypedSearchAttributes(pairs)


def _lacks_search_attributes(exc: Exception) -> bool:
    from temporalio.service import RPCError, RPCStatusCode

    return (
        isinstance(exc, RPCError)
        and exc.status == RPCStatusCode.INVALID_ARGUMENT
        and "search attribute" in str(exc).lower()
    )


async def _start_on(client, instance: WorkflowInstance, params: InterpreterInput) -> str:
    """Start (or signal-with-start) the workflow with `client`; the run id. Raises on any
    refusal. Without xflow's search attributes in the namespace, starts without them."""
    global _search_attributes_missing
    if not _search_attributes_missing:
        try:
            return await _start_call(client, instance, params, with_attributes=True)
        except Exception as exc:
            if not _lacks_search_attributes(exc):
                raise
            _search_attributes_missing = True
            log.warning(
                "the Temporal namespace lacks xflow's search attributes (%s); starting "
                "without them. Create them: `manage.py temporal_setup` (see the README).",
                exc,
            )
    return await _start_call(client, instance, params, with_attributes=False)


async def _start_call(
    client, instance: WorkflowInstance, params: InterpreterInput, *, with_attributes: bool
) -> str:
    from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

    spec = instance.start_spec or {}
    start_event = spec.get("start_event")
    retry = spec.get("kind") == "retry"
    kwargs: dict[str, Any] = {}
    if start_event is not None:
        # Signal-with-start: the event is in the history before the first workflow task.
        # A running workflow of this id gets the signal instead (it dedupes events).
        kwargs = {"start_signal": SIGNAL_EVENT, "start_signal_args": [start_event]}
    else:
        kwargs = {"id_conflict_policy": WorkflowIDConflictPolicy.FAIL}
    if with_attributes:
        kwargs["search_attributes"] = _search_attributes(instance)
    handle = await client.start_workflow(
        INTERPRETER_WORKFLOW,
        params,
        id=instance.workflow_id,
        task_queue=temporal.queue_name(QUEUE_ENGINE),
        memo={
            "definition": instance.definition_key,
            "version": instance.version,
            "businessKey": instance.business_key,
        },
        static_summary=f"{instance.definition_key}@{instance.version}"
        + (f" [{instance.business_key}]" if instance.business_key else ""),
        # A first start never reuses an id (a closed run of it means it already ran);
        # a retry starts a new run of the same id on purpose.
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE
        if retry
        else WorkflowIDReusePolicy.REJECT_DUPLICATE,
        rpc_timeout=timedelta(seconds=START_TIMEOUT_SECONDS),
        **kwargs,
    )
    return handle.result_run_id or handle.first_execution_run_id or ""


def _start_in_temporal(instance: WorkflowInstance, params: InterpreterInput) -> str:
    """Start (or signal-with-start) the workflow; the run id. Raises on any refusal."""
    return temporal.call(
        lambda client: _start_on(client, instance, params), timeout=START_TIMEOUT_SECONDS * 2
    )


def describe_workflow(workflow_id: str) -> Any | None:
    """Temporal's description of the workflow's latest run, or None if it has none."""
    from temporalio.service import RPCError, RPCStatusCode

    async def describe(client):
        return await client.get_workflow_handle(workflow_id).describe()

    try:
        return temporal.call(describe, timeout=START_TIMEOUT_SECONDS)
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            return None
        raise


def _adopt_existing(instance: WorkflowInstance) -> str | None:
    """The run id if the run this start asked for already exists in Temporal."""
    described = describe_workflow(instance.workflow_id)
    if described is None:
        return None
    requested: datetime | None = instance.start_requested_at
    if requested is not None and described.start_time < requested - CLOCK_SKEW:
        return None  # an older run (a retry asks for a new one)
    return described.run_id


def _mark_started(instance_id, run_id: str) -> None:
    WorkflowInstance.objects.filter(pk=instance_id, run_id="").update(run_id=run_id)
    # Only `starting` moves to `running`: the engine may already have reported further.
    WorkflowInstance.objects.filter(pk=instance_id, status=InstanceStatus.STARTING).update(
        status=InstanceStatus.RUNNING, run_id=run_id, updated_at=timezone.now()
    )


def _fail_start(instance: WorkflowInstance, message: str, code: str) -> None:
    with transaction.atomic():
        updated = WorkflowInstance.objects.filter(
            pk=instance.pk, status=InstanceStatus.STARTING
        ).update(
            status=InstanceStatus.FAILED,
            error={"type": code, "message": message, "state": None},
            ended_at=timezone.now(),
            updated_at=timezone.now(),
        )
        if updated:
            InstanceEvent.objects.create(
                instance=instance, event_type="start_failed", details={"message": message}
            )


def dispatch_start(
    instance_id, params: InterpreterInput | None = None, *, check_existing: bool = False
) -> bool:
    """Start the workflow of a committed `starting` row; True when it runs (or already ran).

    Called after the commit that wrote the row (with the params computed then) and by the
    reconciler (`check_existing`: first look whether the start already happened). A failure
    to reach Temporal leaves the row `starting` for the next reconciler pass.
    """
    from temporalio.exceptions import WorkflowAlreadyStartedError

    instance = WorkflowInstance.objects.select_related("definition").filter(pk=instance_id).first()
    if instance is None or instance.status != InstanceStatus.STARTING:
        return instance is not None
    try:
        if check_existing:
            run_id = _adopt_existing(instance)
            if run_id is not None:
                _mark_started(instance.pk, run_id)
                return True
        if params is None:
            params = build_params(instance)
        run_id = _start_in_temporal(instance, params)
    except WorkflowAlreadyStartedError:
        # Started by an earlier attempt of this start (its answer was lost): adopt that run.
        # A run older than the request is not ours: the id is taken (it never is in one
        # deployment, ids are derived from its installation uid).
        run_id = _adopt_existing(instance)
        if run_id is None:
            _fail_start(
                instance,
                f"Temporal already has an older workflow {instance.workflow_id}; "
                "this instance was not started.",
                "workflow_id_taken",
            )
            return False
    except ServiceError as exc:
        # The row cannot be started any more (its definition's secrets or envs went away,
        # a URI it names stopped answering): fail it, with the reason, instead of looping.
        _fail_start(instance, exc.message, str(exc.code))
        return False
    except Exception as exc:  # Temporal unreachable or refusing: the reconciler tries again
        log.warning("instance %s not started yet (%s: %s)", instance.pk, type(exc).__name__, exc)
        return False
    _mark_started(instance.pk, run_id)
    _stop_if_closed_meanwhile(instance)
    return True


# At most this many starts of one batch are in flight at once.
START_CONCURRENCY = 32
_ROW_FIELDS = (
    "id",
    "status",
    "workflow_id",
    "start_spec",
    "definition_key",
    "version",
    "business_key",
    "start_requested_at",
)


def dispatch_starts(params_by_id: dict[Any, InterpreterInput]) -> int:
    """Start the workflows of many committed `starting` rows at once (the bridge routes events
    in batches); the number started. The starts run side by side on the Temporal client's
    loop and their rows move to `running` in one statement. Whatever is unusual (a start met
    an existing workflow, Temporal refused or did not answer) goes the one-by-one way of
    `dispatch_start`, or stays `starting` for the reconciler."""
    if not params_by_id:
        return 0
    rows = list(
        WorkflowInstance.objects.filter(
            pk__in=list(params_by_id), status=InstanceStatus.STARTING
        ).only(*_ROW_FIELDS)
    )
    if not rows:
        return 0

    deadline = START_TIMEOUT_SECONDS * (2 + len(rows) // 16)

    async def start_all(client) -> dict[Any, str | BaseException]:
        gate = asyncio.Semaphore(START_CONCURRENCY)
        outcomes: dict[Any, str | BaseException] = {}

        async def one(instance):
            async with gate:
                try:
                    outcomes[instance.pk] = await _start_on(
                        client, instance, params_by_id[instance.pk]
                    )
                except Exception as exc:  # noqa: BLE001 - sorted out below, per row
                    outcomes[instance.pk] = exc

        try:
            await asyncio.wait_for(asyncio.gather(*(one(row) for row in rows)), timeout=deadline)
        except TimeoutError:
            pass  # what did not finish stays `starting`: the reconciler looks at it
        return outcomes

    try:
        outcomes = temporal.call(start_all, timeout=deadline + START_TIMEOUT_SECONDS)
    except Exception as exc:  # noqa: BLE001 - Temporal unreachable: the reconciler retries
        log.warning(
            "%d instances not started yet (%s: %s): %s",
            len(rows),
            type(exc).__name__,
            exc,
            ", ".join(str(row.pk) for row in rows[:10]) + (" ..." if len(rows) > 10 else ""),
        )
        return 0
    started: list[tuple[Any, str]] = []
    for instance in rows:
        outcome = outcomes.get(instance.pk)
        if outcome is None:
            log.warning("instance %s not started yet (no answer in time)", instance.pk)
        elif isinstance(outcome, str):
            started.append((instance.pk, outcome))
        elif _already_started(outcome):
            dispatch_start(instance.pk, params_by_id[instance.pk], check_existing=True)
        else:
            log.warning(
                "instance %s not started yet (%s: %s)",
                instance.pk,
                type(outcome).__name__,
                outcome,
            )
    _mark_started_many(started)
    closed = WorkflowInstance.objects.filter(
        pk__in=[pk for pk, _ in started],
        status__in=[InstanceStatus.CANCELLED, InstanceStatus.TERMINATED],
    )
    for instance in closed.only("id", "workflow_id", "status"):
        _stop_if_closed_meanwhile(instance)
    return len(started)


def _already_started(exc: BaseException) -> bool:
    from temporalio.exceptions import WorkflowAlreadyStartedError

    return isinstance(exc, WorkflowAlreadyStartedError)


def _mark_started_many(started: list[tuple[Any, str]]) -> None:
    """`_mark_started` for many rows in one statement."""
    if not started:
        return
    table = WorkflowInstance._meta.db_table
    values = ", ".join(["(%s::uuid, %s)"] * len(started))
    params: list[Any] = [part for pair in started for part in (str(pair[0]), pair[1])]
    with connection.cursor() as cur:
        cur.execute(
            f"UPDATE {table} AS t SET "
            "run_id = CASE WHEN t.run_id = '' OR t.status = %s THEN v.run_id ELSE t.run_id END, "
            "updated_at = CASE WHEN t.status = %s THEN now() ELSE t.updated_at END, "
            "status = CASE WHEN t.status = %s THEN %s ELSE t.status END "
            f"FROM (VALUES {values}) AS v(id, run_id) "
            "WHERE t.id = v.id AND (t.run_id = '' OR t.status = %s)",
            [
                InstanceStatus.STARTING,
                InstanceStatus.STARTING,
                InstanceStatus.STARTING,
                InstanceStatus.RUNNING,
                *params,
                InstanceStatus.STARTING,
            ],
        )


def _stop_if_closed_meanwhile(instance: WorkflowInstance) -> None:
    """An operator cancelled or terminated the row while its start was on the way."""
    status = WorkflowInstance.objects.filter(pk=instance.pk).values_list("status", flat=True)
    if status.first() not in {InstanceStatus.CANCELLED, InstanceStatus.TERMINATED}:
        return

    async def stop(client):
        await client.get_workflow_handle(instance.workflow_id).terminate(
            reason="the instance was stopped before its workflow started"
        )

    try:
        temporal.call(stop, timeout=START_TIMEOUT_SECONDS)
    except Exception as exc:  # already closed, or unreachable: the reconciler looks again
        log.info("instance %s: stopping the late start: %s", instance.pk, exc)


def start_after_commit(instance_id, params: InterpreterInput | None = None) -> None:
    """Start the workflow once the current transaction commits (at once outside one)."""
    from apps.core.aftercommit import after_commit

    after_commit(lambda: dispatch_start(instance_id, params))
