"""Operators' triggers: a filter on type, source and extensions, then start, signal, call, send."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from apps.core.models import PlatformEvent
from apps.workflows.kafka import new_producer
from apps.workflows.models import EventTrigger, InboundEvent, OutboxEvent, WorkflowInstance
from apps.workflows.outbox import relay_outbox
from apps.workflows.services.events import deliver_event
from apps.workflows.services.triggers import do_save_trigger

from .conftest import read_topic, wait_for_instance
from .test_events import event, wait_until_waiting

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

NAPPER = {
    "id": "trigger-napper",
    "version": "1",
    "specVersion": "0.8",
    "start": "Nap",
    "states": [{"name": "Nap", "type": "sleep", "duration": "PT30S", "end": True}],
}
ECHO = {
    "id": "trigger-echo",
    "version": "1",
    "specVersion": "0.8",
    "start": "Done",
    "states": [{"name": "Done", "type": "inject", "data": {"echoed": True}, "end": True}],
}


def trigger(**fields) -> EventTrigger:
    return do_save_trigger(EventTrigger(**fields), user=None)


def test_a_start_trigger_fires_on_matching_type_source_and_extensions_only(api):
    api.post("/api/v1/definitions/?publish=true", ECHO, format="json")
    trigger(
        name="eu orders",
        event_type="com.example.order",
        source="/shop",
        extensions={"region": "eu"},
        action="start",
        definition_key="trigger-echo",
    )
    miss_region = deliver_event(event("com.example.order", "/shop", {"n": 1}, region="us"))
    miss_source = deliver_event(event("com.example.order", "/else", {"n": 2}, region="eu"))
    assert miss_region.started == [] and miss_source.started == []
    hit = event("com.example.order", "/shop", {"n": 3}, region="eu")
    first = deliver_event(hit)
    [instance_id] = first.started
    assert wait_for_instance(instance_id).output == {"n": 3, "echoed": True}
    assert deliver_event(hit).duplicate is True  # once per event
    assert WorkflowInstance.objects.count() == 1
    record = InboundEvent.objects.get(event_id=hit["id"])
    assert record.status == "routed"
    assert record.result["triggers"][0]["trigger"] == "eu orders"
    assert PlatformEvent.objects.filter(event_type="event_trigger_created").count() == 1


def test_a_signal_trigger_reaches_the_instances_with_the_business_key(api):
    api.post("/api/v1/definitions/?publish=true", NAPPER, format="json")
    started = api.post(
        "/api/v1/instances/",
        {"definition": "trigger-napper", "businessKey": "case-7"},
        format="json",
    )
    assert started.status_code == 201, started.json()
    instance_id = started.json()["id"]
    trigger(name="cases", event_type="com.example.case.note", action="signal")
    result = deliver_event(event("com.example.case.note", "/crm", {"x": 1}, subject="case-7"))
    assert result.delivered == [instance_id]
    other = deliver_event(event("com.example.case.note", "/crm", {"x": 1}, subject="case-8"))
    assert other.delivered == []


def test_a_republish_trigger_sends_the_event_to_its_topic(kafka_topics):
    target = kafka_topics.produced + ".copy"
    trigger(name="copy", event_type="com.example.copy", action="republish", topic=target)
    sent = event("com.example.copy", "/s", {"v": 1}, subject="k-1")
    deliver_event(sent)
    producer = new_producer()
    try:
        assert relay_outbox(producer) == 1
    finally:
        producer.close()
    [message] = read_topic(target, expect=1)
    assert message.key == b"k-1"
    assert dict(message.headers)["ce_id"] == sent["id"].encode()
    assert json.loads(message.value) == {"v": 1}


def test_a_republish_trigger_to_the_consumed_topic_is_refused(kafka_topics):
    from apps.core.errors import ServiceError

    with pytest.raises(ServiceError) as refused:
        trigger(name="loop", action="republish", topic=kafka_topics.events)
    assert "loop" in refused.value.message or "topic" in refused.value.fields


class _Hook(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        _Hook.received.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook():
    _Hook.received = []
    server = HTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()


def test_a_webhook_trigger_posts_the_event_through_the_outbound_policy(
    kafka_topics, webhook, allow_outbound
):
    trigger(
        name="hook",
        event_type="com.example.hook",
        action="webhook",
        url=f"http://{webhook}/events",
    )
    producer = new_producer()
    try:
        # Loopback is refused by the outbound policy until allowed: the row waits and retries.
        deliver_event(event("com.example.hook", "/s", {"v": 1}, orderid="o-1"))
        assert relay_outbox(producer) == 0
        row = OutboxEvent.objects.get(webhook_url__startswith="http://")
        assert row.attempts == 1 and "loopback" in row.last_error
        assert _Hook.received == []

        allow_outbound(webhook)
        OutboxEvent.objects.filter(pk=row.pk).update(next_attempt_at=None)
        assert relay_outbox(producer) == 1
    finally:
        producer.close()
    [(headers, body)] = _Hook.received
    lowered = {k.lower(): v for k, v in headers.items()}
    assert lowered["ce-type"] == "com.example.hook"
    assert lowered["ce-orderid"] == "o-1"
    assert json.loads(body) == {"v": 1}


# --- conditions: a jq filter over the event ------------------------------------------------

WAITER = {
    "id": "trigger-waiter",
    "version": "1",
    "specVersion": "0.8",
    "start": "Begin",
    "events": [{"name": "Note", "type": "com.example.note", "source": "/crm"}],
    "states": [
        {"name": "Begin", "type": "inject", "data": {"waiting": True}, "transition": "Await"},
        {
            "name": "Await",
            "type": "event",
            "onEvents": [{"eventRefs": ["Note"], "eventDataFilter": {"toStateData": ".note"}}],
            "end": True,
        },
    ],
}


def test_a_condition_decides_whether_a_trigger_fires(api):
    api.post("/api/v1/definitions/?publish=true", ECHO, format="json")
    trigger(
        name="big eu orders",
        event_type="com.example.order",
        condition='.data.total >= 100 and .region == "eu" and (.data.lines | length) > 0',
        action="start",
        definition_key="trigger-echo",
    )
    small = deliver_event(
        event("com.example.order", "/shop", {"total": 20, "lines": [1]}, region="eu")
    )
    elsewhere = deliver_event(
        event("com.example.order", "/shop", {"total": 500, "lines": [1]}, region="us")
    )
    no_lines = deliver_event(event("com.example.order", "/shop", {"total": 500}, region="eu"))
    assert small.started == [] and elsewhere.started == []
    # `.data.lines | length` of null is 0: no line, no start (and no error).
    assert no_lines.started == []
    big = deliver_event(
        event("com.example.order", "/shop", {"total": 150, "lines": [1]}, region="eu")
    )
    [instance_id] = big.started
    assert wait_for_instance(instance_id).output["echoed"] is True
    record = InboundEvent.objects.get(event_id=small.event_id)
    assert record.status == "unrouted" and record.result["triggers"] == []


def test_a_condition_with_no_output_or_null_does_not_fire(api):
    api.post("/api/v1/definitions/?publish=true", ECHO, format="json")
    trigger(
        name="flagged",
        condition="${ .data.items[] | select(.flagged) }",  # the `${ }` wrapper is accepted
        action="start",
        definition_key="trigger-echo",
    )
    none = deliver_event(event("com.example.any", "/s", {"items": [{"flagged": False}]}))
    empty = deliver_event(event("com.example.any", "/s", {"items": []}))
    hit = deliver_event(event("com.example.any", "/s", {"items": [{"flagged": True}]}))
    assert none.started == [] and empty.started == []
    assert len(hit.started) == 1


@pytest.mark.parametrize(
    ("condition", "said"),
    [
        (".data.total >", "does not compile: syntax error, unexpected end of file (at column 13)"),
        ("$SECRETS.token", "uses $SECRETS, which is not defined"),
        ("env.HOME", "uses env, which is not available in expressions"),
        ("nosuch(1)", "does not compile: nosuch/1 is not defined"),
    ],
)
def test_a_condition_that_cannot_run_is_refused_when_saved(condition, said):
    from apps.core.errors import ServiceError

    with pytest.raises(ServiceError) as refused:
        trigger(name="broken", condition=condition, action="signal")
    assert said in refused.value.fields["condition"][0]
    assert said in refused.value.message
    assert refused.value.message.startswith("The trigger is not valid: condition: the jq condition")
    assert not EventTrigger.objects.exists()


def test_a_runaway_condition_is_refused_at_routing_and_the_event_still_lands(api):
    api.post("/api/v1/definitions/?publish=true", ECHO, format="json")
    api.post("/api/v1/definitions/?publish=true", WAITER, format="json")
    started = api.post("/api/v1/instances/", {"definition": "trigger-waiter"}, format="json")
    assert started.status_code == 201, started.json()
    waiter_id = started.json()["id"]
    wait_until_waiting(waiter_id)
    # It compiles (so it is saved); only running it on an event exceeds the limits.
    trigger(name="a runaway", condition="[range(1e9)] | length > 0", action="signal")
    trigger(name="b failing", condition=".data.text + 1", action="signal")
    trigger(
        name="c echo", event_type="com.example.note", action="start", definition_key="trigger-echo"
    )

    result = deliver_event(event("com.example.note", "/crm", {"text": "hello"}, subject="k"))

    assert result.delivered == [waiter_id]
    assert wait_for_instance(waiter_id).output == {"waiting": True, "note": {"text": "hello"}}
    [echo_id] = result.started
    assert wait_for_instance(echo_id).status == "completed"
    record = InboundEvent.objects.get(event_id=result.event_id)
    runaway, failing, echo = record.result["triggers"]
    assert runaway["trigger"] == "a runaway"
    assert "stopped after" in runaway["refused"] and "CPU" in runaway["refused"]
    assert failing["trigger"] == "b failing"
    assert failing["refused"].startswith("the condition failed: ")
    assert "cannot be added" in failing["refused"]
    assert echo == {"trigger": "c echo", "action": "start", "started": echo_id}


def test_with_no_trigger_routing_reads_nothing_more(django_assert_num_queries):
    from types import SimpleNamespace

    from apps.workflows.services.triggers import apply_triggers, enabled_triggers

    with django_assert_num_queries(1):
        loaded = enabled_triggers()
    record = InboundEvent(source="/s", event_id="e-1", event_type="t")
    result = SimpleNamespace(started=[], delivered=[])
    with django_assert_num_queries(0):
        assert apply_triggers(record, event("t", "/s", {}), result, [], triggers=loaded) == []
    with django_assert_num_queries(1):  # without a pre-loaded list: the one load
        assert apply_triggers(record, event("t", "/s", {}), result, []) == []


def test_pre_loaded_triggers_are_applied_without_loading_them_again(api, django_assert_num_queries):
    from types import SimpleNamespace

    from apps.workflows.services.triggers import apply_triggers, enabled_triggers

    trigger(name="off", condition="true", action="signal", enabled=False)
    trigger(name="quiet", event_type="else", action="signal")
    trigger(name="on", event_type="t", condition=".data.n == 1", action="signal")
    loaded = enabled_triggers()
    assert [t.name for t in loaded] == ["on", "quiet"]
    record = InboundEvent.objects.create(source="/s", event_id="e-1", event_type="t")
    result = SimpleNamespace(started=[], delivered=[])
    with django_assert_num_queries(0):  # matches on nothing: the condition says no
        assert apply_triggers(record, event("t", "/s", {"n": 2}), result, [], triggers=loaded) == []
    fired = apply_triggers(
        record, event("t", "/s", {"n": 1}, subject="x"), result, [], triggers=loaded
    )
    assert fired == [{"trigger": "on", "action": "signal", "delivered": []}]


# --- webhook authentication: a bearer token or an HMAC signature, from the secrets store ---


def _relay() -> int:
    producer = new_producer()
    try:
        return relay_outbox(producer)
    finally:
        producer.close()


def _lowered(headers: dict) -> dict:
    return {k.lower(): v for k, v in headers.items()}


def test_a_webhook_with_bearer_auth_sends_the_secret_current_at_each_call(
    kafka_topics, webhook, allow_outbound, caplog
):
    from apps.workflows.services.secrets import do_set_secret

    allow_outbound(webhook)
    do_set_secret(name="HOOK_TOKEN", value="first-token", user=None)
    trigger(
        name="hook",
        event_type="com.example.hook",
        action="webhook",
        url=f"http://{webhook}/events",
        auth="bearer",
        secret_name="HOOK_TOKEN",
    )
    deliver_event(event("com.example.hook", "/s", {"v": 1}))
    assert _relay() == 1
    do_set_secret(name="HOOK_TOKEN", value="second-token", user=None)  # rotated
    deliver_event(event("com.example.hook", "/s", {"v": 2}))
    assert _relay() == 1

    first, second = _Hook.received
    assert _lowered(first[0])["authorization"] == "Bearer first-token"
    assert _lowered(second[0])["authorization"] == "Bearer second-token"
    assert json.loads(second[1]) == {"v": 2}
    # The rows name the secret; its value is nowhere in them, nor in the logs.
    rows = list(OutboxEvent.objects.values())
    assert {(r["webhook_auth"], r["webhook_secret"]) for r in rows} == {("bearer", "HOOK_TOKEN")}
    assert "-token" not in json.dumps(rows, default=str)
    assert "-token" not in caplog.text


def test_a_webhook_with_hmac_auth_is_signed_so_the_receiver_can_check_it(
    kafka_topics, webhook, allow_outbound
):
    import hashlib
    import hmac
    import time

    from apps.workflows.services.secrets import do_set_secret
    from apps.workflows.webhookauth import verify_signature

    allow_outbound(webhook)
    do_set_secret(name="HOOK_KEY", value="s3cr3t-key", user=None)
    trigger(
        name="signed",
        action="webhook",
        url=f"http://{webhook}/events",
        auth="hmac",
        secret_name="HOOK_KEY",
    )
    deliver_event(event("com.example.signed", "/s", {"amount": 12.5, "who": "zoë"}))
    assert _relay() == 1

    [(headers, body)] = _Hook.received
    headers = _lowered(headers)
    assert "authorization" not in headers
    # What the README tells a receiver to do: split t and v1, HMAC-SHA256 "<t>.<body>".
    fields = dict(part.split("=", 1) for part in headers["xflow-signature"].split(","))
    expected = hmac.new(
        b"s3cr3t-key", fields["t"].encode() + b"." + body, hashlib.sha256
    ).hexdigest()
    assert hmac.compare_digest(fields["v1"], expected)
    assert abs(time.time() - int(fields["t"])) < 60
    assert json.loads(body) == {"amount": 12.5, "who": "zoë"}
    assert headers["ce-type"] == "com.example.signed"
    # The helper a Python receiver may copy agrees, and refuses a tampered body or an old t.
    signature = headers["xflow-signature"]
    assert verify_signature(signature, body, "s3cr3t-key")
    assert not verify_signature(signature, body + b" ", "s3cr3t-key")
    assert not verify_signature(signature, body, "other-key")
    assert not verify_signature(signature, body, "s3cr3t-key", now=time.time() + 600)


def test_a_webhook_whose_secret_is_missing_waits_and_is_retried(
    kafka_topics, webhook, allow_outbound
):
    import time

    from django.utils import timezone

    from apps.workflows.services.secrets import do_delete_secret, do_set_secret

    allow_outbound(webhook)
    do_set_secret(name="HOOK_TOKEN", value="old", user=None)
    trigger(
        name="hook",
        action="webhook",
        url=f"http://{webhook}/events",
        auth="bearer",
        secret_name="HOOK_TOKEN",
    )
    do_delete_secret(name="HOOK_TOKEN", user=None)
    deliver_event(event("com.example.hook", "/s", {"v": 1}))

    assert _relay() == 0
    row = OutboxEvent.objects.get()
    assert row.status == "pending" and row.attempts == 1
    assert "'HOOK_TOKEN'" in row.last_error and "not in the secrets store" in row.last_error
    assert row.next_attempt_at > timezone.now()
    assert _Hook.received == []

    do_set_secret(name="HOOK_TOKEN", value="new-token", user=None)
    assert _relay() == 0  # not due yet: the relay's backoff
    time.sleep(max(0.0, (row.next_attempt_at - timezone.now()).total_seconds()) + 0.1)
    assert _relay() == 1
    [(headers, _)] = _Hook.received
    assert _lowered(headers)["authorization"] == "Bearer new-token"
    row.refresh_from_db()
    assert row.status == "sent" and row.attempts == 2 and row.last_error == ""


@pytest.mark.parametrize(
    ("fields", "field", "said"),
    [
        ({"auth": "bearer", "secret_name": "NOPE"}, "secret_name", "no secret named 'NOPE'"),
        ({"auth": "hmac"}, "secret_name", "hmac auth names the secret"),
        ({"auth": "none", "secret_name": "NOPE"}, "secret_name", "choose bearer or hmac"),
        ({"auth": "basic"}, "auth", "one of none, bearer, hmac"),
    ],
)
def test_webhook_auth_that_cannot_work_is_refused_when_saved(fields, field, said):
    from apps.core.errors import ServiceError

    with pytest.raises(ServiceError) as refused:
        trigger(name="hook", action="webhook", url="https://example.com/h", **fields)
    assert said in refused.value.fields[field][0]
    assert not EventTrigger.objects.exists()


def test_the_admin_form_checks_the_condition_and_offers_the_secrets(client, operator):
    from apps.workflows.services.secrets import do_set_secret

    client.force_login(operator)
    do_set_secret(name="HOOK_KEY", value="s3cr3t-key", user=None)
    form = {
        "name": "signed",
        "enabled": "on",
        "event_type": "a.b",
        "source": "",
        "extensions": "{}",
        "condition": ".data.total >",
        "action": "webhook",
        "definition_key": "",
        "business_key_attribute": "subject",
        "url": "https://example.com/hook",
        "auth": "hmac",
        "secret_name": "HOOK_KEY",
        "topic": "",
    }
    page = client.get("/admin/workflows/eventtrigger/add/").content.decode()
    assert '<option value="HOOK_KEY">HOOK_KEY</option>' in page
    assert "s3cr3t-key" not in page
    refused = client.post("/admin/workflows/eventtrigger/add/", form)
    assert refused.status_code == 200
    assert "does not compile: syntax error" in refused.content.decode()
    assert not EventTrigger.objects.exists()
    accepted = client.post(
        "/admin/workflows/eventtrigger/add/", {**form, "condition": ".data.total > 100"}
    )
    assert accepted.status_code == 302
    saved = EventTrigger.objects.get()
    assert (saved.condition, saved.auth, saved.secret_name) == (
        ".data.total > 100",
        "hmac",
        "HOOK_KEY",
    )
    assert PlatformEvent.objects.filter(event_type="event_trigger_created").count() == 1
    listing = client.get("/admin/workflows/eventtrigger/").content.decode()
    assert "https://example.com/hook (hmac)" in listing
    assert "s3cr3t-key" not in listing
