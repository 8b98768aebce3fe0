"""A task's page: what it shows (data without JSON, outcomes, history, diagram), to whom,
and the buttons each person gets."""

from __future__ import annotations

import re
import uuid

import pytest

from apps.tasks import services
from apps.workflows.services.secrets import do_set_secret

from .conftest import leave_process

pytestmark = pytest.mark.django_db


def buttons(response) -> list[str]:
    """The labels of the page's submit buttons (what the user can do)."""
    html = response.content.decode()
    found = re.findall(r'<button type="submit"(?![^>]*\bhidden\b)[^>]*>([^<]+)</button>', html)
    return [b.strip() for b in found if b.strip() != "Sign out"]


def test_the_page_shows_the_input_as_labelled_rows_not_json(people, make_task, browser_for):
    task = make_task(assignee="bob")
    task.input = {
        "employee": {"fullName": "Ann Lee", "manager_name": "Bob"},
        "days": 3,
        "paid": True,
        "dates": ["2030-01-02", "2030-01-03"],
        "notes": None,
        "items": [{"what": "train", "cost": 120}],
    }
    task.save()
    html = browser_for(people["assignee"]).get(f"/inbox/tasks/{task.pk}/").content.decode()
    section = re.search(r'<h2 id="input-h">.*?</section>', html, re.S).group(0)
    for label, value in [
        ("Full name", "Ann Lee"),
        ("Manager name", "Bob"),
        ("Days", "3"),
        ("Paid", "Yes"),
        ("What", "train"),
        ("Cost", "120"),
    ]:
        assert re.search(rf"<dt>{label}</dt><dd>{value}</dd>", section), label
    assert "<li>2030-01-02</li><li>2030-01-03</li>" in section
    assert "not set" in section
    text = re.sub(r"<[^>]+>", " ", section)
    assert not set('{}[]":') & set(text), text  # no JSON punctuation in what is read


def test_a_candidate_sees_claim_the_assignee_sees_the_outcomes(people, make_task, browser_for):
    queued = make_task()
    carol = browser_for(people["member"])
    page = carol.get(f"/inbox/tasks/{queued.pk}/")
    assert page.status_code == 200
    # A candidate may add material to a queued task (an attachment) before anyone claims it.
    assert buttons(page) == ["Claim this task", "Attach", "Add comment"]

    mine = make_task(assignee="bob")
    bob = browser_for(people["assignee"])
    page = bob.get(f"/inbox/tasks/{mine.pk}/")
    assert buttons(page) == [
        "Approve",
        "Reject",
        "Put back in the queue",
        "Delegate",
        "Attach",
        "Add comment",
    ]
    assert "This task has no form: choose an outcome" in page.content.decode()
    # the outcome buttons are one form posting to complete, each naming its outcome
    html = page.content.decode()
    assert f'action="/inbox/tasks/{mine.pk}/complete/"' in html
    assert 'name="outcome" value="approved"' in html and 'name="outcome" value="rejected"' in html

    # carol may see bob's task (she is a candidate) but not act on it
    page = carol.get(f"/inbox/tasks/{mine.pk}/")
    assert buttons(page) == ["Add comment"]
    assert "bob is working on this task." in page.content.decode()


def test_who_may_not_see_a_task_gets_a_404(people, make_task, browser_for):
    task = make_task(assignee="bob")
    outsider = browser_for(people["other"])
    for url in (f"/inbox/tasks/{task.pk}/", f"/inbox/tasks/{uuid.uuid4()}/"):
        response = outsider.get(url)
        assert response.status_code == 404
        assert b"Page not found" in response.content
    assert outsider.get(f"/inbox/tasks/{task.pk}/diagram.svg").status_code == 404
    # operators see every task
    assert browser_for(people["operator"]).get(f"/inbox/tasks/{task.pk}/").status_code == 200


def test_history_and_comments_are_shown(people, make_task, browser_for):
    bob = people["assignee"]
    task = make_task(assignee="bob")
    services.do_comment_task(task, user=bob, text="Checking with HR\nback tomorrow")
    html = browser_for(bob).get(f"/inbox/tasks/{task.pk}/").content.decode()
    history = re.search(r'<ol class="history">.*?</ol>', html, re.S).group(0)
    assert "Task created" in history and "Assigned to bob" in history
    assert "Comment added by bob" in history
    assert '<p class="multiline">Checking with HR\nback tomorrow</p>' in html


def test_the_process_diagram_shows_where_it_stands(people, make_process_task, browser_for):
    task = make_process_task()
    carol = browser_for(people["member"])
    html = carol.get(f"/inbox/tasks/{task.pk}/").content.decode()
    assert "The process is <strong>waiting</strong>, at <strong>ApproveLeave</strong>" in html
    assert f'<img src="/inbox/tasks/{task.pk}/diagram.svg"' in html
    svg = carol.get(f"/inbox/tasks/{task.pk}/diagram.svg")
    assert svg.status_code == 200 and svg["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in svg.content and b"ApproveLeave" in svg.content and b"Book" in svg.content
    assert svg["Content-Security-Policy"].startswith("default-src 'none'")


def test_secrets_of_the_process_are_masked(people, make_process_task, browser_for):
    do_set_secret(name="PAYROLL_TOKEN", value="tok-4711-very-secret")
    task = make_process_task(
        leave_process(secrets=["PAYROLL_TOKEN"]),
        data={"token": "tok-4711-very-secret", "days": 3},
        title="Payroll tok-4711-very-secret",
    )
    carol = browser_for(people["member"])
    for url in (f"/inbox/tasks/{task.pk}/", "/inbox/?view=queue"):
        html = carol.get(url).content.decode()
        assert "tok-4711-very-secret" not in html, url
        assert "********" in html, url


def test_a_form_schema_gives_labelled_fields(people, make_task, browser_for, form_schemas):
    form_schemas["leave-form"] = {
        "type": "object",
        "required": ["reason"],
        "properties": {
            "reason": {"type": "string", "title": "Why", "maxLength": 500},
            "days": {"type": "integer", "minimum": 1, "description": "Working days"},
            "kind": {"type": "string", "enum": ["paid", "unpaid"]},
            "urgent": {"type": "boolean"},
            "start": {"type": "string", "format": "date"},
            "rows": {"type": "array"},
        },
    }
    task = make_task(assignee="bob", formKey="leave-form")
    html = browser_for(people["assignee"]).get(f"/inbox/tasks/{task.pk}/").content.decode()
    assert '<label for="id_data-reason">Why</label>' in html
    assert re.search(r'<textarea name="data-reason"[^>]*required', html)
    assert re.search(r'<input type="number" name="data-days" min="1"', html)
    assert "Working days" in html
    assert '<option value="paid">paid</option>' in html
    assert 'type="checkbox" name="data-urgent"' in html
    assert 'type="date" name="data-start"' in html
    assert "This form also has Rows, which the inbox cannot show yet." in html
    assert buttons(browser_for(people["assignee"]).get(f"/inbox/tasks/{task.pk}/"))[:3] == [
        "Save draft",
        "Approve",
        "Reject",
    ]


def test_a_delegate_saves_drafts_and_hands_back_but_picks_no_outcome(
    people, make_task, browser_for, form_schemas
):
    form_schemas["leave-form"] = {"type": "object", "properties": {"note": {"type": "string"}}}
    with_form = make_task(assignee="bob", formKey="leave-form")
    without = make_task(assignee="bob")
    for task in (with_form, without):
        services.do_delegate_task(task, user=people["assignee"], delegate=people["member"])
    carol = browser_for(people["member"])
    page = carol.get(f"/inbox/tasks/{with_form.pk}/")
    assert buttons(page) == ["Save draft", "Hand back to bob", "Attach", "Add comment"]
    assert "its owner completes it" in page.content.decode()
    page = carol.get(f"/inbox/tasks/{without.pk}/")
    assert buttons(page) == ["Hand back to bob", "Attach", "Add comment"]
    assert "choose an outcome" not in page.content.decode()
    # the owner sees who works on it
    html = browser_for(people["assignee"]).get(f"/inbox/tasks/{without.pk}/").content.decode()
    assert "carol works on this task for bob" in html
