"""The permission matrix, cell by cell: role × resource × action through the real API and admin.

Each cell states the exact status for every role; a cell that changes something also says,
per role, whether the change must have happened (`*`) — every refusal leaves things as they
were. The roles: anonymous, a plain user, a member of a definition's starter group, staff
without permissions, a viewer (staff with the view permissions), an operator (the operators
group as load_demo makes it) and a superuser. docs/permissions.md shows the same matrix.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.authtoken.models import Token

from apps.core.models import PlatformEvent
from apps.workflows.models import OutboxEvent, Secret, WorkflowInstance
from apps.workflows.services.access import starter_group_names

from .conftest import ROLES, World, napper

D = "/api/v1/definitions"
ALL_KEYS = ["draft-one", "open-to-employees", "staff-only"]
READERS = {"viewer", "operator", "superuser"}


@dataclass
class Cell:
    name: str
    call: Callable[[World, str], Any]
    expect: str  # one status per role, in ROLES order; `*` marks "and it changed things"
    state: Callable[[World], Any] | None = None
    check: Callable[[Any, str, World], None] | None = None

    def expected(self, role: str) -> tuple[int, bool]:
        token = self.expect.split()[ROLES.index(role)]
        return int(token.rstrip("*")), token.endswith("*")


def get(path):
    return lambda w, role: w.api(role).get(path(w) if callable(path) else path)


def post(path, body=None):
    return lambda w, role: w.api(role).post(
        path(w) if callable(path) else path, body(w) if callable(body) else body, format="json"
    )


def admin_get(path):
    return lambda w, role: w.admin(role).get(path(w))


def admin_post(path, data=None):
    return lambda w, role: w.admin(role).post(path(w), data(w) if callable(data) else data or {})


def instance_count(w):
    return WorkflowInstance.objects.count()


def status_of(attr):
    return lambda w: WorkflowInstance.objects.get(pk=getattr(w, attr).pk).status


def secret_names(w):
    return sorted(Secret.objects.values_list("name", flat=True))


def secret_row(w):
    row = Secret.objects.filter(name="apiKey").values("ciphertext", "description").first()
    return tuple(row.values()) if row else None


def listed_keys(expected: dict[str, list[str]]):
    def check(response, role, w):
        assert sorted(r["key"] for r in response.json()["results"]) == expected[role]

    return check


def listed_instances(response, role, w):
    ids = sorted(r["id"] for r in response.json()["results"])
    visible = {
        "plain": [],
        "starter": [str(w.mine.pk)],
        "staff": [],
    }.get(role, sorted([str(w.mine.pk), str(w.failed.pk)]))
    assert ids == sorted(visible)


def source_only_for_readers(response, role, w):
    body = response.json()
    assert ("source" in body) == (role in READERS)
    assert ("document" in body) == (role in READERS)


def actions_offered(response, role, w):
    expected = ["cancel", "terminate", "restart"] if role in {"operator", "superuser"} else []
    assert response.json()["actions"] == expected


def buttons_for_actors(response, role, w):
    page = response.content.decode()
    assert ("control/cancel/" in page) == (role in {"operator", "superuser"})
    assert "Timeline" in page


def cloud_event(w):
    return {"id": str(uuid.uuid4()), "source": "/matrix", "type": "matrix.nobody.listens"}


VERSION = D + "/{key}/versions/1"
MINE = "/api/v1/instances/{w.mine.pk}"

CELLS = [
    # --- definitions --------------------------------------------------------------------
    Cell(
        "definitions-list",
        get(D + "/"),
        "401 200 200 200 200 200 200",
        check=listed_keys(
            {
                "plain": [],
                "starter": ["open-to-employees"],
                "staff": [],
                "viewer": ALL_KEYS,
                "operator": ALL_KEYS,
                "superuser": ALL_KEYS,
            }
        ),
    ),
    Cell("definition-key-startable", get(D + "/open-to-employees/"), "401 404 200 404 200 200 200"),
    Cell("definition-key-staff-only", get(D + "/staff-only/"), "401 404 404 404 200 200 200"),
    Cell(
        "version-startable",
        get(VERSION.format(key="open-to-employees") + "/"),
        "401 404 200 404 200 200 200",
        check=source_only_for_readers,
    ),
    Cell(
        "version-staff-only",
        get(VERSION.format(key="staff-only") + "/"),
        "401 404 404 404 200 200 200",
    ),
    Cell(
        "version-draft", get(VERSION.format(key="draft-one") + "/"), "401 404 404 404 200 200 200"
    ),
    Cell(
        "export-startable",
        get(VERSION.format(key="open-to-employees") + "/export"),
        "401 404 403 404 200 200 200",
    ),
    Cell(
        "diagram-startable",
        get(VERSION.format(key="open-to-employees") + "/diagram.svg"),
        "401 404 200 404 200 200 200",
    ),
    Cell(
        "upload",
        post(D + "/", napper("uploaded")),
        "401 403 403 403 403 201* 201*",
        state=lambda w: sorted(
            w.open_def.__class__.objects.values_list("key", flat=True).distinct()
        ),
    ),
    Cell("validate", post(D + "/validate", napper("checked")), "401 403 403 403 403 200 200"),
    Cell(
        "publish-draft",
        post(VERSION.format(key="draft-one") + "/publish"),
        "401 403 403 403 403 200* 200*",
        state=lambda w: w.draft.__class__.objects.get(pk=w.draft.pk).status,
    ),
    Cell(
        "archive-published",
        post(VERSION.format(key="open-to-employees") + "/archive"),
        "401 403 403 403 403 200* 200*",
        state=lambda w: w.open_def.__class__.objects.get(pk=w.open_def.pk).status,
    ),
    Cell("starters-read", get(D + "/open-to-employees/starters"), "401 403 403 403 200 200 200"),
    Cell(
        "starters-change",
        lambda w, role: w.api(role).put(
            D + "/open-to-employees/starters", {"groups": ["hr"]}, format="json"
        ),
        "401 403 403 403 403 200* 200*",
        state=lambda w: starter_group_names("open-to-employees"),
    ),
    # --- starting -----------------------------------------------------------------------
    Cell(
        "start-startable",
        post("/api/v1/instances/", {"definition": "open-to-employees"}),
        "401 404 201* 404 403 201* 201*",
        state=instance_count,
    ),
    Cell(
        "start-staff-only",
        post("/api/v1/instances/", {"definition": "staff-only"}),
        "401 404 404 404 403 201* 201*",
        state=instance_count,
    ),
    Cell(
        "start-unknown",
        post("/api/v1/instances/", {"definition": "nope"}),
        "401 404 404 404 404 404 404",
        state=instance_count,
    ),
    # --- instances ----------------------------------------------------------------------
    Cell(
        "instances-list",
        get("/api/v1/instances/"),
        "401 200 200 200 200 200 200",
        check=listed_instances,
    ),
    Cell(
        "instance-own",
        get(lambda w: MINE.format(w=w) + "/"),
        "401 404 200 404 200 200 200",
        check=actions_offered,
    ),
    Cell(
        "instance-other",
        get(lambda w: f"/api/v1/instances/{w.failed.pk}/"),
        "401 404 404 404 200 200 200",
    ),
    Cell(
        "timeline-own",
        get(lambda w: MINE.format(w=w) + "/timeline"),
        "401 404 200 404 200 200 200",
    ),
    Cell(
        "diagram-own",
        get(lambda w: MINE.format(w=w) + "/diagram.svg"),
        "401 404 200 404 200 200 200",
    ),
    Cell(
        "cancel-running",
        post(lambda w: MINE.format(w=w) + "/cancel"),
        "401 404 403 404 403 200* 200*",
        state=status_of("mine"),
    ),
    Cell(
        "terminate-running",
        post(lambda w: MINE.format(w=w) + "/terminate"),
        "401 404 403 404 403 200* 200*",
        state=status_of("mine"),
    ),
    Cell(
        "retry-failed",
        post(lambda w: f"/api/v1/instances/{w.failed.pk}/retry"),
        "401 404 404 404 403 200* 200*",
        state=status_of("failed"),
    ),
    Cell(
        "cancel-failed",  # allowed to act, but not in this state: 409
        post(lambda w: f"/api/v1/instances/{w.failed.pk}/cancel"),
        "401 404 404 404 403 409 409",
        state=status_of("failed"),
    ),
    Cell(
        "restart-own",
        post(lambda w: MINE.format(w=w) + "/restart"),
        "401 404 403 404 403 201* 201*",
        state=instance_count,
    ),
    # --- secrets ------------------------------------------------------------------------
    Cell("secrets-list", get("/api/v1/secrets/"), "401 403 403 403 403 200 200"),
    Cell(
        "secret-create",
        post("/api/v1/secrets/", {"name": "newKey", "value": "v-1234"}),
        "401 403 403 403 403 201* 201*",
        state=secret_names,
    ),
    Cell(
        "secret-overwrite",
        post("/api/v1/secrets/", {"name": "apiKey", "value": "another-value"}),
        "401 403 403 403 403 201* 201*",
        state=secret_row,
    ),
    Cell(
        "secret-delete",
        lambda w, role: w.api(role).delete("/api/v1/secrets/apiKey/"),
        "401 403 403 403 403 204* 204*",
        state=secret_names,
    ),
    # --- events -------------------------------------------------------------------------
    Cell(
        "event-ingest",
        post("/api/v1/events/", cloud_event),
        "401 403 403 403 403 202* 202*",
        # Accepted events are written to Kafka (routed later by the bridge) and audited.
        state=lambda w: PlatformEvent.objects.filter(event_type="event_sent").count(),
    ),
    # --- the admin (anonymous and non-staff are sent to the login page) -----------------
    Cell(
        "admin-secrets-list",
        admin_get(lambda w: "/admin/workflows/secret/"),
        "302 302 302 403 403 200 200",
    ),
    Cell(
        "admin-secret-add",
        admin_post(
            lambda w: "/admin/workflows/secret/add/",
            {"name": "adminKey", "value": "v-1234", "description": ""},
        ),
        "302 302 302 403 403 302* 302*",
        state=secret_names,
    ),
    Cell(
        "admin-secret-change",
        admin_post(
            lambda w: f"/admin/workflows/secret/{w.secret.pk}/change/",
            {"description": "rotated", "value": "changed-value"},
        ),
        "302 302 302 403 403 302* 302*",
        state=secret_row,
    ),
    Cell(
        "admin-secret-delete",
        admin_post(lambda w: f"/admin/workflows/secret/{w.secret.pk}/delete/", {"post": "yes"}),
        "302 302 302 403 403 302* 302*",
        state=secret_names,
    ),
    Cell(
        "admin-instance-page",
        admin_get(lambda w: f"/admin/workflows/workflowinstance/{w.mine.pk}/change/"),
        "302 302 302 403 200 200 200",
        check=buttons_for_actors,
    ),
    Cell(
        "admin-instance-cancel",
        admin_post(lambda w: f"/admin/workflows/workflowinstance/{w.mine.pk}/control/cancel/"),
        "302 302 302 404 403 302* 302*",
        state=status_of("mine"),
    ),
    Cell(
        "admin-definition-page",
        admin_get(lambda w: f"/admin/workflows/workflowdefinition/{w.open_def.pk}/change/"),
        "302 302 302 403 200 200 200",
    ),
    Cell(
        "admin-outbox-delete-pending",
        admin_post(
            lambda w: f"/admin/workflows/outboxevent/{w.pending.pk}/delete/", {"post": "yes"}
        ),
        "302 302 302 403 403 403 403",
        state=lambda w: OutboxEvent.objects.count(),
    ),
    Cell(
        "admin-token-for-the-superuser",  # a token is its owner's power: only a superuser
        admin_post(
            lambda w: "/admin/authtoken/tokenproxy/add/",
            lambda w: {"user": w.users["superuser"].pk},
        ),
        "302 302 302 403 403 200 302*",
        state=lambda w: Token.objects.filter(user=w.users["superuser"]).exists(),
    ),
]


@pytest.mark.parametrize(
    ("cell", "role"),
    [pytest.param(c, r, id=f"{c.name}-{r}") for c in CELLS for r in ROLES],
)
def test_permission_matrix(world, cell: Cell, role: str):
    status, changes = cell.expected(role)
    before = cell.state(world) if cell.state else None
    response = cell.call(world, role)
    assert response.status_code == status, response.content.decode(errors="replace")[:500]
    if status == 302 and not changes:
        assert response["Location"].startswith("/admin/login/")
    if 400 <= status < 500 and response.get("Content-Type", "").startswith("application/json"):
        assert response.json()["error"]["status"] == status
    if cell.state:
        after = cell.state(world)
        assert (after != before) == changes, f"before={before!r} after={after!r}"
    if cell.check and 200 <= status < 300:
        cell.check(response, role, world)
