"""The inbox lists: sign-in, the five tabs, filters, overdue, paging, constant queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from apps.tasks import services
from apps.tasks.models import UserTask

from .conftest import messages_of, titles

pytestmark = pytest.mark.django_db


def test_the_inbox_asks_to_sign_in_first(client, make_task):
    task = make_task()
    for url in ("/inbox/", "/inbox/?view=queue", f"/inbox/tasks/{task.pk}/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/inbox/login/")
    response = client.post(f"/inbox/tasks/{task.pk}/claim/")
    assert response.status_code == 302 and response["Location"].startswith("/inbox/login/")
    assert UserTask.objects.get(pk=task.pk).status == "unassigned"


def test_each_tab_lists_what_it_says(people, make_task, browser_for):
    bob, carol = people["assignee"], people["member"]
    make_task(assignee="bob", title="Mine to do")
    make_task(title="Waiting in the queue")
    delegated = make_task(assignee="bob", title="Handed to Carol")
    services.do_delegate_task(delegated, user=bob, delegate=carol)
    done = make_task(assignee="bob", title="Already done")
    services.do_complete_task(done, user=bob, outcome="approved")
    make_task(candidateGroups=["sales"], candidateUsers=[], title="Not for bob or carol")

    page = browser_for(bob)
    home = page.get("/inbox/")
    assert titles(home) == ["Mine to do"]  # "My tasks" is the default tab
    html = home.content.decode()
    assert 'aria-current="page">My tasks' in html
    # the tabs say how many each holds
    assert 'My tasks <span class="count">1<span class="vh"> task</span>' in html
    assert titles(page.get("/inbox/?view=delegated")) == ["Handed to Carol"]
    assert titles(page.get("/inbox/?view=completed")) == ["Already done"]
    assert titles(page.get("/inbox/?view=queue")) == []  # bob is no candidate
    assert "No task is waiting for you" in page.get("/inbox/?view=queue").content.decode()
    assert set(titles(page.get("/inbox/?view=all"))) == {
        "Mine to do",
        "Handed to Carol",
        "Already done",
    }

    carols = browser_for(carol)
    assert titles(carols.get("/inbox/?view=mine")) == ["Handed to Carol"]
    queue = carols.get("/inbox/?view=queue")
    assert titles(queue) == ["Waiting in the queue"]
    # a queue row has its own claim button (a form post)
    assert re.search(r'<form method="post" action="/inbox/tasks/[^"]+/claim/">', queue.text)
    assert "(for bob)" in carols.get("/inbox/?view=mine").content.decode()


def test_filters_search_and_overdue(people, make_task, browser_for):
    bob = people["assignee"]
    a = make_task(assignee="bob", title="Invoice 17 for ACME", priority=90, dueDate="PT1H")
    make_task(assignee="bob", title="Holiday request", priority=10, dueDate="P10D")
    c = make_task(assignee="bob", title="Overdue thing", priority=50)
    UserTask.objects.filter(pk=c.pk).update(due_at=timezone.now() - timedelta(days=2))
    UserTask.objects.filter(pk=a.pk).update(definition_key="invoices")
    page = browser_for(bob)

    assert titles(page.get("/inbox/?title=acme")) == ["Invoice 17 for ACME"]
    assert titles(page.get("/inbox/?definition=invoices")) == ["Invoice 17 for ACME"]
    assert titles(page.get("/inbox/?priority_min=40&priority_max=95")) == [
        "Invoice 17 for ACME",
        "Overdue thing",
    ]
    today = timezone.localdate()
    in_a_week = (today + timedelta(days=7)).isoformat()
    assert titles(page.get(f"/inbox/?due_after={today.isoformat()}&due_before={in_a_week}")) == [
        "Invoice 17 for ACME"
    ]
    assert titles(page.get("/inbox/?overdue=on")) == ["Overdue thing"]
    assert titles(page.get("/inbox/?ordering=due")) == [
        "Overdue thing",
        "Invoice 17 for ACME",
        "Holiday request",
    ]
    # overdue is highlighted, in words as well as colour
    html = page.get("/inbox/").content.decode()
    row = re.search(r'<tr class="is-overdue">.*?</tr>', html, re.S).group(0)
    assert "Overdue thing" in row and '<strong class="overdue">Overdue</strong>' in row
    assert html.count('class="is-overdue"') == 1
    # a filtered list says so and offers to clear it
    filtered = page.get("/inbox/?title=nothing-like-this").content.decode()
    assert "No task matches these filters" in filtered and "Clear filters" in filtered


def test_status_filter_of_all_tasks(people, make_task, browser_for):
    bob = people["assignee"]
    make_task(assignee="bob", title="Open one")
    done = make_task(assignee="bob", title="Closed one")
    services.do_complete_task(done, user=bob, outcome="rejected")
    page = browser_for(bob)
    assert titles(page.get("/inbox/?view=all&status=completed")) == ["Closed one"]
    assert titles(page.get("/inbox/?view=all&status=assigned")) == ["Open one"]


def test_bad_filters_are_explained_not_a_500(people, browser_for):
    page = browser_for(people["assignee"])
    for query in (
        "priority_min=500",
        "priority_min=80&priority_max=20",
        "due_after=yesterday",
        "view=everything",
        "status=lost&view=all",
    ):
        response = page.get(f"/inbox/?{query}")
        assert response.status_code == 200, query
        assert "Some filters are not valid" in response.content.decode(), query


def test_pages_follow_a_cursor(people, make_task, browser_for):
    for i in range(30):
        make_task(assignee="bob", title=f"Task {i:02d}", priority=i)
    page = browser_for(people["assignee"])
    first = page.get("/inbox/?title=Task")
    assert titles(first) == [f"Task {i:02d}" for i in range(29, 4, -1)]
    link = re.search(r'<a href="(\?[^"]+)" rel="next">Next page</a>', first.text).group(1)
    assert "title=Task" in link  # the filters are kept
    second = page.get("/inbox/" + link.replace("&amp;", "&"))
    assert titles(second) == [f"Task {i:02d}" for i in range(4, -1, -1)]
    assert 'rel="next"' not in second.text and "First page" in second.text
    stale = page.get("/inbox/?cursor=not-a-cursor")
    assert titles(stale)[0] == "Task 29"
    assert any("start again from the first page" in m for m in messages_of(stale))


@pytest.mark.parametrize("view", ["mine", "queue"])
def test_a_list_page_costs_the_same_queries_for_1_or_20_tasks(
    view, people, make_task, make_process_task, browser_for, django_assert_num_queries
):
    kind = {"assignee": "carol"} if view == "mine" else {}
    browser = browser_for(people["member"])
    # a task of a recorded instance: the page masks its process's secrets
    make_process_task(**kind)
    with CaptureQueriesContext(connection) as one:
        assert len(titles(browser.get(f"/inbox/?view={view}"))) == 1
    for i in range(19):
        (make_process_task if i % 2 else make_task)(**kind)
    with django_assert_num_queries(len(one)):
        assert len(titles(browser.get(f"/inbox/?view={view}"))) == 20
