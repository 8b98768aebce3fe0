"""Task attachments: through the API and through the inbox's multipart form, listed in the
task (API detail and page) with download links, recorded in the task's history."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client

from apps.files.models import StoredFile
from apps.tasks import services

from .conftest import PDF, client_for, content_of, upload

pytestmark = pytest.mark.django_db


def _attach(api, task, name="receipt.pdf", content=PDF):
    return api.post(
        f"/api/v1/tasks/{task.pk}/attachments",
        {"file": upload(name, content)},
        format="multipart",
    )


def test_the_assignee_attaches_through_the_api_and_the_task_lists_it(people, make_task):
    task = make_task(assignee="bob")
    bob = client_for(people["assignee"])
    created = _attach(bob, task)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "receipt.pdf" and body["uploadedBy"] == "bob"
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    detail = bob.get(f"/api/v1/tasks/{task.pk}/").json()
    assert [a["fileId"] for a in detail["attachments"]] == [body["fileId"]]
    assert detail["history"][-1]["text"] == "Attached receipt.pdf by bob"
    # A candidate (carol, hr) sees the task, so she reads its files too.
    carol = client_for(people["member"])
    got = carol.get(detail["attachments"][0]["download"])
    assert got.status_code == 200 and content_of(got) == PDF
    stored = StoredFile.objects.get(pk=body["fileId"])
    assert stored.task_id == task.pk and stored.owner == people["assignee"]


def test_attaching_is_refused_with_the_reason(people, make_task, settings):
    task = make_task(assignee="bob")
    refused = _attach(client_for(people["member"]), task)  # a candidate; bob holds it
    assert refused.status_code == 403
    assert "may attach files" in refused.json()["error"]["message"]
    assert _attach(client_for(people["other"]), task).status_code == 404
    settings.XFLOW_FILE_MAX_BYTES = 100
    assert _attach(client_for(people["assignee"]), task).status_code == 413
    empty = _attach(client_for(people["assignee"]), task, content=b"")
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "file_empty"
    services.do_complete_task(task, user=people["assignee"], outcome="approved", data={})
    settings.XFLOW_FILE_MAX_BYTES = 10_000_000
    closed = _attach(client_for(people["assignee"]), task)
    assert closed.status_code == 409 and "completed" in closed.json()["error"]["message"]
    assert not StoredFile.objects.exists()


def test_a_deleted_attachment_leaves_the_task_and_its_history_says_so(people, make_task):
    task = make_task(assignee="bob")
    bob = client_for(people["assignee"])
    file_id = _attach(bob, task).json()["fileId"]
    assert bob.delete(f"/api/v1/files/{file_id}/").status_code == 204
    detail = bob.get(f"/api/v1/tasks/{task.pk}/").json()
    assert detail["attachments"] == []
    assert detail["history"][-1]["text"] == "Deleted the attached file receipt.pdf by bob"


def _browser(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


def _csrf(client, task) -> str:
    page = client.get(f"/inbox/tasks/{task.pk}/")
    return (
        page.cookies["csrftoken"].value
        if "csrftoken" in page.cookies
        else client.cookies["csrftoken"].value
    )


def test_the_inbox_form_attaches_a_file_and_lists_it_with_a_download_link(people, make_task):
    task = make_task(assignee="bob")
    bob = _browser(people["assignee"])
    page = bob.get(f"/inbox/tasks/{task.pk}/").content.decode()
    assert 'enctype="multipart/form-data"' in page and 'name="file" type="file"' in page
    token = bob.cookies["csrftoken"].value
    posted = bob.post(
        f"/inbox/tasks/{task.pk}/attach/",
        {"file": upload("Quote 2026.pdf"), "csrfmiddlewaretoken": token},
        follow=True,
    )
    html = posted.content.decode()
    assert posted.status_code == 200
    assert "“Quote 2026.pdf” (10.0\xa0KB) is attached to the task." in html
    stored = StoredFile.objects.get(task=task)
    assert f'href="/api/v1/files/{stored.pk}/content"' in html
    download = bob.get(f"/api/v1/files/{stored.pk}/content")
    assert download.status_code == 200 and content_of(download) == PDF
    assert "Attached Quote 2026.pdf by bob" in html


def test_the_inbox_form_needs_its_csrf_token_and_says_what_went_wrong(people, make_task, settings):
    task = make_task(assignee="bob")
    bob = _browser(people["assignee"])
    bob.get(f"/inbox/tasks/{task.pk}/")
    token = bob.cookies["csrftoken"].value
    forged = bob.post(f"/inbox/tasks/{task.pk}/attach/", {"file": upload()})
    assert forged.status_code == 403 and not StoredFile.objects.exists()
    program = bob.post(
        f"/inbox/tasks/{task.pk}/attach/",
        {"file": upload("x.pdf", b"\x7fELF" + b"\x00" * 40), "csrfmiddlewaretoken": token},
    )
    assert program.status_code == 415
    assert "The file was not attached: Files of type application/x-executable" in (
        program.content.decode()
    )
    settings.XFLOW_FILE_MAX_BYTES = 1000
    big = bob.post(
        f"/inbox/tasks/{task.pk}/attach/", {"file": upload(), "csrfmiddlewaretoken": token}
    )
    assert big.status_code == 413 and "larger than 1,000 bytes" in big.content.decode()
    nothing = bob.post(f"/inbox/tasks/{task.pk}/attach/", {"csrfmiddlewaretoken": token})
    assert nothing.status_code == 400 and "part named" in nothing.content.decode()
    dave = _browser(people["other"])
    dave.get("/inbox/")
    assert (
        dave.post(
            f"/inbox/tasks/{task.pk}/attach/",
            {"file": upload(), "csrfmiddlewaretoken": dave.cookies["csrftoken"].value},
        ).status_code
        == 404
    )
    assert not StoredFile.objects.exists()


def test_a_candidate_sees_no_file_input_on_a_task_someone_else_holds(people, make_task):
    task = make_task(assignee="bob")
    page = _browser(people["member"]).get(f"/inbox/tasks/{task.pk}/").content.decode()
    assert 'type="file"' not in page and "No files attached." in page


def test_the_task_admin_page_lists_its_attachments_with_download_links(people, make_task):
    task = make_task(assignee="bob")
    file_id = _attach(client_for(people["assignee"]), task).json()["fileId"]
    operator = Client()
    operator.force_login(people["operator"])
    page = operator.get(f"/admin/tasks/usertask/{task.pk}/change/").content.decode()
    assert "receipt.pdf" in page and f"/api/v1/files/{file_id}/content" in page


def test_an_attachment_made_by_the_service_on_s3_keeps_every_byte(people, make_task, s3_storage):
    from apps.files.services import do_upload_file

    task = make_task(assignee="bob")
    stored = do_upload_file(user=people["assignee"], upload=upload("s3.pdf"), task=task)
    body = s3_storage.get_object(Bucket="xflow-test-files", Key=stored.storage_key)["Body"].read()
    assert body == PDF and stored.sha256 == hashlib.sha256(PDF).hexdigest()
