"""The tasks API: inbox lists with filters, ordering and cursors; one task; actions; errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.tasks import services
from apps.tasks.models import UserTask

from .conftest import client_for

pytestmark = pytest.mark.django_db


def _ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [row["id"] for row in response.json()["results"]]


def test_the_four_inbox_views(people, make_task):
    bob, carol = people["assignee"], people["member"]
    mine = make_task(assignee="bob")
    queued = make_task()
    delegated = make_task(assignee="bob")
    services.do_delegate_task(delegated, user=bob, delegate=carol)
    done = make_task(assignee="bob")
    services.do_complete_task(done, user=bob, outcome="approved")
    api = client_for(bob)
    assert _ids(api.get("/api/v1/tasks/")) == [str(mine.pk)]  # view=mine is the default
    assert _ids(api.get("/api/v1/tasks/?view=delegated")) == [str(delegated.pk)]
    assert _ids(api.get("/api/v1/tasks/?view=completed")) == [str(done.pk)]
    assert _ids(api.get("/api/v1/tasks/?view=queue")) == []  # bob is no candidate
    carols = client_for(carol)
    assert _ids(carols.get("/api/v1/tasks/?view=mine")) == [str(delegated.pk)]
    assert str(queued.pk) in _ids(carols.get("/api/v1/tasks/?view=queue"))
    row = carols.get("/api/v1/tasks/?view=mine").json()["results"][0]
    assert row["owner"] == "bob" and row["assignee"] == "carol" and row["status"] == "delegated"


def test_filters(people, make_task):
    bob = people["assignee"]
    soon = timezone.now() + timedelta(hours=1)
    a = make_task(assignee="bob", title="Invoice 17 for ACME", priority=90, dueDate="PT1H")
    b = make_task(assignee="bob", title="Holiday request", priority=10, dueDate="P10D")
    c = make_task(assignee="bob", title="Overdue thing", priority=50)
    UserTask.objects.filter(pk=c.pk).update(due_at=timezone.now() - timedelta(hours=1))
    UserTask.objects.filter(pk=a.pk).update(definition_key="invoices")
    api = client_for(bob)

    def ids(query: str) -> set[str]:
        return set(_ids(api.get(f"/api/v1/tasks/?{query}")))

    assert ids("title=acme") == {str(a.pk)}
    assert ids("definition=invoices") == {str(a.pk)}
    assert ids("priority_min=40&priority_max=95") == {str(a.pk), str(c.pk)}
    assert ids(f"due_before={(soon + timedelta(minutes=5)).isoformat()}".replace("+", "%2B")) == {
        str(a.pk),
        str(c.pk),
    }
    assert ids("overdue=true") == {str(c.pk)}
    assert ids("view=all&status=assigned,completed") == {str(a.pk), str(b.pk), str(c.pk)}
    assert ids("view=all&status=completed") == set()
    row = next(r for r in api.get("/api/v1/tasks/").json()["results"] if r["id"] == str(c.pk))
    assert row["overdue"] is True


def test_bad_list_parameters_are_400_in_the_platform_format(people):
    api = client_for(people["assignee"])
    for query, field in [
        ("view=everything", "view"),
        ("status=lost", "status"),
        ("priority_min=101", "priority_min"),
        ("ordering=-title", "ordering"),
        ("cursor=not-a-cursor", "cursor"),
    ]:
        response = api.get(f"/api/v1/tasks/?{query}")
        assert response.status_code == 400, query
        error = response.json()["error"]
        assert error["status"] == 400 and field in error["fields"], (query, error)


def test_cursor_pages_walk_the_list_once_in_priority_order(people, make_task):
    tasks = [make_task(assignee="bob", priority=p) for p in (10, 90, 50, 50, 50, 70, 30)]
    api = client_for(people["assignee"])
    seen: list[str] = []
    url = "/api/v1/tasks/?page_size=3"
    pages = 0
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
        pages += 1
    assert pages == 3 and len(seen) == 7 and len(set(seen)) == 7
    by_id = {str(t.pk): t for t in tasks}
    priorities = [by_id[i].priority for i in seen]
    assert priorities == sorted(priorities, reverse=True)
    equal = [by_id[i] for i in seen if by_id[i].priority == 50]
    assert [t.created_at for t in equal] == sorted((t.created_at for t in equal), reverse=True)


def test_ordering_by_due_date_puts_tasks_without_one_last(people, make_task):
    late = make_task(assignee="bob", dueDate="P3D")
    none = make_task(assignee="bob")
    soon = make_task(assignee="bob", dueDate="PT1H")
    none2 = make_task(assignee="bob")
    api = client_for(people["assignee"])
    seen, url = [], "/api/v1/tasks/?ordering=due&page_size=1"
    while url:
        body = api.get(url).json()
        seen += [row["id"] for row in body["results"]]
        url = body["next"]
    assert seen[:2] == [str(soon.pk), str(late.pk)]
    assert set(seen[2:]) == {str(none.pk), str(none2.pk)} and len(seen) == 4


@pytest.mark.parametrize("view", ["mine", "queue", "all"])
def test_a_list_page_costs_the_same_queries_for_3_or_30_tasks(people, make_task, view):
    api = client_for(people["member"] if view == "queue" else people["assignee"])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert api.get(f"/api/v1/tasks/?view={view}").status_code == 200
        return len(queries)

    for _ in range(3):
        make_task(assignee="bob") if view != "queue" else make_task()
    few = count()
    for _ in range(27):
        make_task(assignee="bob") if view != "queue" else make_task()
    # token; the page; queue: the user's groups; all: permissions (user, group) and groups
    assert count() == few <= 5


def test_detail_has_the_data_history_form_and_allowed_actions(people, make_task):
    task = make_task(assignee="bob", formKey="leave-approval@2")
    services.do_comment_task(task, user=people["member"], text="On it?")
    services.do_save_draft(task, user=people["assignee"], data={"days": 2})
    body = client_for(people["assignee"]).get(f"/api/v1/tasks/{task.pk}/").json()
    assert body["form"] == "leave-approval@2" and body["formSchema"] is None
    assert body["input"] == {"employee": "Ann", "days": 3} and body["draft"] == {"days": 2}
    assert body["outcomes"] == [
        {"name": "approved", "label": "Approve"},
        {"name": "rejected", "label": "Reject"},
    ]
    assert body["allowedActions"] == [
        "unclaim",
        "delegate",
        "draft",
        "complete",
        "comment",
        "attach",
    ]
    assert [c["text"] for c in body["comments"]] == ["On it?"]
    assert [h["text"] for h in body["history"]] == [
        "Task created",
        "Assigned to bob",
        "Comment added by carol",
        "Draft saved by bob",
    ]
    carols = client_for(people["member"]).get(f"/api/v1/tasks/{task.pk}/").json()
    assert carols["allowedActions"] == ["comment"]


def test_claim_then_complete_through_the_api(people, make_task):
    task = make_task()
    api = client_for(people["candidate"])
    claimed = api.post(f"/api/v1/tasks/{task.pk}/claim")
    assert claimed.status_code == 200 and claimed.json()["assignee"] == "alice"
    again = client_for(people["member"]).post(f"/api/v1/tasks/{task.pk}/claim")
    assert again.status_code == 409
    assert again.json()["error"] == {
        "code": "task_wrong_status",
        "message": "This task is already assigned to alice; it cannot be claimed.",
        "status": 409,
    }
    unknown = api.post(f"/api/v1/tasks/{task.pk}/complete", {"outcome": "perhaps"}, format="json")
    assert unknown.status_code == 400 and "outcome" in unknown.json()["error"]["fields"]
    done = api.post(
        f"/api/v1/tasks/{task.pk}/complete",
        {"outcome": "approved", "data": {"comment": "fine"}},
        format="json",
    )
    assert done.status_code == 200, done.content
    assert done.json()["status"] == "completed" and done.json()["allowedActions"] == ["comment"]
    assert api.get(f"/api/v1/tasks/{task.pk}/").json()["output"] == {"comment": "fine"}


def test_complete_honours_the_idempotency_key(people, make_task):
    task = make_task(assignee="bob")
    api = client_for(people["assignee"])
    body = {"outcome": "approved", "data": {"n": 1}}
    first = api.post(
        f"/api/v1/tasks/{task.pk}/complete", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    again = api.post(
        f"/api/v1/tasks/{task.pk}/complete", body, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )
    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    other = api.post(
        f"/api/v1/tasks/{task.pk}/complete",
        {"outcome": "rejected"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )
    assert other.status_code == 409
    without_key = api.post(f"/api/v1/tasks/{task.pk}/complete", body, format="json")
    assert without_key.status_code == 409  # completed already: a second completion is refused


def test_assign_delegate_and_unknown_users(people, make_task):
    task = make_task()
    manager = client_for(people["manager"])
    response = manager.post(f"/api/v1/tasks/{task.pk}/assign", {"assignee": "ghost"}, format="json")
    assert response.status_code == 400 and "assignee" in response.json()["error"]["fields"]
    response = manager.post(f"/api/v1/tasks/{task.pk}/assign", {"assignee": "bob"}, format="json")
    assert response.json()["assignee"] == "bob"
    bob = client_for(people["assignee"])
    response = bob.post(f"/api/v1/tasks/{task.pk}/delegate", {"delegate": "carol"}, format="json")
    assert response.json()["status"] == "delegated"
    response = client_for(people["member"]).post(f"/api/v1/tasks/{task.pk}/resolve")
    assert response.json()["assignee"] == "bob"
    response = manager.post(f"/api/v1/tasks/{task.pk}/assign", {"assignee": None}, format="json")
    assert response.json()["status"] == "unassigned"


def test_an_action_that_takes_the_task_out_of_sight_still_answers(people, make_task):
    # dave is no candidate: once he gives the task back, he no longer sees it
    task = make_task()
    services.do_assign_task(task, user=people["manager"], assignee=people["other"])
    response = client_for(people["other"]).post(f"/api/v1/tasks/{task.pk}/unclaim")
    assert response.status_code == 200 and response.json()["status"] == "unassigned"
    assert response.json()["allowedActions"] == []
    assert client_for(people["other"]).get(f"/api/v1/tasks/{task.pk}/").status_code == 404


def test_the_openapi_schema_documents_the_task_api_and_its_errors(api):
    schema = yaml.safe_load(api.get("/api/schema/").content)
    paths = schema["paths"]
    assert "/api/v1/tasks/" in paths and "/api/v1/tasks/{id}/" in paths
    complete = paths["/api/v1/tasks/{id}/complete"]["post"]
    assert set(complete["responses"]) >= {"200", "400", "401", "403", "404", "409"}
    assert complete["responses"]["409"]["$ref"].endswith("/Conflict")
    assert any(p["name"] == "Idempotency-Key" for p in complete["parameters"])
    listing = paths["/api/v1/tasks/"]["get"]
    names = {p["name"] for p in listing["parameters"]}
    assert names >= {"view", "instance", "definition", "status", "cursor", "ordering", "title"}
    detail = schema["components"]["schemas"]["TaskDetail"]["properties"]
    assert {"allowedActions", "formSchema", "history"} <= set(detail)
