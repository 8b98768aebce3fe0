"""The Kafka bridge: CloudEvents from topics into workflows, and the outbox out to Kafka.

Consumed messages may be in binary mode (`ce_*` headers, data in the value) or structured
mode (`content-type: application/cloudevents+json`, the whole event in the value); the
`cloudevents` SDK reads both (apps.workflows.eventcodec). A consumer group shares the
partitions among bridges; each partition's messages are handled in order, partitions side by
side; a partition's messages are routed a batch at a time, one transaction per up to
XFLOW_BRIDGE_BATCH_EVENTS events (services.routing), and a batch that fails is handled again
one message at a time, so that one poison message cannot hold back the others. An offset is
committed only after its message's effect is durable: routed (the InboundEvent and delivery
rows committed) or dead-lettered (the DeadLetter row committed and the broker acknowledged
the dead-letter copy). A bridge killed in between reads the message again, and routing is
idempotent per (source, id).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connections

from apps.core.aftercommit import dispatching
from apps.core.errors import ServiceError, Unavailable
from apps.workflows.eventcodec import from_kafka, max_event_bytes
from apps.workflows.kafka import ProducerHolder, kafka_options
from apps.workflows.outbox import relay_outbox
from apps.workflows.services.deadletters import DLQ_HEADER_PREFIX, record_dead_letter
from apps.workflows.services.events import default_topic, deliver_event
from apps.workflows.services.routing import route_events

log = logging.getLogger("xflow.bridge")

# An unexpected error (a bug, the database away) is retried this often before the message is
# dead-lettered, so one poison message cannot hold its partition for ever.
MAX_UNEXPECTED_FAILURES = 5


def dead_letter_topic() -> str:
    return settings.KAFKA_DEADLETTER_TOPIC


def origin_of(message) -> str:
    return f"{message.topic}/{message.partition}@{message.offset}"


def handle_message(message, producers: ProducerHolder) -> str:
    """Deliver one consumed message; 'delivered' or 'dead-lettered', or raises to retry."""
    try:
        event = from_kafka(message.key, message.value, message.headers)
        result = deliver_event(event, origin=origin_of(message))
    except Unavailable:
        raise  # the engine is down: do not commit, the message is read again
    except ServiceError as exc:
        dead_letter(message, producers, exc.message)
        return "dead-lettered"
    log.debug(
        "event %s (%s): started %d, woke %d%s",
        event.get("id"),
        event.get("type"),
        len(result.started),
        len(result.delivered),
        " (duplicate)" if result.duplicate else "",
    )
    return "delivered"


def route_messages(messages: list) -> list[Any]:
    """Route a partition's messages in as few transactions as possible; per message None
    (routed, or a redelivery), or the ServiceError that refused it (to be dead-lettered)."""
    outcomes: list[Any] = [None] * len(messages)
    events: list[tuple[Any, str]] = []
    positions: list[int] = []
    for position, message in enumerate(messages):
        try:
            events.append(
                (from_kafka(message.key, message.value, message.headers), origin_of(message))
            )
        except ServiceError as exc:
            outcomes[position] = exc
            continue
        positions.append(position)
    for position, outcome in zip(positions, route_events(events), strict=True):
        if isinstance(outcome, ServiceError):
            outcomes[position] = outcome
    return outcomes


def dead_letter(message, producers: ProducerHolder, reason: str) -> None:
    """Keep the message (row + dead-letter topic, same key), with why and where it came from."""
    original = [
        (name, value or b"")
        for name, value in message.headers or []
        if not name.startswith(DLQ_HEADER_PREFIX)
    ]
    record_dead_letter(
        topic=message.topic,
        partition=message.partition,
        offset=message.offset,
        key=message.key,
        value=message.value,
        headers=original,
        reason=reason,
        keep_bytes=max_event_bytes(),
    )
    headers = original + [
        ("xflow_dlq_reason", reason.encode()[:1000]),
        ("xflow_dlq_topic", message.topic.encode()),
        ("xflow_dlq_partition", str(message.partition).encode()),
        ("xflow_dlq_offset", str(message.offset).encode()),
    ]
    value = message.value
    if value is not None and len(value) > settings.XFLOW_BRIDGE_MAX_REQUEST_BYTES // 2:
        # Too large to copy: the dead-letter copy says so; the original stays in its topic.
        headers.append(("xflow_dlq_value_dropped", str(len(value)).encode()))
        value = None
    try:
        producers.get().send(
            dead_letter_topic(), key=message.key, value=value, headers=headers
        ).get(timeout=30)
    except Exception:
        producers.reset()  # a failed idempotent producer stays failed: the next try makes one
        raise
    log.warning("dead-lettered %s: %s", origin_of(message), reason)


class Sender:
    """Runs routing's side effects (Temporal starts and signals) on threads of their own, so
    the partitions' threads go on routing. A partition's batches always go to the same
    single-threaded lane, one after the other, so an instance's events are signalled in the
    order they were routed; at most `backlog` batches wait (then routing waits too). They are
    rows already committed: what a killed bridge never sent, the reconciler sends."""

    def __init__(self, lanes: int, backlog: int = 200) -> None:
        self.lanes = [
            ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"bridge-send-{n}")
            for n in range(max(1, lanes))
        ]
        self.slots = threading.BoundedSemaphore(backlog)

    def lane(self, key: Any):
        """The dispatcher of the lane that sends for `key` (a partition)."""
        executor = self.lanes[hash(key) % len(self.lanes)]
        return lambda fn: self._submit(executor, fn)

    def _submit(self, executor: ThreadPoolExecutor, fn) -> None:
        self.slots.acquire()

        def run() -> None:
            try:
                fn()
            except Exception:  # noqa: BLE001 - the row stays pending for the reconciler
                log.exception("sending to the engine failed")
            finally:
                connections.close_all()
                self.slots.release()

        executor.submit(run)

    def close(self) -> None:
        for executor in self.lanes:
            executor.shutdown(wait=True)


class PartitionWork:
    """Handle one partition's batch in order; stop at the first message to retry."""

    def __init__(self, producers, failures: dict[tuple[str, int, int], int], sender=None) -> None:
        self.producers = producers
        self.failures = failures
        self.sender = sender

    def __call__(self, messages: list) -> tuple[int | None, int | None]:
        """(next offset to commit, offset to seek back to) for the batch."""
        if self.sender is None:
            return self._batch(messages)
        with dispatching(self.sender.lane((messages[0].topic, messages[0].partition))):
            return self._batch(messages)

    def _batch(self, messages: list) -> tuple[int | None, int | None]:
        try:
            try:
                outcomes = route_messages(messages)
            except Exception:  # noqa: BLE001 - the database away, or one message's bug
                log.exception(
                    "routing %d messages of %s at once failed; one by one now",
                    len(messages),
                    origin_of(messages[0]),
                )
                return self._one_by_one(messages)
            done: int | None = None
            for message, outcome in zip(messages, outcomes, strict=True):
                if isinstance(outcome, Unavailable):
                    log.warning("will re-read %s: %s", origin_of(message), outcome)
                    return done, message.offset
                if isinstance(outcome, ServiceError) and not self._dead_letter(message, outcome):
                    return done, message.offset
                done = message.offset + 1
            return done, None
        finally:
            # Back to the pool: the thread may serve another partition next time.
            connections.close_all()

    def _dead_letter(self, message, refusal: ServiceError) -> bool:
        try:
            dead_letter(message, self.producers, refusal.message)
        except Exception:  # noqa: BLE001 - the broker away: this message is read again
            log.exception("dead-lettering %s failed", origin_of(message))
            return False
        return True

    def _one_by_one(self, messages: list) -> tuple[int | None, int | None]:
        done: int | None = None
        for message in messages:
            if not self._handle(message):
                return done, message.offset
            done = message.offset + 1
        return done, None

    def _handle(self, message) -> bool:
        where = (message.topic, message.partition, message.offset)
        try:
            handle_message(message, self.producers)
        except Unavailable as exc:
            log.warning("engine unavailable, will re-read %s: %s", origin_of(message), exc)
            return False
        except Exception as exc:  # noqa: BLE001 - database or broker away, or a bug
            count = self.failures.get(where, 0) + 1
            self.failures[where] = count
            log.exception("handling %s failed (%d)", origin_of(message), count)
            if count < MAX_UNEXPECTED_FAILURES:
                return False
            try:
                dead_letter(message, self.producers, f"internal error: {type(exc).__name__}: {exc}")
            except Exception:  # noqa: BLE001 - cannot even dead-letter: read it again later
                log.exception("dead-lettering %s failed", origin_of(message))
                return False
        self.failures.pop(where, None)
        return True


def run_relay(stop: threading.Event, producers: ProducerHolder, *, idle_seconds=0.2) -> None:
    """Publish the outbox until `stop` is set (a thread of the bridge)."""
    worker = f"bridge-{uuid.uuid4().hex[:8]}"
    while not stop.is_set():
        try:
            close_old_connections()
            if relay_outbox(producers.get(), worker=worker, on_producer_error=producers.reset):
                continue  # more may be waiting
        except Exception:  # noqa: BLE001 - database away: try again shortly
            log.exception("outbox relay failed")
            producers.reset()
            stop.wait(2)
        stop.wait(idle_seconds)
    connections.close_all()


def _rebalance_listener(name: str):
    from kafka import ConsumerRebalanceListener

    class Logged(ConsumerRebalanceListener):
        """Says which partitions this bridge holds (several bridges share them)."""

        def on_partitions_revoked(self, revoked):
            if revoked:
                log.info("%s gives up %s", name, _partitions(revoked))

        def on_partitions_assigned(self, assigned):
            log.info("%s handles %s", name, _partitions(assigned) or "no partition")

    return Logged()


def _partitions(tps) -> str:
    return ", ".join(f"{tp.topic}/{tp.partition}" for tp in sorted(tps))


def new_consumer(topics: list[str], *, name: str = "bridge"):
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        **kafka_options(),
        group_id=settings.KAFKA_CONSUMER_GROUP,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        # tansu (and small clusters) make the first group join wait ~half the session timeout.
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
        fetch_max_bytes=settings.XFLOW_BRIDGE_MAX_REQUEST_BYTES,
        max_partition_fetch_bytes=settings.XFLOW_BRIDGE_MAX_REQUEST_BYTES,
    )
    consumer.subscribe(topics, listener=_rebalance_listener(name))
    return consumer


def run_bridge(
    stop: threading.Event,
    *,
    topics: list[str] | None = None,
    poll_seconds: float = 0.5,
    relay: bool = True,
    threads: int | None = None,
) -> None:
    """Consume topics and relay the outbox until `stop` is set (then finish the batch in hand,
    commit it and leave the group)."""
    from kafka.errors import CommitFailedError
    from kafka.structs import OffsetAndMetadata

    topics = topics or [default_topic()]
    threads = threads or settings.XFLOW_BRIDGE_THREADS
    name = f"bridge-{uuid.uuid4().hex[:6]}"
    options = {"linger_ms": 5, "max_request_size": settings.XFLOW_BRIDGE_MAX_REQUEST_BYTES}
    producers = ProducerHolder(**options)  # dead letters
    relay_producers = ProducerHolder(**options)  # the outbox, made again on its own failures
    consumer = new_consumer(topics, name=name)
    relay_stop = threading.Event()
    relay_thread = None
    if relay:
        relay_thread = threading.Thread(
            target=run_relay, args=(relay_stop, relay_producers), name="outbox-relay", daemon=True
        )
        relay_thread.start()
    failures: dict[tuple[str, int, int], int] = {}
    sender = Sender(settings.XFLOW_BRIDGE_SENDERS) if settings.XFLOW_BRIDGE_SENDERS else None
    work = PartitionWork(producers, failures, sender)
    pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="bridge")
    log.info("%s consuming %s with %d threads", name, ", ".join(topics), threads)
    try:
        while not stop.is_set():
            batches = consumer.poll(timeout_ms=int(poll_seconds * 1000), max_records=500)
            if not batches:
                continue
            futures = {tp: pool.submit(work, messages) for tp, messages in batches.items()}
            offsets: dict[Any, Any] = {}
            retry = False
            for tp, future in futures.items():
                done, seek = future.result()
                if done is not None:
                    offsets[tp] = OffsetAndMetadata(done, None, -1)
                if seek is not None:
                    consumer.seek(tp, seek)
                    retry = True
            if offsets:
                try:
                    consumer.commit(offsets)
                except CommitFailedError as exc:  # rebalanced meanwhile: the new owner re-reads
                    log.warning("offsets not committed (%s); the messages are read again", exc)
            if retry:
                stop.wait(2)
    finally:
        pool.shutdown(wait=True)
        if sender is not None:
            sender.close()  # what was routed is sent before the bridge exits
        relay_stop.set()
        if relay_thread is not None:
            relay_thread.join(30)
        consumer.close()
        producers.close()
        relay_producers.close()
        log.info("bridge stopped")


def wait_until_assigned(consumer, timeout: float = 30.0) -> None:
    """Poll until the group gave this consumer partitions (tests, benchmarks)."""
    deadline = time.monotonic() + timeout
    while not consumer.assignment():
        if time.monotonic() > deadline:
            raise TimeoutError("the consumer was given no partition")
        consumer.poll(timeout_ms=200)
