"""The inbox in a real browser (headless Chromium through playwright) against a live server
and the production worker: sign in, find the task in the queue, claim it, choose an outcome,
and watch the process move on. Once with a mouse on a desktop screen, once on a phone-sized
screen with the keyboard alone."""

from __future__ import annotations

import os
import shutil
import time

import pytest
from django.db import connections

from apps.tasks.models import UserTask
from apps.workflows.services.definitions import do_save_definition
from apps.workflows.services.instances import do_start_instance

from .conftest import leave_process, wait_for_instance

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed (pip install -r requirements.txt)"
)
pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("engine_worker"),
    pytest.mark.skipif(
        not os.access(CHROMIUM, os.X_OK),
        reason="no Chromium: apt-get install chromium chromium-driver fonts-liberation "
        "(make test installs them when it may)",
    ),
]

PASSWORD = "pw-for-tests-1"  # make_user's


@pytest.fixture
def chromium(live_server, transactional_db, monkeypatch):
    """A headless Chromium for one test, started after the database and the live server and
    closed before them."""
    # Playwright's sync API keeps an event loop running on this thread (in a greenlet), so
    # Django takes the test's own ORM calls for calls from async code. They are not: nothing
    # else runs on this thread while they do.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield browser
        browser.close()
        # With an event loop running, asgiref gives this thread's code its own database
        # connections (per context, not per thread): close them while that context lasts, or
        # they stay checked out of the pool and the test database cannot be dropped.
        connections.close_all()


def start_process(title: str):
    """A published process whose first state is a task for the hr group, then `Book`."""
    document = leave_process()
    document["states"][0]["title"] = title
    definition, _ = do_save_definition(source=document, user=None, publish=True)
    assert definition.status == "published", definition.issues
    instance = do_start_instance(definition=definition, input={"employee": "Ann", "days": 3})
    deadline = time.monotonic() + 30
    while not UserTask.objects.filter(instance_id=instance.pk).exists():
        assert time.monotonic() < deadline, "the worker made no task"
        time.sleep(0.05)
    wait_for_instance(instance.pk, statuses=("waiting",))
    return instance


def tab_to(page, name: str, limit: int = 60) -> int:
    """Press Tab until the focused element's text is `name` (a tab's count may follow); the
    presses it took."""
    for presses in range(1, limit + 1):
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "() => (document.activeElement.innerText || document.activeElement.value || '').trim()"
        )
        if focused == name or focused.startswith(name + " "):
            return presses
    raise AssertionError(f"{name!r} is not reachable with Tab within {limit} presses")


def no_sideways_scrolling(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_sign_in_claim_complete_and_the_process_moves_on(live_server, chromium, make_user):
    expect = sync_api.expect
    make_user("carol", groups=["hr"])
    instance = start_process("Leave for Ann (desktop)")
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    rows = page.locator('td[data-label="Task"] a')

    page.goto(f"{live_server.url}/inbox/")
    assert "/inbox/login/" in page.url  # signing in first
    page.get_by_label("Username").fill("carol")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("My tasks")

    tabs = page.get_by_role("navigation", name="Task lists")
    tabs.get_by_role("link", name="Queue").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Queue")
    expect(rows).to_contain_text(["Leave for Ann (desktop)"])
    page.get_by_role("link", name="Leave for Ann (desktop)").click()
    # what the task is about, without JSON
    expect(page.locator("dl.data dt", has_text="Employee")).to_have_count(1)
    page.get_by_role("button", name="Claim this task").click()
    expect(page.get_by_role("status")).to_contain_text("You claimed")

    page.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{live_server.url}/inbox/")
    expect(page.get_by_role("status")).to_contain_text(
        "You completed “Leave for Ann (desktop)” with “Approve”"
    )
    expect(rows).to_have_count(0)  # gone from My tasks
    tabs.get_by_role("link", name="Completed").click()
    page.wait_for_url("**/inbox/?view=completed")
    expect(rows).to_have_text(["Leave for Ann (desktop)"])

    finished = wait_for_instance(instance.pk)
    assert finished.status == "completed" and finished.output["booked"] is True
    page.get_by_role("link", name="Leave for Ann (desktop)").click()
    expect(page.locator("#where-h + p")).to_contain_text("The process is completed")
    page.wait_for_function(
        "() => { const img = document.querySelector(\"img[alt^='Diagram of the process']\");"
        " return img && img.complete && img.naturalWidth > 0; }"
    )
    context.close()


def test_on_a_phone_with_the_keyboard_alone(live_server, chromium, make_user):
    make_user("carol", groups=["hr"])
    instance = start_process("Leave for Ann (phone)")
    context = chromium.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True
    )
    page = context.new_page()

    page.goto(f"{live_server.url}/inbox/login/")
    # the sign-in page starts in the username field
    assert page.evaluate("() => document.activeElement.name") == "username"
    page.keyboard.type("carol")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"{live_server.url}/inbox/")
    assert no_sideways_scrolling(page)
    page.keyboard.press("Tab")  # the first stop of every page is the skip link
    assert page.evaluate("() => document.activeElement.innerText") == "Skip to content"

    tab_to(page, "Queue")
    page.keyboard.press("Enter")
    page.wait_for_url("**/inbox/?view=queue")
    assert no_sideways_scrolling(page)
    tab_to(page, "Leave for Ann (phone)")
    page.keyboard.press("Enter")
    page.wait_for_url("**/inbox/tasks/*/")
    assert no_sideways_scrolling(page)
    tab_to(page, "Claim this task")
    page.keyboard.press("Enter")
    page.wait_for_selector("text=You claimed")

    presses = tab_to(page, "Approve")
    assert presses < 30  # the outcome comes early in the page's order
    focus_ring = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
    assert focus_ring != "none"  # the focused button is visibly marked
    page.keyboard.press("Enter")
    page.wait_for_selector("text=You completed")
    sync_api.expect(page.locator('td[data-label="Task"] a')).to_have_count(0)
    finished = wait_for_instance(instance.pk)
    assert finished.status == "completed" and finished.output["booked"] is True
    context.close()


def test_enter_in_a_field_saves_a_draft_and_never_picks_an_outcome(
    live_server, chromium, make_user, make_task, form_schemas
):
    expect = sync_api.expect
    make_user("bob")
    form_schemas["leave-form"] = {
        "type": "object",
        "required": ["reason", "days"],
        "properties": {
            "reason": {"type": "string", "title": "Why"},
            "days": {"type": "integer", "minimum": 1},
            "urgent": {"type": "boolean"},
        },
    }
    task = make_task(assignee="bob", formKey="leave-form", title="Leave with a form")
    context = chromium.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{live_server.url}/inbox/login/?next=/inbox/tasks/{task.pk}/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()

    page.get_by_label("Why").fill("Family")
    page.get_by_label("Why").press("Enter")
    expect(page.get_by_role("status")).to_contain_text("Draft saved")
    assert UserTask.objects.get(pk=task.pk).status == "assigned"
    assert UserTask.objects.get(pk=task.pk).draft == {"reason": "Family", "urgent": False}
    expect(page.get_by_label("Why")).to_have_value("Family")  # the draft fills the form

    page.get_by_label("Days").fill("3")
    page.get_by_label("Urgent").check()
    page.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("status")).to_contain_text("You completed “Leave with a form”")
    done = UserTask.objects.get(pk=task.pk)
    assert done.status == "completed" and done.outcome == "approved"
    assert done.output == {"reason": "Family", "days": 3, "urgent": True}
    context.close()
