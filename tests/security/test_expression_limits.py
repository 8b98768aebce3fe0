"""Hostile jq expressions on the real worker: each is stopped by a limit, never the worker.

Issue 8: `until(false; .)`, `def f: f; f`, `[range(1e9)]` or `[range(.n)]` with a large n used
to hold the GIL and freeze the whole worker. Each class below must fail its instance with
`expression_limit`, be catchable by onErrors, leave instances running beside it unharmed,
and leave the platform able to run a trivial instance afterwards.
"""

from __future__ import annotations

import time

import pytest

from apps.core import temporal
from apps.workflows.engine.contracts import QUERY_STATUS
from tests.conftest import wait_for_instance  # noqa: F401

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

TRIVIAL = {
    "id": "trivial",
    "version": "1",
    "specVersion": "0.8",
    "start": "Greet",
    "functions": [{"name": "greet", "type": "expression", "operation": '"Hello " + .name'}],
    "states": [
        {
            "name": "Greet",
            "type": "operation",
            "actions": [{"functionRef": "greet", "actionDataFilter": {"toStateData": ".out"}}],
            "end": True,
        }
    ],
}


def hostile(key: str, expression: str, **extra) -> dict:
    """One operation state running the expression as an expression function."""
    state = {
        "name": "Compute",
        "type": "operation",
        "actions": [{"functionRef": "compute", "actionDataFilter": {"toStateData": ".out"}}],
        "end": True,
    }
    state.update(extra.pop("state", {}))
    return {
        "id": key,
        "version": "1",
        "specVersion": "0.8",
        "start": "Compute",
        "functions": [{"name": "compute", "type": "expression", "operation": expression}],
        "states": [state, *extra.pop("states", [])],
        **extra,
    }


def publish(api, document) -> None:
    response = api.post("/api/v1/definitions/?publish=true", document, format="json")
    assert response.status_code in (200, 201), response.json()


def start(api, key: str, data=None) -> str:
    response = api.post(
        "/api/v1/instances/", {"definition": key, "input": data or {}}, format="json"
    )
    assert response.status_code == 201, response.json()
    return response.json()["id"]


def assert_platform_unharmed(api) -> None:
    publish(api, TRIVIAL)
    instance = wait_for_instance(start(api, "trivial", {"name": "Ada"}), timeout=60)
    assert instance.status == "completed"
    assert instance.output == {"name": "Ada", "out": "Hello Ada"}


HOSTILE = [
    pytest.param("until(false; .)", {}, id="infinite-loop"),
    pytest.param("def f: f; f", {}, id="infinite-recursion"),
    pytest.param("def f: [f]; f", {}, id="recursion-growing-the-stack"),
    pytest.param("[range(1e9)]", {}, id="huge-range"),
    pytest.param("[range(.n)]", {"n": 1e9}, id="range-of-a-number-from-the-input"),
    pytest.param('"x" * .n', {"n": 1e9}, id="string-multiplication"),
    pytest.param(".n as $n | [] | .[$n] = 1", {"n": 5e8}, id="huge-array-by-index"),
    pytest.param("reduce range(40) as $i (.s; . + .)", {"s": "ab"}, id="doubling-string"),
    pytest.param(
        "[.items[] as $a | .items[] as $b | [$a, $b]]",
        {"items": list(range(3000))},
        id="quadratic-output",
    ),
]


@pytest.mark.parametrize(("expression", "data"), HOSTILE)
def test_a_hostile_expression_fails_its_instance_with_expression_limit(api, expression, data):
    publish(api, hostile("hostile", expression))
    instance = wait_for_instance(start(api, "hostile", data), timeout=60)
    assert instance.status == "failed"
    assert instance.error["type"] == "expression_limit"
    assert instance.error["state"] == "Compute"
    assert "XFLOW_EXPRESSION_" in instance.error["message"]  # names the setting to change
    assert_platform_unharmed(api)


def test_an_expression_limit_is_caught_by_on_errors(api):
    definition = hostile(
        "handled",
        "until(false; .)",
        errors=[{"name": "tooBig", "code": "expression_limit"}],
        state={"onErrors": [{"errorRef": "tooBig", "transition": "Recover"}]},
        states=[{"name": "Recover", "type": "inject", "data": {"recovered": True}, "end": True}],
    )
    publish(api, definition)
    instance = wait_for_instance(start(api, "handled"), timeout=60)
    assert instance.status == "completed"
    assert instance.output == {"recovered": True}


# Limited again and again: its onErrors goes to a short sleep (a new workflow activation),
# counts the attempt in `.tries` and tries again, until the test terminates it.
LOOPER = hostile(
    "looper",
    "until(false; .)",
    errors=[{"name": "tooBig", "code": "expression_limit"}],
    functions=[
        {"name": "compute", "type": "expression", "operation": "until(false; .)"},
        {"name": "count", "type": "expression", "operation": "(.tries // 0) + 1"},
    ],
    state={"onErrors": [{"errorRef": "tooBig", "transition": "Pause"}]},
    states=[
        {"name": "Pause", "type": "sleep", "duration": "PT0.2S", "transition": "Count"},
        {
            "name": "Count",
            "type": "operation",
            "actions": [{"functionRef": "count", "actionDataFilter": {"toStateData": ".tries"}}],
            "transition": "Compute",
        },
    ],
)
# A normal instance that lasts a few seconds, so the loopers are limited while it runs.
NORMAL = {
    **TRIVIAL,
    "id": "normal",
    "states": [
        {
            "name": "Greet",
            "type": "operation",
            "actions": [{"functionRef": "greet", "actionDataFilter": {"toStateData": ".out"}}],
            "transition": "Wait",
        },
        {"name": "Wait", "type": "sleep", "duration": "PT3S", "end": True},
    ],
}


def looper_tries(instance_id: str) -> tuple[str, int]:
    """(workflow status, attempts counted so far) of a looper, from the workflow itself."""
    from apps.workflows.models import WorkflowInstance

    workflow_id = WorkflowInstance.objects.get(pk=instance_id).workflow_id

    async def ask(client):
        handle = client.get_workflow_handle(workflow_id)
        status = (await handle.describe()).status.name
        snapshot = await handle.query(QUERY_STATUS)
        return status, int((snapshot.get("data") or {}).get("tries") or 0)

    return temporal.call(ask)


def wait_for_tries(instance_id: str, at_least: int) -> int:
    deadline = time.monotonic() + 60
    while True:
        status, tries = looper_tries(instance_id)
        assert status == "RUNNING", f"the looper is {status}"
        if tries >= at_least:
            return tries
        assert time.monotonic() < deadline, f"the looper counted {tries} limits in 60 s"
        time.sleep(0.1)


def test_hostile_instances_do_not_hold_up_twenty_normal_ones(api):
    publish(api, LOOPER)
    publish(api, NORMAL)
    loopers = [start(api, "looper") for _ in range(2)]
    before = [wait_for_tries(i, 1) for i in loopers]  # both are being limited already

    normals = [start(api, "normal", {"name": f"n{i}"}) for i in range(20)]
    finished = [wait_for_instance(i, timeout=180) for i in normals]

    assert [i.status for i in finished] == ["completed"] * 20
    assert [i.output["out"] for i in finished] == [f"Hello n{i}" for i in range(20)]
    # The loopers were limited again while the normal ones ran, and are still at it.
    after = [looper_tries(i) for i in loopers]
    assert [status for status, _ in after] == ["RUNNING", "RUNNING"]
    assert all(tries > b for (_, tries), b in zip(after, before, strict=True))
    assert_platform_unharmed(api)
