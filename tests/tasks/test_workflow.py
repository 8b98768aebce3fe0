"""The workflow side end to end: the real Temporal dev server, the production worker (the
interpreter and the tasks app's activities), the API as people use it."""

from __future__ import annotations

import time

import pytest

from apps.tasks.models import TaskResume, UserTask
from apps.workflows.models import OutboxEvent, WorkflowInstance
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.instances import do_cancel_instance, do_start_instance

from .conftest import client_for, wait_for_instance

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]


def leave_definition(**state) -> dict:
    usertask = {
        "name": "ApproveLeave",
        "type": "usertask",
        "taskKey": "approve-leave",
        "title": "Leave request from ${ .employee.name }",
        "assignee": "${ .employee.manager }",
        "candidateGroups": ["hr"],
        "priority": 70,
        "dueDate": "PT48H",
        "dataFilter": "${ {employee, days} }",
        "outcomes": [
            {
                "name": "approved",
                "label": "Approve",
                "dataFilter": "${ {decision: .} }",
                "transition": "Book",
            },
            {"name": "rejected", "label": "Reject"},
        ],
        "listeners": [{"on": ["created", "completed"], "produceEventRef": "TaskNotification"}],
        "onTaskDeleted": {"transition": "Cancelled"},
        "onTaskTimeout": {"transition": "AutoReject"},
        "transition": "Rejected",
        **state,
    }
    return {
        "id": "leave",
        "version": "1",
        "specVersion": "0.8",
        "start": "ApproveLeave",
        "events": [
            {
                "name": "TaskNotification",
                "type": "org.example.leave.task",
                "source": "/hr",
                "kind": "produced",
            }
        ],
        "states": [
            usertask,
            {"name": "Book", "type": "inject", "data": {"booked": True}, "end": True},
            {"name": "Rejected", "type": "inject", "data": {"booked": False}, "end": True},
            {"name": "Cancelled", "type": "inject", "data": {"cancelled": True}, "end": True},
            {"name": "AutoReject", "type": "inject", "data": {"auto": True}, "end": True},
        ],
    }


DATA = {"employee": {"name": "Ann", "manager": ""}, "days": 3}


def start_leave(data=None, **state) -> WorkflowInstance:
    definition, _ = do_save_definition(source=leave_definition(**state), user=None, publish=True)
    assert definition.status == "published", definition.issues
    return do_start_instance(definition=definition, input=data or DATA)


def wait_for_task(instance, timeout: float = 30.0) -> UserTask:
    deadline = time.monotonic() + timeout
    while True:
        task = UserTask.objects.filter(instance_id=instance.pk).first()
        if task is not None:
            return task
        assert time.monotonic() < deadline, "no task appeared"
        time.sleep(0.05)


def test_the_task_appears_is_claimed_and_its_outcome_moves_the_instance_on(people):
    instance = start_leave()
    task = wait_for_task(instance)
    # the task is what the state said, evaluated over the instance's data
    assert task.title == "Leave request from Ann" and task.status == "unassigned"
    assert task.candidate_groups == ["hr"] and task.priority == 70
    assert task.input == {"employee": {"name": "Ann", "manager": ""}, "days": 3}
    assert task.definition_key == "leave" and task.workflow_id == instance.workflow_id
    waiting = wait_for_instance(instance.pk, statuses=("waiting",))
    assert waiting.current_states == ["ApproveLeave"]

    carol = client_for(people["member"])
    assert str(task.pk) in [
        r["id"] for r in carol.get("/api/v1/tasks/?view=queue").json()["results"]
    ]
    assert carol.post(f"/api/v1/tasks/{task.pk}/claim").status_code == 200
    done = carol.post(
        f"/api/v1/tasks/{task.pk}/complete",
        {"outcome": "approved", "data": {"comment": "enjoy"}},
        format="json",
    )
    assert done.status_code == 200, done.content

    finished = wait_for_instance(instance.pk)
    assert finished.status == "completed", finished.error
    assert finished.output == {**DATA, "decision": {"comment": "enjoy"}, "booked": True}
    assert TaskResume.objects.get(task=task).status == "signalled"
    listened = OutboxEvent.objects.filter(event_type="org.example.leave.task").order_by("id")
    assert [e.data["event"] for e in listened] == ["created", "completed"]
    assert listened[0].source == "/hr" and listened[0].instance_id == instance.pk


def test_an_outcome_without_a_transition_takes_the_states(people):
    instance = start_leave({"employee": {"name": "Ann", "manager": "bob"}, "days": 3})
    task = wait_for_task(instance)
    assert task.assignee == people["assignee"] and task.status == "assigned"
    bob = client_for(people["assignee"])
    response = bob.post(
        f"/api/v1/tasks/{task.pk}/complete",
        {"outcome": "rejected", "data": {"reason": "busy"}},
        format="json",
    )
    assert response.status_code == 200, response.content
    finished = wait_for_instance(instance.pk)
    assert finished.output["reason"] == "busy" and finished.output["booked"] is False


def test_deleting_the_task_takes_on_task_deleted(people):
    instance = start_leave()
    task = wait_for_task(instance)
    response = client_for(people["operator"]).delete(f"/api/v1/tasks/{task.pk}/?reason=dup")
    assert response.status_code == 204
    finished = wait_for_instance(instance.pk)
    assert finished.status == "completed" and finished.output["cancelled"] is True
    task.refresh_from_db()
    assert task.status == "deleted"


def test_the_task_timeout_takes_on_task_timeout(people):
    instance = start_leave(timeouts={"taskTimeout": "PT2S"})
    task = wait_for_task(instance)
    finished = wait_for_instance(instance.pk)
    assert finished.status == "completed" and finished.output["auto"] is True
    task.refresh_from_db()
    assert task.status == "timed_out"
    assert OutboxEvent.objects.filter(
        event_type="io.xflow.task.timed_out", attributes__xflowtaskid=str(task.pk)
    ).exists()


@pytest.mark.parametrize("how", ["cancel", "terminate"])
def test_ending_the_instance_cancels_its_open_task(people, how):
    from apps.workflows.services.instances import do_terminate_instance

    instance = start_leave()
    task = wait_for_task(instance)
    wait_for_instance(instance.pk, statuses=("waiting",))
    stop = do_cancel_instance if how == "cancel" else do_terminate_instance
    stop(instance, user=people["operator"], reason="test")
    wait_for_instance(instance.pk)
    deadline = time.monotonic() + 10
    while UserTask.objects.get(pk=task.pk).status != "cancelled":
        assert time.monotonic() < deadline, UserTask.objects.get(pk=task.pk).status
        time.sleep(0.05)
    body = client_for(people["member"]).get(f"/api/v1/tasks/{task.pk}/").json()
    assert body["status"] == "cancelled" and body["allowedActions"] == ["comment"]
    assert "Cancelled" in body["history"][-1]["text"]


def test_a_value_out_of_range_is_corrected_and_the_instance_does_not_hang(people):
    instance = start_leave(priority="${ .days * 100 }")
    task = wait_for_task(instance)
    assert task.priority == 100
    body = client_for(people["member"]).get(f"/api/v1/tasks/{task.pk}/").json()
    assert "priority 300 is outside 0..100; 100 is used" in body["history"][0]["text"]
    assert wait_for_instance(instance.pk, statuses=("waiting",)).current_states == ["ApproveLeave"]


def test_people_with_a_task_in_an_instance_may_view_it_and_no_one_else(people):
    instance = start_leave()
    wait_for_task(instance)
    url = f"/api/v1/instances/{instance.pk}/"
    # hr member carol may claim the task: she sees the instance it belongs to, and finds it
    # in her instance list; dave (sales) has no part in it.
    carol, dave = client_for(people["member"]), client_for(people["other"])
    assert carol.get(url).status_code == 200
    assert str(instance.pk) in [r["id"] for r in carol.get("/api/v1/instances/").json()["results"]]
    assert dave.get(url).status_code == 404
    assert dave.get("/api/v1/instances/").json()["results"] == []


def test_the_admin_instance_page_lists_its_tasks(people, client):
    instance = start_leave()
    task = wait_for_task(instance)
    client.force_login(people["operator"])
    client.force_login(
        type(people["operator"]).objects.create_superuser("root", "root@example.com", "pw-x-123")
    )
    page = client.get(f"/admin/workflows/workflowinstance/{instance.pk}/change/").content.decode()
    assert f"/admin/tasks/usertask/{task.pk}/change/" in page
    assert "Leave request from Ann" in page


def test_secrets_in_a_tasks_title_and_input_never_reach_the_people_doing_it(people):
    from apps.core.masking import MASK
    from apps.workflows.services.secrets import do_set_secret

    do_set_secret(name="apiKey", value="sk-live-8d7f6e5a4b3c", user=None)
    document = leave_definition(
        title="Call the partner with ${ $SECRETS.apiKey }",
        dataFilter="${ {employee, token: $SECRETS.apiKey} }",
    )
    document["secrets"] = ["apiKey"]
    definition, _ = do_save_definition(source=document, user=None, publish=True)
    instance = do_start_instance(definition=definition, input=DATA)
    task = wait_for_task(instance)
    assert task.title == f"Call the partner with {MASK}"
    assert task.input["token"] == MASK
    carol = client_for(people["member"])
    detail = carol.get(f"/api/v1/tasks/{task.pk}").content.decode()
    assert "sk-live-8d7f6e5a4b3c" not in detail
