"""Function calls carry the platform's Idempotency-Key and heartbeat while they run."""

from __future__ import annotations

import logging

from temporalio.testing import ActivityEnvironment

from apps.workflows.engine.activities import functions


def inline(base_url, path="/api/pets", **extra):
    return {"name": "petService", "operation": {"url": base_url, "path": path, **extra}}


def test_a_rest_call_sends_the_idempotency_key(call, base_url):
    # Given a call the interpreter gave a key
    # When it is made
    seen = call(inline(base_url, method="post"), {"n": 1}, idempotency_key="inst-7/Pay/a1")

    # Then the service sees it in the Idempotency-Key header
    assert seen["headers"]["idempotency-key"] == "inst-7/Pay/a1"


def test_a_graphql_call_sends_the_idempotency_key(call, base_url, state):
    function = {"name": "pets", "type": "graphql", "operation": f"{base_url}/graphql#query#pets"}

    call(function, {}, selection_set="{ id }", idempotency_key="inst-7/List/a1")

    assert state.graphql_headers[0]["idempotency-key"] == "inst-7/List/a1"


def test_without_a_key_no_header_is_sent(call, base_url):
    seen = call(inline(base_url))

    assert "idempotency-key" not in seen["headers"]


def test_a_key_the_definition_sets_itself_is_kept_and_logged(call, base_url, caplog, monkeypatch):
    # Given an inline operation that sends its own Idempotency-Key (a business key)
    monkeypatch.setattr(logging.getLogger("xflow"), "propagate", True)
    caplog.set_level(logging.INFO, logger="xflow.workflows.functions")
    function = inline(base_url, method="post", headers={"idempotency-key": "order-42"})

    # When called with a platform key too
    seen = call(function, {"n": 1}, idempotency_key="inst-7/Pay/a1")

    # Then the definition's value is sent, once, and the worker log says so
    assert seen["headers"]["idempotency-key"] == "order-42"
    assert "sets idempotency-key itself" in caplog.text


def test_a_header_argument_named_idempotency_key_wins_over_the_platform_key(call, base_url):
    function = inline(
        base_url, method="post", parameters=[{"name": "Idempotency-Key", "in": "header"}]
    )

    seen = call(function, {"Idempotency-Key": "pay-99"}, idempotency_key="inst-7/Pay/a1")

    assert seen["headers"]["idempotency-key"] == "pay-99"


def test_a_running_call_heartbeats(call, base_url, monkeypatch):
    # Given heartbeats every 0.2 s and a service that takes 2 s
    monkeypatch.setattr(functions, "HEARTBEAT_SECONDS", 0.2)
    beats: list[tuple] = []
    env = ActivityEnvironment()
    env.on_heartbeat = lambda *details: beats.append(details)

    # When the call runs
    call(inline(base_url, path="/api/slow"), environment=env)

    # Then the activity reported itself alive while waiting (Temporal notices a dead worker
    # by the missing heartbeats), and stopped once the call ended
    assert len(beats) >= 5
    count = len(beats)
    call(inline(base_url), environment=env)
    assert len(beats) == count
