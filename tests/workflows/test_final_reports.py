"""Instance ends written by the worker's writer (`Run.finish` -> `apply_final_reports`).

The platform's instances hand their end to the worker process instead of a report activity;
these check that a batch of ends is applied as reports would be, and that nothing is lost.
"""

from __future__ import annotations

import uuid

import pytest

from apps.tasks.services import do_create_task
from apps.workflows.models import InstanceEvent, InstanceStatus, WorkflowInstance
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.instances import workflow_id_for
from apps.workflows.services.mirror import apply_final_reports
from tests.tasks.conftest import task_request

from .test_instances_api import GREETING

pytestmark = pytest.mark.django_db


def _row(definition, status=InstanceStatus.RUNNING) -> WorkflowInstance:
    pk = uuid.uuid4()
    return WorkflowInstance.objects.create(
        id=pk,
        definition=definition,
        definition_key=definition.key,
        version=definition.version,
        workflow_id=workflow_id_for(pk),
        status=status,
    )


def _end(row_id, *, status="completed", output=None, platform=True, seq=3) -> dict:
    return {
        "final": True,
        "instance_id": str(row_id),
        "workflow_id": workflow_id_for(row_id) if platform else f"adhoc-{row_id}",
        "seq": seq,
        "status": status,
        "current_states": [],
        "visited_states": ["Greet"],
        "pending_actions": [],
        "timeline": [
            {"kind": "state", "state": "Greet", "time": "2026-11-29T10:00:00+00:00", "seq": 2},
            {"kind": status, "state": None, "time": "2026-11-29T10:00:01+00:00", "seq": seq},
        ],
        "output": output,
        "error": None,
    }


def test_a_batch_of_ends_closes_rows_cancels_their_tasks_and_hands_back_the_invisible():
    definition, _ = do_save_definition(source=GREETING, user=None, publish=True)
    done, with_task, stopped = _row(definition), _row(definition), _row(definition)
    WorkflowInstance.objects.filter(pk=stopped.pk).update(status=InstanceStatus.CANCELLED)
    task = do_create_task(_task_for(with_task))
    invisible, adhoc = uuid.uuid4(), uuid.uuid4()

    applied, failed = apply_final_reports(
        [
            _end(done.pk, output={"greeting": "Hello"}),
            _end(with_task.pk, output={}),
            _end(stopped.pk, output={"late": True}),
            _end(invisible),  # a platform instance whose row is not visible yet
            _end(adhoc, platform=False),  # an ad-hoc run: no row, nothing to write
        ]
    )

    assert [f["instance_id"] for f in failed] == [str(invisible)]
    assert applied == 4
    done.refresh_from_db()
    assert (done.status, done.output, done.ended_at is not None) == (
        "completed",
        {"greeting": "Hello"},
        True,
    )
    assert list(
        InstanceEvent.objects.filter(instance=done).order_by("seq").values_list("event_type")
    ) == [("state",), ("completed",)]
    task.refresh_from_db()
    assert task.status == "cancelled"  # its instance ended: its open task goes with it
    stopped.refresh_from_db()
    assert stopped.status == "cancelled" and stopped.output is None  # the operator's word wins

    # Applied twice (a retry after a lost answer): nothing changes, no duplicate entries.
    apply_final_reports([_end(done.pk, output={"greeting": "Hello"})])
    assert InstanceEvent.objects.filter(instance=done).count() == 2


def _task_for(row: WorkflowInstance):
    request = task_request()
    request.instance_id = str(row.pk)
    request.workflow_id = workflow_id_for(row.pk)
    return request
