"""The Kafka bridge: CloudEvents from topics into workflows, and the outbox out to Kafka.

Consumed messages may be in binary mode (`ce_*` headers, data in the value) or structured
mode (`content-type: application/cloudevents+json`, the whole event in the value). What
cannot be parsed or routed goes to the dead-letter topic with the reason in a header; a
message's offset is committed only after it was delivered or dead-lettered.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any

from django.conf import settings
from django.db import close_old_connections, transaction
from django.utils import timezone

from apps.core.errors import ServiceError, Unavailable
from apps.workflows.models import OutboxEvent
from apps.workflows.services.events import default_topic, deliver_event

log = logging.getLogger("xflow.bridge")

STRUCTURED = "application/cloudevents+json"


def dead_letter_topic() -> str:
    return f"{settings.KAFKA_TOPIC_PREFIX}deadletter"


def kafka_options() -> dict[str, Any]:
    options: dict[str, Any] = {
        "bootstrap_servers": settings.KAFKA_BOOTSTRAP_SERVERS,
        "security_protocol": settings.KAFKA_SECURITY_PROTOCOL,
    }
    if settings.KAFKA_SASL_MECHANISM:
        options.update(
            sasl_mechanism=settings.KAFKA_SASL_MECHANISM,
            sasl_plain_username=settings.KAFKA_SASL_USERNAME,
            sasl_plain_password=settings.KAFKA_SASL_PASSWORD,
        )
    return options


def to_kafka(
    row: OutboxEvent, *, structured: bool = False
) -> tuple[bytes, list[tuple[str, bytes]]]:
    """An outbox row as a Kafka value and headers (binary mode by default)."""
    attributes = dict(row.attributes)
    if structured:
        body = {**attributes, "data": row.data}
        return json.dumps(body).encode(), [("content-type", STRUCTURED.encode())]
    headers = [
        (f"ce_{k}", str(v).encode()) for k, v in attributes.items() if k != "datacontenttype"
    ]
    headers.append(
        ("content-type", str(attributes.get("datacontenttype", "application/json")).encode())
    )
    return json.dumps(row.data).encode(), headers


def from_kafka(value: bytes | None, headers: list[tuple[str, bytes]] | None) -> dict[str, Any]:
    """A Kafka message as a CloudEvent dict; ValueError says why it is not one."""
    hdrs = {k.lower(): (v or b"").decode("utf-8", "replace") for k, v in headers or []}
    ctype = hdrs.get("content-type", "")
    if ctype.startswith(STRUCTURED) or ("ce_id" not in hdrs and value):
        try:
            event = json.loads(value or b"")
        except ValueError as exc:
            raise ValueError(f"the value is not JSON ({exc})") from None
        if not isinstance(event, dict):
            raise ValueError("a structured CloudEvent must be a JSON object")
        return event
    event: dict[str, Any] = {k[3:]: v for k, v in hdrs.items() if k.startswith("ce_")}
    if ctype:
        event["datacontenttype"] = ctype
    if value is not None:
        if "json" in ctype or not ctype:
            try:
                event["data"] = json.loads(value)
            except ValueError:
                event["data"] = value.decode("utf-8", "replace")
        else:
            event["data"] = value.decode("utf-8", "replace")
    return event


def publish_outbox(producer, *, batch: int = 200) -> int:
    """Send pending outbox rows in order; mark each sent only after the broker acknowledged."""
    sent = 0
    with transaction.atomic():
        rows = list(
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(published_at__isnull=True)
            .order_by("id")[:batch]
        )
        for row in rows:
            value, headers = to_kafka(row)
            try:
                producer.send(
                    row.topic,
                    value=value,
                    headers=headers,
                    key=(row.attributes.get("subject") or row.event_id).encode(),
                ).get(timeout=10)
            except Exception as exc:  # the row stays pending and is tried again
                row.attempts += 1
                row.last_error = str(exc)[:1000]
                row.save(update_fields=["attempts", "last_error"])
                log.warning("outbox %s not published: %s", row.event_id, exc)
                break
            row.published_at = timezone.now()
            row.attempts += 1
            row.save(update_fields=["published_at", "attempts"])
            sent += 1
    return sent


def handle_message(message, producer) -> str:
    """Deliver one consumed message; returns 'delivered', 'dead-lettered' or raises to retry."""
    try:
        event = from_kafka(message.value, message.headers)
        result = deliver_event(event)
        log.info(
            "event %s (%s): started %d, woke %d%s",
            event.get("id"),
            event.get("type"),
            len(result.started),
            len(result.delivered),
            " (duplicate)" if result.duplicate else "",
        )
        return "delivered"
    except Unavailable:
        raise  # the engine is down: do not commit, the message is read again
    except (ValueError, ServiceError) as exc:
        reason = getattr(exc, "message", None) or str(exc)
        headers = list(message.headers or []) + [
            ("xflow_dlq_reason", reason.encode()[:1000]),
            ("xflow_dlq_topic", message.topic.encode()),
            ("xflow_dlq_offset", str(message.offset).encode()),
        ]
        producer.send(dead_letter_topic(), value=message.value, headers=headers).get(timeout=10)
        log.warning("dead-lettered %s@%s: %s", message.topic, message.offset, reason)
        return "dead-lettered"


def run_bridge(
    stop: threading.Event, *, topics: list[str] | None = None, poll_seconds: float = 0.5
) -> None:
    """Consume topics and relay the outbox until `stop` is set."""
    from kafka import KafkaConsumer, KafkaProducer

    topics = topics or [default_topic()]
    options = kafka_options()
    producer = KafkaProducer(**options, acks="all", linger_ms=5, retries=5)
    consumer = KafkaConsumer(
        *topics,
        **options,
        group_id=settings.KAFKA_CONSUMER_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # tansu (and small clusters) make the first group join wait ~half the session timeout.
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    log.info(
        "bridge consuming %s on %s", ", ".join(topics), ", ".join(options["bootstrap_servers"])
    )
    try:
        while not stop.is_set():
            close_old_connections()
            publish_outbox(producer)
            batches = consumer.poll(timeout_ms=int(poll_seconds * 1000), max_records=100)
            for partition, messages in batches.items():
                for message in messages:
                    try:
                        handle_message(message, producer)
                    except Unavailable as exc:
                        log.warning(
                            "engine unavailable, will re-read %s@%s: %s",
                            message.topic,
                            message.offset,
                            exc,
                        )
                        consumer.seek(partition, message.offset)
                        time.sleep(2)
                        break
                    consumer.commit({partition: _offset(message.offset + 1)})
    finally:
        consumer.close()
        producer.close()
        log.info("bridge stopped")


def _offset(offset: int):
    from kafka.structs import OffsetAndMetadata

    try:
        return OffsetAndMetadata(offset, None, -1)
    except TypeError:  # older kafka-python: (offset, metadata)
        return OffsetAndMetadata(offset, None)
