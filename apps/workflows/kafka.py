"""Kafka clients of the platform: connection options, and the HTTP ingress's producer."""

from __future__ import annotations

import logging
import threading
from typing import Any

from django.conf import settings

from apps.core.errors import Unavailable

log = logging.getLogger("xflow.kafka")

_producer = None
_producer_lock = threading.Lock()


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


def new_producer(**extra: Any):
    """A producer that waits for all replicas (an acknowledged send is durable)."""
    from kafka import KafkaProducer

    return KafkaProducer(**kafka_options(), acks="all", retries=5, **extra)


class ProducerHolder:
    """A producer made again after it failed: an idempotent producer whose id the broker no
    longer knows (a broker restarted without its state) stays failed for good."""

    def __init__(self, **options: Any) -> None:
        self.options = options
        self._producer = None
        self._lock = threading.Lock()

    def get(self):
        with self._lock:
            if self._producer is None:
                self._producer = new_producer(**self.options)
            return self._producer

    def reset(self) -> None:
        with self._lock:
            if self._producer is not None:
                try:
                    self._producer.close(timeout=0)
                except Exception:  # noqa: BLE001 - closing a broken client
                    pass
            self._producer = None

    close = reset


def broker_unavailable(exc: Exception) -> Unavailable:
    return Unavailable(
        "The event broker (Kafka) is not reachable; the event was not accepted. Try again later."
        f" ({type(exc).__name__})"
    )


def shared_producer():
    """The process's producer for request threads (kafka-python's producer is thread-safe)."""
    global _producer
    with _producer_lock:
        if _producer is None:
            try:
                # A request must not hang on a broker that is down: a few seconds, then 503.
                _producer = new_producer(linger_ms=2, max_block_ms=5000, request_timeout_ms=5000)
            except Exception as exc:  # NoBrokersAvailable and friends
                raise broker_unavailable(exc) from exc
        return _producer


def reset_shared_producer() -> None:
    """Forget the producer (after a broker failure, or between tests that move the broker)."""
    global _producer
    with _producer_lock:
        if _producer is not None:
            try:
                _producer.close(timeout=1)
            except Exception:  # noqa: BLE001 - closing a broken client
                pass
        _producer = None


def publish(topic: str, *, key: bytes, value: bytes, headers: list[tuple[str, bytes]]):
    """Send one message and wait for the broker's acknowledgement; Unavailable if it is down."""
    producer = shared_producer()
    try:
        return producer.send(topic, key=key, value=value, headers=headers).get(timeout=10)
    except Exception as exc:  # KafkaTimeoutError, KafkaConnectionError...
        log.warning("publishing to %s failed: %s", topic, exc)
        reset_shared_producer()
        raise broker_unavailable(exc) from exc
