"""Who may do what with a task, as a matrix: seven roles × every action, list and detail.

Each cell is the HTTP status the role gets from the API. Wherever the role sees the task, the
detail's `allowedActions` must agree with what the action then does (one helper decides).
"""

from __future__ import annotations

import pytest

from apps.tasks import services
from apps.tasks.models import UserTask

from .conftest import client_for

pytestmark = pytest.mark.django_db

ROLES = ("assignee", "candidate", "member", "other", "manager", "operator", "anonymous")

# action -> (the task's starting point, request body, status per role in ROLES order)
MATRIX = {
    "claim": ("unassigned", None, (404, 200, 200, 404, 403, 403, 401)),
    "unclaim": ("assigned", None, (200, 403, 403, 404, 200, 403, 401)),
    "assign": ("assigned", {"assignee": "erin"}, (403, 403, 403, 404, 200, 403, 401)),
    "delegate": ("assigned", {"delegate": "erin"}, (200, 403, 403, 404, 403, 403, 401)),
    "resolve": ("delegated", None, (200, 403, 403, 404, 403, 403, 401)),
    "draft": ("assigned", {"data": {"a": 1}}, (200, 403, 403, 404, 403, 403, 401)),
    "complete": (
        "assigned",
        {"outcome": "approved", "data": {}},
        (200, 403, 403, 404, 403, 403, 401),
    ),
    "comments": ("assigned", {"text": "hello"}, (201, 201, 201, 404, 201, 201, 401)),
    "delete": ("assigned", None, (403, 403, 403, 404, 403, 204, 401)),
}
CASES = [
    (action, role, codes[i])
    for action, (_, _, codes) in MATRIX.items()
    for i, role in enumerate(ROLES)
]


@pytest.fixture
def cast(people, make_user):
    return {**people, "erin": make_user("erin"), "anonymous": None}


def _task(cast, make_task, start: str) -> UserTask:
    """A task of candidates alice + hr, in the starting point the action needs."""
    if start == "unassigned":
        return make_task()
    if start == "delegated":
        # erin owns it and delegated it to bob, the matrix's assignee
        task = make_task(assignee="erin")
        return services.do_delegate_task(task, user=cast["erin"], delegate=cast["assignee"])
    return make_task(assignee="bob")


def _call(client, action: str, task: UserTask, body):
    if action == "delete":
        return client.delete(f"/api/v1/tasks/{task.pk}/")
    return client.post(f"/api/v1/tasks/{task.pk}/{action}", body or {}, format="json")


@pytest.mark.parametrize(("action", "role", "expected"), CASES)
def test_the_matrix(cast, make_task, action, role, expected):
    start, body, _ = MATRIX[action]
    task = _task(cast, make_task, start)
    client = client_for(cast[role])
    detail = client.get(f"/api/v1/tasks/{task.pk}/")
    if detail.status_code == 200:
        name = "comment" if action == "comments" else action
        assert (name in detail.json()["allowedActions"]) == (expected < 300), detail.json()[
            "allowedActions"
        ]
    response = _call(client, action, task, body)
    assert response.status_code == expected, response.content
    if expected >= 400:
        error = response.json()["error"]
        assert error["status"] == expected and error["message"]
        assert error["code"] in {
            "task_not_found",
            "task_action_not_allowed",
            "not_authenticated",
        }


VISIBILITY = {
    "assignee": (200, True),
    "candidate": (200, True),
    "member": (200, True),
    "other": (404, False),
    "manager": (200, True),
    "operator": (200, True),
    "anonymous": (401, None),
}


@pytest.mark.parametrize("role", ROLES)
def test_who_sees_the_task_in_lists_and_detail(cast, make_task, role):
    task = make_task(assignee="bob")
    make_task(candidateUsers=[], candidateGroups=["sales"])  # dave's; nobody else's
    client = client_for(cast[role])
    detail_status, listed = VISIBILITY[role]
    assert client.get(f"/api/v1/tasks/{task.pk}/").status_code == detail_status
    response = client.get("/api/v1/tasks/?view=all")
    if listed is None:
        assert response.status_code == 401
        return
    ids = [row["id"] for row in response.json()["results"]]
    assert (str(task.pk) in ids) == listed
    if role in ("manager", "operator"):
        assert len(ids) == 2  # they see every task
    elif role == "other":
        assert len(ids) == 1  # only the sales task


def test_a_user_with_a_task_in_an_instance_may_view_that_instance(cast, make_task):
    from apps.tasks.permissions import can_view_instance, instances_with_tasks_for
    from apps.workflows.models import WorkflowDefinition, WorkflowInstance

    definition = WorkflowDefinition.objects.create(
        key="k", version="1", source="{}", document={"id": "k"}, status="published"
    )
    instance = WorkflowInstance.objects.create(
        definition=definition, definition_key="k", version="1", workflow_id="xflow-k"
    )
    task = make_task(assignee="bob")
    UserTask.objects.filter(pk=task.pk).update(instance=instance)
    assert can_view_instance(cast["assignee"], instance)
    assert can_view_instance(cast["member"], instance)
    assert not can_view_instance(cast["other"], instance)
    visible = WorkflowInstance.objects.filter(instances_with_tasks_for(cast["candidate"]))
    assert list(visible) == [instance]
    assert not WorkflowInstance.objects.filter(instances_with_tasks_for(cast["other"])).exists()
