"""Events benchmark: CloudEvents through Kafka and the bridge into workflows, counted exactly.

    python bench/events.py [-n 10000] [--bridges 1] [--threads 4]

Uses a throw-away database (`<name>_bench_events`), its own Temporal dev server and topics of
its own on the configured broker, and runs the production processes: `run_worker` and
`--bridges` × `run_bridge`. Half of the events start instances (a definition whose start
state consumes them), half wake instances started beforehand that wait for an event
correlated by `orderid`. Reports routed events/s (first publish to last event routed), the
end-to-end latency from publish to the instance having moved on (its row completed), and
exact counts: every event routed once, every instance started once, every waiting instance
woken once with its own event; nothing lost, nothing duplicated, nothing dead-lettered.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xflow_site.settings")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

from bench._db import throwaway_database, use_throwaway_database  # noqa: E402

STARTER = {
    "id": "bench-starter",
    "version": "1",
    "specVersion": "0.8",
    "start": "Begin",
    "events": [{"name": "Go", "type": "bench.go", "source": "/bench"}],
    "states": [
        {
            "name": "Begin",
            "type": "event",
            "onEvents": [{"eventRefs": ["Go"], "eventDataFilter": {"toStateData": ".go"}}],
            "end": True,
        }
    ],
}
WAITER = {
    "id": "bench-waiter",
    "version": "1",
    "specVersion": "0.8",
    "start": "Open",
    "events": [
        {
            "name": "Done",
            "type": "bench.done",
            "source": "/bench",
            "correlation": [
                {"contextAttributeName": "orderid", "contextAttributeValue": "${ .orderid }"}
            ],
        }
    ],
    "states": [
        {"name": "Open", "type": "inject", "data": {"opened": True}, "transition": "Await"},
        {
            "name": "Await",
            "type": "event",
            "onEvents": [{"eventRefs": ["Done"], "eventDataFilter": {"toStateData": ".done"}}],
            "end": True,
        },
    ],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000, help="events (half start, half wake)")
    parser.add_argument("--bridges", type=int, default=1)
    parser.add_argument("--threads", type=int, default=4, help="partitions each bridge runs")
    parser.add_argument(
        "--pause-worker",
        action="store_true",
        help="stop the worker while the events are routed (the bridge's own capacity: the "
        "workflows run once routing is done; latencies then include the pause)",
    )
    args = parser.parse_args()

    use_throwaway_database("_bench_events")
    django.setup()
    from bench.engine import start_dev_server

    tmp = tempfile.TemporaryDirectory()
    temporal_proc, address = start_dev_server(tmp.name)
    settings.TEMPORAL_ADDRESS = address
    settings.TEMPORAL_QUEUE_PREFIX = f"bench-ev-{uuid.uuid4().hex[:6]}-"
    tag = uuid.uuid4().hex[:6]
    settings.KAFKA_EVENTS_TOPIC = f"{settings.KAFKA_TOPIC_PREFIX}bench{tag}.events"
    settings.KAFKA_PRODUCED_TOPIC = f"{settings.KAFKA_TOPIC_PREFIX}bench{tag}.produced"
    settings.KAFKA_DEADLETTER_TOPIC = f"{settings.KAFKA_TOPIC_PREFIX}bench{tag}.deadletter"
    settings.KAFKA_CONSUMER_GROUP = f"bench-{tag}"
    procs: list[subprocess.Popen] = []
    try:
        with throwaway_database():
            run(args, procs)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        temporal_proc.terminate()
        temporal_proc.wait(10)
        tmp.cleanup()


def spawn(command: str, *extra: str) -> subprocess.Popen:
    from django.db import connection

    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST'] or '127.0.0.1'}:"
        f"{db['PORT'] or 5432}/{db['NAME']}",
        "TEMPORAL_ADDRESS": settings.TEMPORAL_ADDRESS,
        "TEMPORAL_QUEUE_PREFIX": settings.TEMPORAL_QUEUE_PREFIX,
        "KAFKA_EVENTS_TOPIC": settings.KAFKA_EVENTS_TOPIC,
        "KAFKA_PRODUCED_TOPIC": settings.KAFKA_PRODUCED_TOPIC,
        "KAFKA_DEADLETTER_TOPIC": settings.KAFKA_DEADLETTER_TOPIC,
        "KAFKA_CONSUMER_GROUP": settings.KAFKA_CONSUMER_GROUP,
        "LOG_LEVEL": "WARNING",
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", command, *extra],
        cwd=ROOT,
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wait_for(check, what: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last = None
    while True:
        value = check()
        if value is True:
            return
        if value != last:
            print(f"  {what}: {value}", flush=True)
            last = value
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what} ({value})")
        time.sleep(1)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run(args, procs: list[subprocess.Popen]) -> None:
    from django.db.models import Count

    from apps.core import temporal
    from apps.workflows.eventcodec import to_kafka
    from apps.workflows.kafka import new_producer
    from apps.workflows.models import (
        DeadLetter,
        EventDelivery,
        EventWait,
        InboundEvent,
        WorkflowInstance,
    )
    from apps.workflows.services.definitions import do_save_definition
    from apps.workflows.services.instances import do_start_instance

    half = args.n // 2
    temporal.reset()
    temporal.ensure_search_attributes()
    do_save_definition(source=STARTER, publish=True)
    waiter, _ = do_save_definition(source=WAITER, publish=True)
    procs.append(spawn("run_worker"))
    print(f"starting {half} waiting instances ...", flush=True)
    waiting: dict[str, int] = {}
    for n in range(half):
        instance = do_start_instance(definition=waiter, input={"orderid": f"o-{n}"})
        waiting[str(instance.pk)] = n
    wait_for(
        lambda: EventWait.objects.count() == half or f"{EventWait.objects.count()} waiting",
        "instances waiting",
        timeout=600 + half * 0.2,
    )
    worker = procs[0]
    if args.pause_worker:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    for _ in range(args.bridges):
        procs.append(spawn("run_bridge", "--threads", str(args.threads)))
    time.sleep(8)  # let the bridges join the group (tansu makes the first join wait)

    events = [("go", n) for n in range(half)] + [("done", n) for n in range(half)]
    random.Random(1).shuffle(events)
    published: dict[str, float] = {}
    producer = new_producer(linger_ms=5)
    load_before = os.getloadavg()
    print(f"publishing {len(events)} events ...", flush=True)
    started_at = time.time()
    for kind, n in events:
        event_id = str(uuid.uuid4())
        event = {"specversion": "1.0", "id": event_id, "source": "/bench", "type": f"bench.{kind}"}
        event["data"] = {"n": n}
        if kind == "done":
            event["orderid"] = f"o-{n}"
        key, value, headers = to_kafka(event)
        published[event_id] = time.time()
        producer.send(settings.KAFKA_EVENTS_TOPIC, key=key, value=value, headers=headers)
    producer.flush()
    producer.close()
    publish_seconds = time.time() - started_at
    total = len(events)
    wait_for(
        lambda: InboundEvent.objects.count() == total or f"{InboundEvent.objects.count()} routed",
        "events routed",
        timeout=120 + total,
    )
    last_routed = InboundEvent.objects.order_by("-received_at").first().received_at.timestamp()
    load_during = os.getloadavg()
    if args.pause_worker:
        procs.append(spawn("run_worker"))
    wait_for(
        lambda: (
            (done := WorkflowInstance.objects.filter(status="completed").count()) == total
            or f"{done} completed"
        ),
        "instances moved on",
        timeout=300 + total,
    )

    # Exact effects.
    starter = WorkflowInstance.objects.filter(definition_key="bench-starter")
    started_ns = sorted(i.output["go"]["n"] for i in starter)
    woken = {
        str(i.pk): i.output.get("done", {}).get("n")
        for i in WorkflowInstance.objects.filter(pk__in=list(waiting))
    }
    deliveries = EventDelivery.objects.filter(instance_id__in=list(waiting))
    per_instance = deliveries.values("instance_id").annotate(c=Count("id"))
    lost = (half - len(set(started_ns))) + sum(1 for k, n in woken.items() if n != waiting[k])
    duplicated = (len(started_ns) - len(set(started_ns))) + sum(
        1 for row in per_instance if row["c"] > 1
    )
    # Latency: publish -> the instance's row completed (started ones: created by the event).
    by_event = {}
    for record in InboundEvent.objects.all().only("event_id", "result"):
        for pk in (record.result or {}).get("started", []) + (record.result or {}).get(
            "delivered", []
        ):
            by_event[pk] = record.event_id
    latencies = []
    for instance in WorkflowInstance.objects.filter(status="completed").only("id", "ended_at"):
        event_id = by_event.get(str(instance.pk))
        if event_id and instance.ended_at:
            latencies.append(instance.ended_at.timestamp() - published[event_id])

    routed_rate = total / (last_routed - started_at)
    print()
    print(
        f"events: {total} ({half} starting, {half} correlated), bridges: {args.bridges} "
        f"x {args.threads} threads" + (", worker paused while routing" if args.pause_worker else "")
    )
    print(f"publish: {publish_seconds:.1f} s ({total / publish_seconds:.0f} events/s)")
    print(f"routed: {routed_rate:.0f} events/s (first publish to last event routed)")
    print(
        f"publish -> instance moved on: p50 {percentile(latencies, 50) * 1000:.0f} ms, "
        f"p95 {percentile(latencies, 95) * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    print(
        f"effects: {len(started_ns)} started (of {half}), "
        f"{sum(1 for k, n in woken.items() if n == waiting[k])} woken by their event "
        f"(of {half}), {deliveries.count()} deliveries, "
        f"{DeadLetter.objects.count()} dead letters; lost {lost}, duplicated {duplicated}"
    )
    print(f"load average before {load_before[0]:.1f}, during {load_during[0]:.1f}")


if __name__ == "__main__":
    main()
