"""What people do on a task's page, as form posts: claim, unclaim, complete, draft, comment,
delegate, resolve, assign, delete — the messages they read, the refusals, CSRF."""

from __future__ import annotations

import re
import uuid

import pytest
from django.test import Client

from apps.tasks.models import TaskComment, UserTask

from .conftest import messages_of, titles

pytestmark = pytest.mark.django_db


def post(browser: Client, task, action: str, data=None):
    """Post the action's form and follow the answer to the page the user lands on."""
    return browser.post(f"/inbox/tasks/{task.pk}/{action}/", data or {}, follow=True)


def fresh(task) -> UserTask:
    return UserTask.objects.get(pk=task.pk)


def test_claim_then_complete_with_an_outcome(people, make_task, browser_for):
    task = make_task(title="Leave for Ann")
    carol = browser_for(people["member"])

    page = post(carol, task, "claim")
    assert page.redirect_chain == [(f"/inbox/tasks/{task.pk}/", 302)]
    assert messages_of(page) == ["You claimed “Leave for Ann”: it is in My tasks now."]
    assert fresh(task).assignee == people["member"] and fresh(task).status == "assigned"

    page = post(carol, task, "complete", {"outcome": "approved"})
    assert page.redirect_chain == [("/inbox/", 302)]
    assert messages_of(page) == [
        "You completed “Leave for Ann” with “Approve”. Its process moves on; the task is "
        "under Completed."
    ]
    done = fresh(task)
    assert done.status == "completed" and done.outcome == "approved"
    assert done.completed_by == people["member"] and done.output is None
    assert titles(page) == []  # gone from My tasks
    assert titles(carol.get("/inbox/?view=completed")) == ["Leave for Ann"]
    result = carol.get(f"/inbox/tasks/{task.pk}/").content.decode()
    assert "Outcome: <strong>Approve</strong>" in result
    assert "This task is completed; nothing more can be done with it." in result


def test_csrf_is_enforced_on_actions(people, make_task):
    task = make_task()
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(people["member"])
    refused = browser.post(f"/inbox/tasks/{task.pk}/claim/")
    assert refused.status_code == 403
    assert fresh(task).status == "unassigned"
    # the page's own form carries the token: posting it works
    page = browser.get(f"/inbox/tasks/{task.pk}/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    done = browser.post(f"/inbox/tasks/{task.pk}/claim/", {"csrfmiddlewaretoken": token})
    assert done.status_code == 302
    assert fresh(task).status == "assigned"


def test_actions_are_posts_only(people, make_task, browser_for):
    task = make_task()
    carol = browser_for(people["member"])
    assert carol.get(f"/inbox/tasks/{task.pk}/claim/").status_code == 405
    assert carol.post(f"/inbox/tasks/{task.pk}/explode/").status_code == 404
    assert fresh(task).status == "unassigned"


def test_refusals_are_messages_never_500(people, make_task, browser_for):
    task = make_task()
    carol, alice = browser_for(people["member"]), browser_for(people["candidate"])
    bob = browser_for(people["assignee"])

    # not the assignee: completing an unassigned task
    page = post(carol, task, "complete", {"outcome": "approved"})
    assert page.status_code == 409
    assert "This task is not assigned to anyone yet: claim it first." in messages_of(page)

    post(carol, task, "claim")
    # a second candidate comes too late
    page = post(alice, task, "claim")
    assert page.status_code == 409
    assert messages_of(page) == ["This task is already assigned to carol; it cannot be claimed."]
    # bob has no part in it: not told it exists
    assert post(bob, task, "claim").status_code == 404
    assert post(bob, task, "comment", {"text": "hi"}).status_code == 404
    # alice sees it (a candidate) but it is carol's to complete
    page = post(alice, task, "complete", {"outcome": "approved"})
    assert page.status_code == 403
    assert messages_of(page) == ["Only the task's assignee (carol) may do this."]
    # an outcome the task does not have
    page = post(carol, task, "complete", {"outcome": "maybe"})
    assert page.status_code == 400
    assert messages_of(page) == [
        "'maybe' is not an outcome of this task; choose one of approved, rejected."
    ]
    assert fresh(task).status == "assigned"
    # nonexistent task
    assert post(carol, UserTask(pk=uuid.uuid4()), "claim").status_code == 404


def test_comments(people, make_task, browser_for):
    task = make_task()
    carol = browser_for(people["member"])
    page = post(carol, task, "comment", {"text": "  I can take this tomorrow  "})
    assert page.redirect_chain == [(f"/inbox/tasks/{task.pk}/#comments", 302)]
    assert messages_of(page) == ["Your comment is added."]
    assert TaskComment.objects.get(task=task).text == "I can take this tomorrow"
    assert "I can take this tomorrow" in page.content.decode()
    empty = post(carol, task, "comment", {"text": "   "})
    assert empty.status_code == 400
    assert messages_of(empty) == ["The comment was not added: write 1 to 10,000 characters."]
    assert TaskComment.objects.filter(task=task).count() == 1


def test_unclaim_puts_it_back_in_the_queue(people, make_task, browser_for):
    task = make_task()
    carol = browser_for(people["member"])
    post(carol, task, "claim")
    page = post(carol, task, "unclaim")
    assert messages_of(page) == [f"“{task.title}” is back in its queue."]
    assert fresh(task).status == "unassigned" and fresh(task).assignee is None
    assert task.title in carol.get("/inbox/?view=queue").content.decode()


def test_delegate_and_resolve(people, make_task, browser_for):
    task = make_task(assignee="bob")
    bob, carol = browser_for(people["assignee"]), browser_for(people["member"])
    page = post(bob, task, "delegate", {"username": "nobody-like-this"})
    assert page.status_code == 400
    assert messages_of(page) == ["There is no active user 'nobody-like-this'."]
    page = post(bob, task, "delegate", {"username": "carol"})
    assert messages_of(page) == [
        f"You delegated “{task.title}” to carol; they hand it back to you when done."
    ]
    assert fresh(task).status == "delegated"
    assert task.title in bob.get("/inbox/?view=delegated").content.decode()
    page = carol.get(f"/inbox/tasks/{task.pk}/")
    assert "Hand back to bob" in page.content.decode()
    page = post(carol, task, "resolve")
    assert messages_of(page) == [f"You handed “{task.title}” back to bob."]
    assert fresh(task).assignee == people["assignee"] and fresh(task).status == "assigned"


def test_managers_assign_and_operators_delete(people, make_task, browser_for):
    task = make_task()
    carol = browser_for(people["member"])
    page = post(carol, task, "assign", {"username": "bob"})
    assert page.status_code == 403
    assert messages_of(page) == [
        "Only managers (permission tasks.assign_usertask) may assign tasks."
    ]
    manager = browser_for(people["manager"])
    page = post(manager, task, "assign", {"username": "bob"})
    assert messages_of(page) == [f"“{task.title}” is assigned to bob."]
    assert fresh(task).assignee == people["assignee"]
    page = post(manager, task, "assign", {"username": ""})
    assert messages_of(page) == [f"“{task.title}” is assigned back to its queue."]
    assert fresh(task).status == "unassigned"

    operator = browser_for(people["operator"])
    html = operator.get(f"/inbox/tasks/{task.pk}/").content.decode()
    assert "Delete this task (operators)" in html
    page = post(operator, task, "delete", {"reason": "duplicate"})
    assert fresh(task).status == "deleted"
    assert "is deleted; its process takes the deleted path." in messages_of(page)[0]


def test_draft_and_complete_with_form_fields(people, make_task, browser_for, form_schemas):
    form_schemas["leave-form"] = {
        "type": "object",
        "required": ["reason", "days"],
        "properties": {
            "reason": {"type": "string", "minLength": 3},
            "days": {"type": "integer", "minimum": 1},
            "urgent": {"type": "boolean"},
            "start": {"type": "string", "format": "date"},
        },
    }
    task = make_task(assignee="bob", formKey="leave-form")
    bob = browser_for(people["assignee"])

    # a draft may be partial
    page = post(bob, task, "draft", {"data-reason": "Family"})
    assert messages_of(page) == ["Draft saved. Only you see it until you complete the task."]
    assert fresh(task).draft == {"reason": "Family", "urgent": False}
    assert 'value="Family"' in page.content.decode()  # the fields come back filled

    # completing checks the fields: errors by the field, nothing completed
    page = post(bob, task, "complete", {"outcome": "approved", "data-reason": "Family"})
    assert page.status_code == 400
    html = page.content.decode()
    assert "The task is not completed yet: correct the fields marked below." in messages_of(page)
    assert re.search(r'name="data-days".*?<p class="error">This field is required.</p>', html, re.S)
    assert fresh(task).status == "assigned"

    page = post(
        bob,
        task,
        "complete",
        {
            "outcome": "approved",
            "data-reason": "Family",
            "data-days": "3",
            "data-urgent": "on",
            "data-start": "2030-05-01",
        },
    )
    assert page.redirect_chain == [("/inbox/", 302)]
    done = fresh(task)
    assert done.status == "completed" and done.outcome == "approved"
    assert done.output == {"reason": "Family", "days": 3, "urgent": True, "start": "2030-05-01"}


def test_the_form_schema_is_checked_by_the_service_too(
    people, make_task, browser_for, form_schemas
):
    # a rule the fields cannot express (a pattern) is the service's to refuse
    form_schemas["code-form"] = {
        "type": "object",
        "properties": {"code": {"type": "string", "pattern": "^[A-Z]{3}$"}},
    }
    task = make_task(assignee="bob", formKey="code-form")
    bob = browser_for(people["assignee"])
    page = post(bob, task, "complete", {"outcome": "approved", "data-code": "abc"})
    assert page.status_code == 400
    assert messages_of(page)[0].startswith("The data does not fit the form: data.code:")
    assert 'value="abc"' in page.content.decode()  # what was typed is kept
    assert fresh(task).status == "assigned"
