"""Operators in the admin: find tasks, reassign and cancel them through the services, read the
audit trail."""

from __future__ import annotations

import pytest

from apps.tasks.models import TaskResume, UserTask

pytestmark = pytest.mark.django_db

LIST = "/admin/tasks/usertask/"


@pytest.fixture
def operator_client(client, make_user):
    client.force_login(
        make_user(
            "ops",
            staff=True,
            perms=["tasks.view_usertask", "tasks.delete_usertask", "tasks.assign_usertask"],
        )
    )
    return client


def test_the_list_filters_and_the_change_page_shows_the_audit_trail(
    operator_client, people, make_task
):
    task = make_task(assignee="bob", title="Invoice 42")
    make_task(title="Other")
    page = operator_client.get(LIST + "?status__exact=assigned").content.decode()
    assert "Invoice 42" in page and "Other" not in page
    page = operator_client.get(LIST + "?q=invoice").content.decode()
    assert "Invoice 42" in page and "Other" not in page
    detail = operator_client.get(f"{LIST}{task.pk}/change/").content.decode()
    assert "Assigned to bob" in detail and "Task created" in detail
    assert "&quot;employee&quot;: &quot;Ann&quot;" in detail  # the input, as JSON


def test_reassigning_selected_tasks_goes_through_the_service(operator_client, people, make_task):
    tasks = [make_task(), make_task(assignee="bob")]
    ids = [str(t.pk) for t in tasks]
    form = operator_client.post(
        LIST, {"action": "reassign_selected", "_selected_action": ids}
    ).content.decode()
    assert "Give these 2 task(s) to" in form
    response = operator_client.post(
        LIST,
        {
            "action": "reassign_selected",
            "_selected_action": ids,
            "apply": "1",
            "assignee": people["member"].pk,
        },
        follow=True,
    )
    assert "2 task(s) given to carol" in response.content.decode()
    for task in UserTask.objects.filter(pk__in=ids):
        assert task.assignee == people["member"] and task.status == "assigned"
        assert task.events.filter(event_type="assigned", actor__username="ops").exists()


def test_cancelling_selected_tasks_deletes_them_and_tells_the_process(
    operator_client, people, make_task
):
    open_task, done = make_task(), make_task(assignee="bob")
    from apps.tasks.services import do_complete_task

    do_complete_task(done, user=people["assignee"], outcome="approved")
    response = operator_client.post(
        LIST,
        {"action": "cancel_selected", "_selected_action": [str(open_task.pk), str(done.pk)]},
        follow=True,
    )
    text = response.content.decode()
    assert "1 task(s) cancelled" in text
    assert "it can no longer be changed" in text  # the completed one is refused, with why
    open_task.refresh_from_db()
    assert open_task.status == "deleted"
    assert TaskResume.objects.get(task=open_task).signal["kind"] == "deleted"


def test_people_without_the_permissions_get_no_actions(client, make_user, make_task):
    make_task()
    client.force_login(make_user("viewer", staff=True, perms=["tasks.view_usertask"]))
    page = client.get(LIST).content.decode()
    assert "reassign_selected" not in page and "cancel_selected" not in page
    assert client.get("/admin/tasks/usertask/add/").status_code == 403
