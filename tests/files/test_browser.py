"""Attaching a file in a real browser (headless Chromium through playwright): the inbox's
file input, the multipart form post, the message, and the download link bringing the same
bytes back."""

from __future__ import annotations

import hashlib
import os

import pytest

from apps.files.models import StoredFile
from tests.inbox.test_browser import CHROMIUM, PASSWORD, chromium, sync_api  # noqa: F401

from .conftest import PDF

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(not os.access(CHROMIUM, os.X_OK), reason="no Chromium"),
]


def test_attach_a_file_in_the_browser_and_download_it_again(
    live_server,
    chromium,  # noqa: F811
    make_user,
    make_task,
    tmp_path,
):
    expect = sync_api.expect
    make_user("bob")
    task = make_task(assignee="bob")
    source = tmp_path / "Quote März.pdf"
    source.write_bytes(PDF)
    context = chromium.new_context(viewport={"width": 390, "height": 844}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{live_server.url}/inbox/login/")
    page.get_by_label("Username").fill("bob")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.goto(f"{live_server.url}/inbox/tasks/{task.pk}/")
    expect(page.get_by_text("No files attached.")).to_be_visible()

    page.get_by_label("Attach a file").set_input_files(str(source))
    page.get_by_role("button", name="Attach", exact=True).click()
    expect(page.get_by_text("“Quote März.pdf” (10.0 KB) is attached to the task.")).to_be_visible()
    link = page.get_by_role("link", name="Quote März.pdf")
    expect(link).to_be_visible()
    with page.expect_download() as caught:
        link.click()
    download = caught.value
    assert download.suggested_filename == "Quote März.pdf"
    fetched = tmp_path / "fetched.pdf"
    download.save_as(fetched)
    assert hashlib.sha256(fetched.read_bytes()).hexdigest() == hashlib.sha256(PDF).hexdigest()
    assert StoredFile.objects.get(task=task).owner.username == "bob"
    context.close()
