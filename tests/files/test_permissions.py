"""Who reads and deletes a file, as a matrix: owner, task participant, instance viewer,
stranger, operator. The API, the inbox's download links and the admin all ask one helper."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from apps.files import permissions
from apps.files.models import StoredFile
from apps.files.services import do_delete_file, do_upload_file

from .conftest import client_for, upload

pytestmark = pytest.mark.django_db


def _user(name: str, *perms: str) -> User:
    user = User.objects.create(username=name)
    for perm in perms:
        app, codename = perm.split(".")
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label=app, codename=codename)
        )
    return user


@pytest.fixture
def cast(people, make_task):
    """bob's task (alice and hr are candidates) with bob's attachment, and a file of his own."""
    task = make_task(assignee="bob")
    bob = people["assignee"]
    attached = do_upload_file(user=bob, upload=upload("attached.pdf"), task=task)
    private = do_upload_file(user=bob, upload=upload("private.pdf"))
    return {
        "task": task,
        "attached": attached,
        "private": private,
        "file operator": _user("fiona", "files.view_storedfile", "files.delete_storedfile"),
        "file viewer": _user("vera", "files.view_storedfile"),
    }


# who: (reads the attachment, reads bob's private file)
READS = {
    "assignee": (True, True),  # bob: the owner of both
    "candidate": (True, False),  # alice: a candidate of the task
    "member": (True, False),  # carol: in the candidate group hr
    "other": (False, False),  # dave: no part in anything
    "manager": (True, False),  # managers see every task, so its files
    "operator": (True, False),  # task operators: every task (and its files)
    "file operator": (True, True),
    "file viewer": (True, True),
}


def _who(name, people, cast):
    return people.get(name) or cast[name]


@pytest.mark.parametrize("who", list(READS))
def test_who_reads_which_file(who, people, cast):
    user = _who(who, people, cast)
    api = client_for(user)
    for key, expected in zip(("attached", "private"), READS[who], strict=True):
        stored = cast[key]
        assert permissions.can_view(stored, user) is expected
        meta = api.get(f"/api/v1/files/{stored.pk}/")
        content = api.get(f"/api/v1/files/{stored.pk}/content")
        assert (meta.status_code, content.status_code) == ((200, 200) if expected else (404, 404))
        listed = {f["id"] for f in api.get("/api/v1/files/").json()["results"]}
        assert (str(stored.pk) in listed) is expected
        assert permissions.visible_files(user).filter(pk=stored.pk).exists() is expected, (
            "the list and the check agree"
        )


# who may delete bob's attachment: 204, 403 (reads it, may not delete), 404 (does not read it)
DELETES = {
    "candidate": 403,
    "operator": 403,  # task operators are not file operators
    "other": 404,
    "file viewer": 403,
    "file operator": 204,
    "assignee": 204,
}


@pytest.mark.parametrize("who", list(DELETES))
def test_who_deletes_a_file(who, people, cast):
    stored = cast["attached"]
    answer = client_for(_who(who, people, cast)).delete(f"/api/v1/files/{stored.pk}/")
    assert answer.status_code == DELETES[who]
    if answer.status_code == 403:
        assert "may delete it" in answer.json()["error"]["message"]
    stored.refresh_from_db()
    assert stored.is_deleted is (DELETES[who] == 204)


def test_viewers_of_an_instance_read_its_files(people, make_process_task):
    task = make_process_task()
    instance = task.instance
    starter = User.objects.create(username="starter")
    type(instance).objects.filter(pk=instance.pk).update(started_by=starter)
    bob = people["assignee"]
    linked = client_for(starter).post(
        "/api/v1/files/", {"file": upload(), "instance": str(instance.pk)}, format="multipart"
    )
    assert linked.status_code == 201 and linked.json()["instance"] == str(instance.pk)
    # carol (hr) has a task in the instance: she sees the instance, so its files.
    assert client_for(people["member"]).get(linked.json()["download"]).status_code == 200
    assert client_for(bob).get(linked.json()["download"]).status_code == 404
    # Naming an instance one does not see is "not found", and nothing is stored.
    refused = client_for(bob).post(
        "/api/v1/files/", {"file": upload(), "instance": str(instance.pk)}, format="multipart"
    )
    assert refused.status_code == 404 and StoredFile.objects.count() == 1


def test_a_deleted_file_is_gone_for_everyone_but_file_operators(people, cast):
    stored, bob = cast["private"], people["assignee"]
    do_delete_file(stored, user=bob)
    assert client_for(bob).get(f"/api/v1/files/{stored.pk}/").status_code == 404
    assert str(stored.pk) not in {
        f["id"] for f in client_for(bob).get("/api/v1/files/").json()["results"]
    }
    seen = client_for(cast["file viewer"]).get(f"/api/v1/files/{stored.pk}/")
    assert seen.status_code == 200 and seen.json()["deletedAt"] is not None
    again = client_for(cast["file operator"]).delete(f"/api/v1/files/{stored.pk}/")
    assert again.status_code == 403  # already deleted: nothing to do
    assert [e.event_type for e in stored.events.all()] == ["uploaded", "deleted"]
    assert stored.events.last().actor == bob


def test_signed_out_callers_get_401(cast):
    from rest_framework.test import APIClient

    answer = APIClient().get(f"/api/v1/files/{cast['private'].pk}/")
    assert answer.status_code == 401


def test_the_admin_lists_searches_and_soft_deletes_through_the_service(people, cast, client):
    staff = cast["file operator"]
    staff.is_staff = True
    staff.save()
    client.force_login(staff)
    listed = client.get("/admin/files/storedfile/", {"q": cast["private"].sha256})
    assert listed.status_code == 200 and "private.pdf" in listed.content.decode()
    detail = client.get(f"/admin/files/storedfile/{cast['private'].pk}/change/").content.decode()
    assert f"/api/v1/files/{cast['private'].pk}/content" in detail
    done = client.post(
        "/admin/files/storedfile/",
        {"action": "delete_selected_files", "_selected_action": [str(cast["private"].pk)]},
        follow=True,
    )
    assert "1 file(s) deleted." in done.content.decode()
    cast["private"].refresh_from_db()
    assert cast["private"].is_deleted and cast["private"].deleted_by == staff
    # Staff who only view files get no delete action.
    viewer = cast["file viewer"]
    viewer.is_staff = True
    viewer.save()
    client.force_login(viewer)
    page = client.get("/admin/files/storedfile/").content.decode()
    assert "delete_selected_files" not in page and "attached.pdf" in page
