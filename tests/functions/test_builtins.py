"""`xflow:` built-in functions, through the activity."""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from datetime import UTC, datetime, timedelta

from apps.workflows.engine.activities import BUILTINS, describe_builtins


def builtin(name):
    return {"name": name, "type": "custom", "operation": f"xflow:{name}"}


def test_uuid_returns_a_fresh_uuid4(call):
    first, second = call(builtin("uuid")), call(builtin("uuid"))

    assert uuid.UUID(first["uuid"]).version == 4
    assert first != second


def test_uuid_count_returns_that_many(call, call_error):
    assert len(set(call(builtin("uuid"), {"count": 3})["uuids"])) == 3
    assert call_error(builtin("uuid"), {"count": 0})["code"] == "InvalidArguments"


def test_now_gives_utc_epoch_and_the_asked_timezone(call):
    # Given a timezone and a shift of two days
    before = datetime.now(UTC)

    # When asking for the time
    result = call(builtin("now"), {"timezone": "Asia/Tokyo", "plus": "P2D"})

    # Then the UTC form, the epoch and the local form agree
    utc = datetime.fromisoformat(result["utc"].replace("Z", "+00:00"))
    assert result["utc"].endswith("Z")
    assert abs(utc - (before + timedelta(days=2))) < timedelta(seconds=5)
    assert result["epochMillis"] == int(utc.timestamp() * 1000)
    assert result["iso"].endswith("+09:00")
    assert datetime.fromisoformat(result["iso"]) == utc


def test_now_rejects_an_unknown_timezone_and_a_bad_duration(call_error):
    assert call_error(builtin("now"), {"timezone": "Mars/Olympus"})["code"] == "InvalidArguments"
    assert "ISO 8601" in call_error(builtin("now"), {"plus": "2 days"})["message"]


def test_log_writes_to_the_workflow_logger_and_returns_its_arguments(call, caplog):
    caplog.set_level(logging.DEBUG, logger="xflow.workflows")

    result = call(builtin("log"), {"message": "order placed", "level": "warning", "orderId": 7})

    assert result == {"message": "order placed", "level": "warning", "orderId": 7}
    record = next(r for r in caplog.records if r.name == "xflow.workflows")
    assert record.levelno == logging.WARNING
    assert "order placed" in record.getMessage() and '"orderId": 7' in record.getMessage()
    assert record.instance_id == "inst-1"


def test_hash_of_a_string_and_of_json(call):
    text = call(builtin("hash"), {"value": "abc"})
    one = call(builtin("hash"), {"value": {"b": 1, "a": [1, 2]}, "algorithm": "sha512"})
    same = call(builtin("hash"), {"value": {"a": [1, 2], "b": 1}, "algorithm": "sha512"})

    assert text["hex"] == hashlib.sha256(b"abc").hexdigest()
    assert one["algorithm"] == "sha512" and one["hex"] == same["hex"]


def test_hash_needs_a_value_and_a_known_algorithm(call_error):
    assert call_error(builtin("hash"), {})["code"] == "InvalidArguments"
    assert call_error(builtin("hash"), {"value": 1, "algorithm": "crc"})["code"] == (
        "InvalidArguments"
    )


def test_template_fills_values_and_leaves_unknown_placeholders(call):
    result = call(
        builtin("template"),
        {"template": "Hello $name, order ${id} costs $$5 $unknown", "name": "Ann", "id": 12},
    )

    assert result == {"text": "Hello Ann, order 12 costs $5 $unknown"}


def test_template_strict_names_the_missing_value(call_error):
    detail = call_error(builtin("template"), {"template": "Hi $who", "values": {}, "strict": True})

    assert detail["code"] == "InvalidArguments"
    assert "$who" in detail["message"]


def test_fail_raises_the_chosen_code(call_error):
    detail = call_error(builtin("fail"), {"code": "OutOfStock", "body": {"sku": "A1"}})

    assert detail["code"] == "OutOfStock"
    assert detail["body"] == {"sku": "A1"}


def test_unknown_builtin_lists_the_known_ones(call_error):
    detail = call_error(builtin("sleep"))

    assert detail["code"] == "UnknownFunction"
    assert "xflow:uuid" in detail["message"] and "xflow:send-email" in detail["message"]


def test_other_custom_prefixes_are_not_run_here(call_error):
    detail = call_error({"name": "q", "type": "custom", "operation": "query:customers"})

    assert detail["code"] == "UnknownFunction"
    assert "query:customers" in detail["message"]


def test_every_builtin_is_documented():
    listed = describe_builtins()

    assert {b["operation"] for b in listed} == {f"xflow:{name}" for name in BUILTINS}
    for entry in listed:
        assert entry["description"] and entry["returns"]
        assert re.fullmatch(r"xflow:[a-z-]+", entry["operation"])
