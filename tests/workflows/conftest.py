"""End-to-end tests of instances through the API run on the production worker; its fixture
(`engine_worker`), `wait_for_instance` and the cleanup after each test live in tests/conftest.py
so a whole session shares one worker."""

import threading
import time
import uuid
from types import SimpleNamespace

import pytest

from tests.conftest import wait_for_instance

__all__ = ["wait_for_instance"]


# --- Kafka: topics of one test, the bridge, reading and writing raw messages ---------------


@pytest.fixture
def kafka_topics(settings):
    """Topics and a consumer group of this test only (on the shared broker)."""
    tag = uuid.uuid4().hex[:8]
    base = f"{settings.KAFKA_TOPIC_PREFIX}t{tag}."
    settings.KAFKA_EVENTS_TOPIC = base + "events"
    settings.KAFKA_PRODUCED_TOPIC = base + "produced"
    settings.KAFKA_DEADLETTER_TOPIC = base + "deadletter"
    settings.KAFKA_CONSUMER_GROUP = f"{settings.KAFKA_CONSUMER_GROUP}-{tag}"
    return SimpleNamespace(
        events=settings.KAFKA_EVENTS_TOPIC,
        produced=settings.KAFKA_PRODUCED_TOPIC,
        deadletter=settings.KAFKA_DEADLETTER_TOPIC,
        group=settings.KAFKA_CONSUMER_GROUP,
    )


@pytest.fixture
def bridge(kafka_topics, engine_worker):
    """`run_bridge` in a thread for this test (consuming and relaying the outbox)."""
    from apps.workflows.bridge import run_bridge

    stop = threading.Event()
    thread = threading.Thread(
        target=run_bridge, args=(stop,), kwargs={"poll_seconds": 0.2}, daemon=True
    )
    thread.start()
    yield kafka_topics
    stop.set()
    thread.join(30)
    assert not thread.is_alive(), "the bridge did not stop"


def produce(topic: str, *, value: bytes | None, key: bytes | None = None, headers=()) -> None:
    """Write one raw message and wait for the broker's acknowledgement."""
    from apps.workflows.kafka import new_producer

    producer = new_producer()
    try:
        producer.send(topic, key=key, value=value, headers=list(headers)).get(timeout=10)
    finally:
        producer.close()


def read_topic(topic: str, *, expect: int, timeout: float = 30.0) -> list:
    """The first `expect` messages of a topic (all partitions, from the beginning)."""
    from kafka import KafkaConsumer, TopicPartition

    from apps.workflows.kafka import kafka_options

    consumer = KafkaConsumer(**kafka_options(), enable_auto_commit=False)
    deadline = time.monotonic() + timeout
    try:
        partitions = None
        while not partitions:
            assert time.monotonic() < deadline, f"the topic {topic} never appeared"
            partitions = consumer.partitions_for_topic(topic)
            if not partitions:
                time.sleep(0.2)
        assigned = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        messages: list = []
        while len(messages) < expect and time.monotonic() < deadline:
            for batch in consumer.poll(timeout_ms=300).values():
                messages.extend(batch)
        return messages
    finally:
        consumer.close()
