"""CloudEvents on the wire: what another system sends or receives, through the real broker."""

from __future__ import annotations

import json
import uuid

import pytest

from apps.workflows.eventcodec import EventRefused, check_event, from_http, from_kafka, to_kafka

from .conftest import produce, read_topic

EVENT = {
    "specversion": "1.0",
    "id": "evt-1",
    "source": "/shop",
    "type": "com.example.order.placed",
    "time": "2026-01-02T03:04:05Z",
    "orderid": "o-1",
    "datacontenttype": "application/json",
    "data": {"sku": "A", "qty": [1, 2]},
}


@pytest.mark.parametrize("structured", [False, True])
def test_an_event_crosses_the_broker_unchanged_in_both_modes(kafka_topics, structured):
    key, value, headers = to_kafka(EVENT, structured=structured)
    produce(kafka_topics.events, key=key, value=value, headers=headers)
    [message] = read_topic(kafka_topics.events, expect=1)
    names = {name for name, _ in message.headers}
    if structured:
        assert names == {"content-type"}
        assert json.loads(message.value)["orderid"] == "o-1"
    else:
        assert {"ce_id", "ce_source", "ce_type", "ce_specversion", "ce_orderid"} <= names
        assert json.loads(message.value) == EVENT["data"]
    received = from_kafka(message.key, message.value, message.headers)
    assert {k: v for k, v in received.items() if k != "partitionkey"} == EVENT


@pytest.mark.parametrize(
    ("extra", "key"),
    [
        ({"partitionkey": "pk-1", "subject": "s-1"}, b"pk-1"),
        ({"subject": "order/77"}, b"order/77"),
        ({}, b"evt-1"),
    ],
)
def test_the_kafka_key_is_the_partition_key_else_the_subject_else_the_id(extra, key):
    assert to_kafka({**EVENT, **extra})[0] == key


def test_a_producer_sending_no_time_gets_none_invented():
    event = {k: v for k, v in EVENT.items() if k != "time"}
    key, value, headers = to_kafka(event)
    assert "time" not in from_kafka(key, value, headers)


@pytest.mark.parametrize(
    ("value", "headers", "reason"),
    [
        (b"not json at all", [], "not JSON"),
        (b'{"source": "/s", "type": "t", "specversion": "1.0"}', [], "lacks id"),
        (b'{"id": "1", "source": "/s", "type": "t", "specversion": "0.3"}', [], "0.3"),
        (b'{"id": "1", "source": "/s", "type": "t"}', [], "specversion"),
        (b"x" * (1024 * 1024 + 1), [], "at most 1,048,576 bytes"),
        (b"{}", [("ce_id", b"1"), ("ce_type", b"t"), ("ce_specversion", b"1.0")], "source"),
        (
            b"{oops",
            [
                ("ce_id", b"1"),
                ("ce_source", b"/s"),
                ("ce_type", b"t"),
                ("ce_specversion", b"1.0"),
                ("content-type", b"application/json"),
            ],
            "not JSON",
        ),
        (b'{"id": "1", "source": "/s", "type": "t\\u0000", "specversion": "1.0"}', [], "NUL"),
        (
            b'{"id": "1", "source": "/s", "type": "t", "specversion": "1.0", "data": "\\ud800"}',
            [],
            "surrogate",
        ),
        (b"", [], "empty"),
    ],
)
def test_what_is_not_a_cloud_event_is_refused_with_the_reason(value, headers, reason):
    with pytest.raises(EventRefused) as refused:
        from_kafka(None, value, headers)
    assert reason in refused.value.message


@pytest.mark.parametrize(
    ("name", "limit"), [("id", 200), ("source", 500), ("type", 300), ("subject", 500)]
)
def test_attribute_lengths_are_bounded(name, limit):
    check_event({**EVENT, name: "a" * limit})
    with pytest.raises(EventRefused) as refused:
        check_event({**EVENT, name: "a" * (limit + 1)})
    assert name in refused.value.fields


def test_http_binary_mode_reads_ce_headers_and_the_body():
    event = from_http(
        {
            "Ce-Id": str(uuid.uuid4()),
            "Ce-Source": "/s",
            "Ce-Type": "t.x",
            "Ce-Specversion": "1.0",
            "Ce-Orderid": "o-9",
            "Content-Type": "text/plain",
        },
        b"hello",
    )
    assert event["orderid"] == "o-9"
    assert event["data"] == "hello"
    assert event["datacontenttype"] == "text/plain"


def test_binary_data_that_is_not_text_is_kept_as_base64():
    headers = [("ce_id", b"1"), ("ce_source", b"/s"), ("ce_type", b"t"), ("ce_specversion", b"1.0")]
    headers.append(("content-type", b"application/octet-stream"))
    event = from_kafka(None, b"\xff\x00\xfe", headers)
    assert event["data_base64"] == "/wD+"
    assert from_kafka(*to_kafka(event)[:2], to_kafka(event)[2])["data_base64"] == "/wD+"
