"""The files API on real storage: upload, metadata, content (ranges, ETag), list, delete."""

from __future__ import annotations

import hashlib
import io
import zipfile

import httpx
import pytest

from apps.files.models import StoredFile

from .conftest import PDF, client_for, content_of, upload

pytestmark = pytest.mark.django_db


def _post(api, name="report.pdf", content=PDF, content_type="application/pdf", **extra):
    return api.post(
        "/api/v1/files/", {"file": upload(name, content, content_type), **extra}, format="multipart"
    )


def test_an_upload_comes_back_byte_for_byte_with_its_sha256(people, local_storage):
    api = client_for(people["assignee"])
    created = _post(api)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["name"] == "report.pdf" and body["size"] == len(PDF)
    assert body["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert body["contentType"] == "application/pdf" and body["owner"] == "bob"
    stored = StoredFile.objects.get(pk=body["id"])
    # The key is the platform's, under the storage root; the bytes are there.
    assert (local_storage / stored.storage_key).read_bytes() == PDF
    assert "report" not in stored.storage_key
    assert api.get(f"/api/v1/files/{body['id']}/").json() == body

    got = api.get(body["download"])
    assert got.status_code == 200 and content_of(got) == PDF
    assert got["Content-Type"] == "application/pdf"
    assert got["Content-Length"] == str(len(PDF))
    assert got["ETag"] == f'"{body["sha256"]}"'
    assert got["Accept-Ranges"] == "bytes"
    assert got["Content-Disposition"] == 'attachment; filename="report.pdf"'
    assert got["X-Content-Type-Options"] == "nosniff"
    assert [e.event_type for e in stored.events.all()] == ["uploaded"]


def test_byte_ranges_are_answered_206_and_outside_ones_416(people):
    api = client_for(people["assignee"])
    file_id = _post(api).json()["id"]
    url = f"/api/v1/files/{file_id}/content"
    first = api.get(url, HTTP_RANGE="bytes=0-9")
    assert first.status_code == 206 and content_of(first) == PDF[:10]
    assert first["Content-Range"] == f"bytes 0-9/{len(PDF)}" and first["Content-Length"] == "10"
    tail = api.get(url, HTTP_RANGE="bytes=-7")
    assert tail.status_code == 206 and content_of(tail) == PDF[-7:]
    rest = api.get(url, HTTP_RANGE="bytes=100-")
    assert rest.status_code == 206 and content_of(rest) == PDF[100:]
    beyond = api.get(url, HTTP_RANGE="bytes=5-999999999")
    assert beyond.status_code == 206 and content_of(beyond) == PDF[5:]
    outside = api.get(url, HTTP_RANGE=f"bytes={len(PDF)}-")
    assert outside.status_code == 416 and outside["Content-Range"] == f"bytes */{len(PDF)}"
    assert outside.json()["error"]["code"] == "range_not_satisfiable"
    # Several ranges, or nonsense: the whole file (HTTP lets a server ignore Range).
    several = api.get(url, HTTP_RANGE="bytes=0-1,5-6")
    assert several.status_code == 200 and content_of(several) == PDF
    # If-Range with another version's ETag: the whole file, not a piece of the wrong one.
    stale = api.get(url, HTTP_RANGE="bytes=0-9", HTTP_IF_RANGE='"0000"')
    assert stale.status_code == 200 and content_of(stale) == PDF
    etag = first["ETag"]
    assert api.get(url, HTTP_IF_NONE_MATCH=etag).status_code == 304


def test_a_file_over_the_limit_is_refused_with_413_and_nothing_is_kept(
    people, settings, local_storage
):
    settings.XFLOW_FILE_MAX_BYTES = 1000
    api = client_for(people["assignee"])
    refused = _post(api, content=PDF[:1001])
    assert refused.status_code == 413
    error = refused.json()["error"]
    assert error["code"] == "file_too_large" and "1,000 bytes" in error["message"]
    assert _post(api, content=PDF[:1000]).status_code == 201
    # A body that declares far more than any accepted file is refused before it is read.
    big = _post(api, content=PDF * 30)
    assert big.status_code == 413 and big.json()["error"]["code"] == "file_too_large"
    assert StoredFile.objects.count() == 1
    assert len([p for p in local_storage.rglob("*") if p.is_file()]) == 1


def test_empty_and_missing_files_are_400_with_what_to_do(people):
    api = client_for(people["assignee"])
    empty = _post(api, content=b"")
    assert empty.status_code == 400 and empty.json()["error"]["code"] == "file_empty"
    missing = api.post("/api/v1/files/", {"note": "no file"}, format="multipart")
    assert missing.status_code == 400
    assert missing.json()["error"]["code"] == "file_missing"
    assert "part named 'file'" in missing.json()["error"]["message"]
    as_json = api.post("/api/v1/files/", {"file": "x"}, format="json")
    assert as_json.status_code == 415


def _zip(names: list[str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, "x")
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "claimed", "sniffed"),
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 64, "application/pdf", "image/png"),
        (PDF, "image/png", "application/pdf"),
        ("Grüße, plain text\n".encode(), "application/pdf", "text/plain"),
        (b'{"a": 1}', "text/plain", "application/json"),
        (
            _zip(["word/document.xml", "[Content_Types].xml"]),
            "application/zip",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (b"BMW annual report\n", "image/bmp", "text/plain"),
        (bytes(range(256)), "text/plain", "application/octet-stream"),
    ],
)
def test_the_type_is_sniffed_from_the_bytes_not_taken_from_the_client(
    people, content, claimed, sniffed
):
    api = client_for(people["assignee"])
    created = _post(api, name="whatever.bin", content=content, content_type=claimed)
    assert created.status_code == 201, created.content
    assert created.json()["contentType"] == sniffed
    got = api.get(created.json()["download"])
    assert got["Content-Type"].split(";")[0] == sniffed


@pytest.mark.parametrize(
    "content",
    [
        b"\x7fELF\x02\x01\x01" + b"\x00" * 64,
        b"MZ\x90\x00\x03" + b"\x00" * 64 + b"\xff\xfe",
        b"#!/bin/sh\nrm -rf /\n",
        _zip(["META-INF/MANIFEST.MF", "Main.class"]),
    ],
    ids=["elf", "windows-exe", "shell-script", "jar"],
)
def test_programs_are_refused_whatever_they_claim_to_be(people, content):
    refused = _post(client_for(people["assignee"]), name="cute.pdf", content=content)
    assert refused.status_code == 415
    assert refused.json()["error"]["code"] == "file_type_refused"
    assert not StoredFile.objects.exists()


def test_an_allow_list_accepts_only_what_it_names(people, settings):
    settings.XFLOW_FILE_ALLOWED_TYPES = ["application/pdf", "image/*"]
    api = client_for(people["assignee"])
    assert _post(api).status_code == 201
    assert _post(api, content=b"\x89PNG\r\n\x1a\n" + b"\x00" * 8).status_code == 201
    text = _post(api, content=b"just text")
    assert text.status_code == 415 and "text/plain" in text.json()["error"]["message"]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\windows\\system.ini", "system.ini"),
        ("evil\x00.pdf", "evil.pdf"),
        ("bidi\u202egnp.exe.pdf", "bidignp.exe.pdf"),
        ("...", "file"),
        ("CON.txt", "_CON.txt"),
        ('a<b>:c"d|e?f*.pdf', "a_b__c_d_e_f_.pdf"),
        ("x" * 400 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_names_are_sanitised(people, local_storage, given, kept):
    api = client_for(people["assignee"])
    created = _post(api, name=given)
    assert created.status_code == 201, created.content
    assert created.json()["name"] == kept
    stored = StoredFile.objects.get(pk=created.json()["id"])
    assert (local_storage / stored.storage_key).resolve().is_relative_to(local_storage.resolve())
    header = api.get(created.json()["download"])["Content-Disposition"]
    assert header.startswith("attachment; filename") and "/" not in header and "\n" not in header


def test_a_unicode_name_is_sent_back_with_an_ascii_fallback(people):
    api = client_for(people["assignee"])
    created = _post(api, name="Übersicht März.pdf")
    header = api.get(created.json()["download"])["Content-Disposition"]
    assert header == "attachment; filename*=utf-8''%C3%9Cbersicht%20M%C3%A4rz.pdf"


def test_unknown_and_malformed_ids_are_404_never_500(people):
    api = client_for(people["assignee"])
    unknown = "00000000-0000-0000-0000-000000000000"
    for path in (f"/api/v1/files/{unknown}/", f"/api/v1/files/{unknown}/content"):
        answer = api.get(path)
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "file_not_found"
    assert api.delete(f"/api/v1/files/{unknown}/").status_code == 404
    assert api.get("/api/v1/files/not-a-uuid/").status_code == 404


def test_the_list_filters_by_mine_task_and_instance_in_pages(people, make_task):
    bob, alice = client_for(people["assignee"]), client_for(people["candidate"])
    task = make_task(assignee="bob")
    ids = [_post(bob, name=f"{i}.pdf").json()["id"] for i in range(3)]
    attached = bob.post(
        f"/api/v1/tasks/{task.pk}/attachments", {"file": upload("cv.pdf")}, format="multipart"
    ).json()["fileId"]
    _post(alice, name="alices.pdf")
    mine = bob.get("/api/v1/files/?mine=true&page_size=2").json()
    assert [f["name"] for f in mine["results"]] == ["cv.pdf", "2.pdf"]
    nxt = bob.get(mine["next"]).json()
    assert [f["name"] for f in nxt["results"]] == ["1.pdf", "0.pdf"]
    assert nxt["next"] is None
    of_task = alice.get(f"/api/v1/files/?task={task.pk}").json()["results"]
    assert [f["id"] for f in of_task] == [attached]  # alice is a candidate of the task
    assert {f["name"] for f in alice.get("/api/v1/files/").json()["results"]} == {
        "alices.pdf",
        "cv.pdf",
    }
    assert bob.get("/api/v1/files/?task=nope").status_code == 400
    assert set(ids) <= {f["id"] for f in bob.get("/api/v1/files/").json()["results"]}


def test_s3_round_trip_through_a_presigned_url(people, s3_storage):
    api = client_for(people["assignee"])
    created = _post(api, name="Bericht März.pdf")
    assert created.status_code == 201, created.content
    stored = StoredFile.objects.get(pk=created.json()["id"])
    head = s3_storage.head_object(Bucket="xflow-test-files", Key=stored.storage_key)
    assert head["ContentLength"] == len(PDF) and head["ContentType"] == "application/pdf"
    redirect = api.get(created.json()["download"])
    assert redirect.status_code == 302
    location = redirect["Location"]
    assert "X-Amz-Signature=" in location and "X-Amz-Expires=300" in location
    fetched = httpx.get(location)
    assert fetched.status_code == 200 and fetched.content == PDF
    assert hashlib.sha256(fetched.content).hexdigest() == created.json()["sha256"]
    assert fetched.headers["content-type"] == "application/pdf"
    assert "M%C3%A4rz.pdf" in fetched.headers["content-disposition"]
    ranged = httpx.get(location, headers={"Range": "bytes=0-4"})
    assert ranged.status_code == 206 and ranged.content == PDF[:5]


def test_s3_deletion_is_soft_and_the_object_stays(people, s3_storage):
    api = client_for(people["assignee"])
    body = _post(api).json()
    assert api.delete(f"/api/v1/files/{body['id']}/").status_code == 204
    assert api.get(body["download"]).status_code == 404
    key = StoredFile.objects.get(pk=body["id"]).storage_key
    assert s3_storage.head_object(Bucket="xflow-test-files", Key=key)["ContentLength"] == len(PDF)


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("line\nbreak.pdf", "line break.pdf"),
        ("tab\there.pdf", "tab here.pdf"),
        ("nul\x00byte.pdf", "nulbyte.pdf"),
        ("/abs/path/to/x.pdf", "x.pdf"),
        (" .hidden ", "hidden"),
        ("", "file"),
        (None, "file"),
        ("x." + "y" * 40, "x." + "y" * 40),  # not an extension: cut as a whole
        ("é" * 300, "é" * 200),
    ],
)
def test_the_sanitiser_itself(given, kept):
    from apps.files.naming import sanitise_filename

    assert sanitise_filename(given) == kept


def test_files_larger_than_the_api_body_limit_are_accepted_up_to_the_file_limit(
    people, settings, local_storage
):
    # JSON bodies stop at DATA_UPLOAD_MAX_MEMORY_SIZE (2 MiB); files have their own limit.
    content = b"%PDF-1.7\n" + bytes(range(256)) * (12 * 1024)  # 3 MiB
    assert len(content) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    api = client_for(people["assignee"])
    created = _post(api, content=content)
    assert created.status_code == 201, created.content
    assert created.json()["sha256"] == hashlib.sha256(content).hexdigest()
    got = api.get(created.json()["download"])
    assert hashlib.sha256(content_of(got)).digest() == hashlib.sha256(content).digest()


def test_the_startup_check_names_a_media_root_that_cannot_be_written(settings, tmp_path):
    from apps.files.checks import check_file_storage

    assert check_file_storage() == []
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    settings.MEDIA_ROOT = str(blocker / "media")
    assert [c.id for c in check_file_storage()] == ["xflow.W030"]


def test_a_browser_session_uploads_with_its_csrf_token_and_not_without(people):
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(people["assignee"])
    browser.get("/inbox/")  # sets the CSRF cookie
    token = browser.cookies["csrftoken"].value
    forged = browser.post("/api/v1/files/", {"file": upload()}, format="multipart")
    assert forged.status_code == 403 and not StoredFile.objects.exists()
    # The token after the file: the upload handler reads past the file to find it.
    created = browser.post(
        "/api/v1/files/", {"file": upload(), "csrfmiddlewaretoken": token}, format="multipart"
    )
    assert created.status_code == 201, created.content
    assert created.json()["sha256"] == hashlib.sha256(PDF).hexdigest()
