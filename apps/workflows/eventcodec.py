"""CloudEvents 1.0 in and out of Kafka and HTTP, through the `cloudevents` SDK's bindings.

The platform handles an event as one flat dict (its attributes, plus `data`, or
`data_base64` for bytes): what `deliver_event` routes, `InboundEvent` stores and the engine
receives. This module turns that dict into Kafka and HTTP messages and back, and checks every
event that enters (the same bounds whichever way it came) so that a bad one is refused with a
reason a sender can act on.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any

from cloudevents.core.bindings import http as ce_http
from cloudevents.core.bindings import kafka as ce_kafka
from cloudevents.core.exceptions import CloudEventValidationError
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from dateutil.parser import isoparse
from django.conf import settings

from apps.core.api.parsers import text_problem
from apps.core.errors import ServiceError
from apps.workflows.error_codes import WorkflowErrorCode

STRUCTURED = "application/cloudevents+json"
REQUIRED = ("id", "source", "type", "specversion")
# The lengths the platform stores (InboundEvent, OutboxEvent, EventWait columns).
LIMITS = {
    "id": 200,
    "source": 500,
    "type": 300,
    "subject": 500,
    "datacontenttype": 200,
    "dataschema": 500,
}
EXTENSION_LIMIT = 1000  # characters of an extension attribute's value
FORMAT = JSONFormat()


class EventRefused(ServiceError):
    """An event the platform will not take, with the reason (400 on HTTP, dead letter on Kafka)."""

    def __init__(self, message: str, *, fields: dict[str, list[str]] | None = None) -> None:
        super().__init__(message, code=WorkflowErrorCode.EVENT_INVALID, fields=fields)


def max_event_bytes() -> int:
    return settings.XFLOW_EVENT_MAX_BYTES


# --- checks shared by every entry path --------------------------------------------------


def check_event(event: Any, *, default_specversion: str | None = None) -> dict[str, Any]:
    """The event if it is a CloudEvent 1.0 the platform can store, else EventRefused."""
    if not isinstance(event, dict):
        raise EventRefused(
            "A CloudEvent must be a JSON object with id, source, type and specversion."
        )
    if default_specversion and "specversion" not in event:
        event = {**event, "specversion": default_specversion}
    missing = [a for a in REQUIRED if not isinstance(event.get(a), str) or not event[a]]
    if missing:
        raise EventRefused(
            f"The CloudEvent lacks {', '.join(missing)} (each a non-empty string).",
            fields={a: ["required"] for a in missing},
        )
    if event["specversion"] != "1.0":
        raise EventRefused(
            f"specversion {event['specversion'][:20]!r} is not supported; send CloudEvents 1.0.",
            fields={"specversion": ["must be 1.0"]},
        )
    for name, value in event.items():
        if name in ("data", "data_base64"):
            continue
        if not name.isascii() or not name.isalnum() or name != name.lower():
            raise EventRefused(
                f"The attribute name {name[:60]!r} is not valid: CloudEvents attribute names are "
                "lowercase letters and digits.",
                fields={name[:60]: ["not a valid attribute name"]},
            )
        if value is None:
            continue
        if not isinstance(value, str | int | bool):
            raise EventRefused(
                f"The attribute {name} must be a string, number or boolean.",
                fields={name: ["not a string, number or boolean"]},
            )
        text = str(value)
        limit = LIMITS.get(name, EXTENSION_LIMIT)
        if len(text) > limit:
            raise EventRefused(
                f"The attribute {name} is {len(text):,} characters long; at most {limit:,}.",
                fields={name: [f"at most {limit} characters"]},
            )
        problem = text_problem(text)
        if problem:
            raise EventRefused(
                f"The attribute {name} contains {problem}.", fields={name: [f"contains {problem}"]}
            )
    if "time" in event and event["time"] is not None:
        try:
            isoparse(str(event["time"]))
        except (ValueError, OverflowError):
            raise EventRefused(
                "The attribute time is not an RFC 3339 timestamp.",
                fields={"time": ["not an RFC 3339 timestamp"]},
            ) from None
    _check_data(event.get("data"))
    try:
        as_sdk_event(event)  # what passes here can be encoded for Kafka and HTTP
    except CloudEventValidationError as exc:
        fields = {name: [str(e) for e in errors] for name, errors in exc.errors.items()}
        said = "; ".join(f"{name}: {', '.join(msgs)}" for name, msgs in fields.items())
        raise EventRefused(f"The CloudEvent is not valid: {said}", fields=fields) from None
    except (ValueError, TypeError) as exc:
        raise EventRefused(f"The CloudEvent is not valid: {exc}") from None
    return event


def _check_data(data: Any) -> None:
    """Refuse data that PostgreSQL cannot store (NUL, lone surrogates) or nested too deep."""
    limit = settings.XFLOW_API_MAX_DEPTH
    stack: list[tuple[Any, int, str]] = [(data, 0, "data")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                raise EventRefused(
                    f"The event's data is nested more than {limit} levels deep.",
                    fields={"data": ["nested too deeply"]},
                )
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str):
                    _check_text(key, f"{path}.{key}")
                stack.append((child, depth + 1, f"{path}.{key}"))
        elif isinstance(item, str):
            _check_text(item, path)


def _check_text(text: str, where: str) -> None:
    problem = text_problem(text)
    if problem:
        shown = where[:200].encode("utf-8", "backslashreplace").decode().replace("\x00", "\\u0000")
        raise EventRefused(f"The text at '{shown}' contains {problem}.", fields={"data": [problem]})


# --- SDK events and the platform's dict ----------------------------------------------------


def _strict_factory(attributes: dict[str, Any], data: Any) -> CloudEvent:
    """The SDK's CloudEvent, without its defaults: a missing id or specversion is refused here,
    not invented (the SDK would make up an id, and a time)."""
    plain = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in attributes.items()}
    check_event(plain)
    return _sdk_event(attributes, data)


class _CloudEvent(CloudEvent):
    """The SDK's CloudEvent without a `time` the sender did not set (the SDK invents one)."""

    def __init__(self, attributes: dict[str, Any], data: Any = None) -> None:
        had_time = "time" in attributes
        super().__init__(attributes, data)
        if not had_time:
            self._attributes.pop("time", None)


def _sdk_event(attributes: dict[str, Any], data: Any) -> CloudEvent:
    return _CloudEvent(attributes, data)


def as_dict(event: CloudEvent) -> dict[str, Any]:
    """The SDK event as the platform's flat dict (time as text, bytes as data_base64)."""
    result: dict[str, Any] = {}
    for name, value in event.get_attributes().items():
        if isinstance(value, datetime):
            text = value.isoformat()
            value = text[:-6] + "Z" if text.endswith("+00:00") else text
        result[name] = value
    data = event.get_data()
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError:
            result["data_base64"] = base64.b64encode(data).decode()
            return result
    if data is not None:
        result["data"] = data
    return result


def as_sdk_event(event: dict[str, Any], *, binary: bool = False) -> CloudEvent:
    """The platform's dict as the SDK's CloudEvent (to encode it for Kafka or HTTP)."""
    attributes = {k: v for k, v in event.items() if k not in ("data", "data_base64")}
    if isinstance(attributes.get("time"), str):
        attributes["time"] = isoparse(attributes["time"])
    attributes = {k: (str(v) if isinstance(v, int | bool) else v) for k, v in attributes.items()}
    if event.get("data_base64") is not None:
        data: Any = base64.b64decode(event["data_base64"])
    else:
        data = event.get("data")
    ctype = attributes.get("datacontenttype")
    json_data = ctype is None or bool(JSONFormat.JSON_CONTENT_TYPE_PATTERN.match(str(ctype)))
    if binary and json_data and data is not None and not isinstance(data, bytes):
        # In binary mode the SDK writes only dicts as JSON (a string as raw text): JSON data
        # is written here (the structured format writes any JSON value itself).
        data = json.dumps(data).encode()
        attributes.setdefault("datacontenttype", "application/json")
    return _sdk_event(attributes, data)


def partition_key(event: dict[str, Any]) -> str:
    """The Kafka key: the `partitionkey` extension, else the subject, else the id."""
    return str(event.get("partitionkey") or event.get("subject") or event["id"])


# --- Kafka ---------------------------------------------------------------------------------


def to_kafka(
    event: dict[str, Any], *, structured: bool = False
) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    """(key, value, headers) of the event in binary (default) or structured mode."""
    sdk_event = as_sdk_event(event, binary=not structured)
    key = partition_key(event).encode()
    convert = ce_kafka.to_structured if structured else ce_kafka.to_binary
    message = convert(sdk_event, FORMAT, key_mapper=lambda _: key)
    return key, message.value, list(message.headers.items())


def from_kafka(
    key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes | None]] | None
) -> dict[str, Any]:
    """A consumed message as the platform's event dict, or EventRefused saying why not."""
    size = len(value or b"")
    if size > max_event_bytes():
        raise EventRefused(
            f"The message is {size:,} bytes; events are at most {max_event_bytes():,} bytes."
        )
    header_map = {name: raw or b"" for name, raw in headers or []}
    binary = any(name.lower().startswith(ce_kafka.CE_PREFIX) for name in header_map)
    if not binary and not value:
        raise EventRefused("The message is empty: neither ce_ headers nor a structured event.")
    message = ce_kafka.KafkaMessage(headers=header_map, key=key, value=value or b"")
    try:
        event = ce_kafka.from_kafka(message, FORMAT, _strict_factory)
    except EventRefused:
        raise
    except json.JSONDecodeError as exc:
        raise EventRefused(f"The message is not JSON ({exc}).") from None
    except UnicodeDecodeError:
        raise EventRefused("The message is not UTF-8 text.") from None
    except CloudEventValidationError as exc:
        raise EventRefused(f"The message is not a valid CloudEvent: {exc}") from None
    except (ValueError, TypeError, AttributeError, OverflowError) as exc:
        raise EventRefused(f"The message is not a CloudEvent: {exc}") from None
    result = as_dict(event)
    if binary:
        _require_json_data(result, value)
    return check_event(result)


def _require_json_data(event: dict[str, Any], body: bytes | None) -> None:
    """Binary mode with a JSON content type must carry JSON (the SDK falls back to text)."""
    ctype = event.get("datacontenttype") or ""
    if (
        body
        and isinstance(event.get("data"), str)
        and JSONFormat.JSON_CONTENT_TYPE_PATTERN.match(ctype)
    ):
        try:
            json.loads(body)
        except ValueError as exc:
            raise EventRefused(
                f"The data is not JSON although its type is {ctype} ({exc})."
            ) from None


# --- HTTP ------------------------------------------------------------------------------------


def from_http(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """An HTTP request's event: binary mode (`ce-*` headers), structured mode
    (`application/cloudevents+json`) or a plain JSON object (specversion defaults to 1.0)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    binary = any(name.startswith(ce_http.CE_PREFIX) for name in lowered)
    if not binary:
        from apps.core.api.parsers import parse_json

        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise EventRefused("The body is not UTF-8 text.") from None
        parsed = parse_json(text)  # ParseError names NUL, depth, syntax
        if lowered.get("content-type", "").startswith(STRUCTURED):
            return check_event(parsed)
        return check_event(parsed, default_specversion="1.0")
    message = ce_http.HTTPMessage(
        headers={k: v for k, v in lowered.items() if k.startswith("ce-") or k == "content-type"},
        body=body,
    )
    try:
        event = ce_http.from_binary(message, FORMAT, _strict_factory)
    except EventRefused:
        raise
    except CloudEventValidationError as exc:
        raise EventRefused(f"The request is not a valid CloudEvent: {exc}") from None
    except (ValueError, TypeError, UnicodeDecodeError) as exc:
        raise EventRefused(f"The request is not a CloudEvent: {exc}") from None
    result = as_dict(event)
    _require_json_data(result, body)
    return check_event(result)


def to_http(event: dict[str, Any], *, structured: bool = False) -> tuple[dict[str, str], bytes]:
    """(headers, body) of the event for a webhook call."""
    convert = ce_http.to_structured if structured else ce_http.to_binary
    message = convert(as_sdk_event(event, binary=not structured), FORMAT)
    return dict(message.headers), message.body
