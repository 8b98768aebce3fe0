"""Liveness and readiness: is each component the platform needs reachable right now?

Two kinds of component. The services a request needs (PostgreSQL, Redis, Temporal, Kafka)
are *required*: one of them down makes /readyz answer 503, so a load balancer stops sending
traffic that would fail. The platform's own background processes (the Temporal worker, the
event bridge, Celery) are reported from their heartbeats (apps/core/heartbeat.py) but do not
make the web tier unready: while a worker restarts, starts still queue in Temporal, events
in the outbox and jobs in Redis, and taking every web process out of rotation at once would
turn a delay into an outage. Each component's `state` is up, down, or unknown (its
heartbeats live in Redis, which cannot be read).
"""

from __future__ import annotations

import functools
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from apps.core import heartbeat

REQUIRED = ("postgres", "redis", "temporal", "kafka")


class Down(Exception):
    """The component is known to be down (the message says why)."""


class Unknown(Exception):
    """Whether the component is up cannot be told (the message says why)."""


def check_postgres(timeout: float) -> dict[str, Any]:
    # Runs in a probe thread: its connection is its own and is closed (back to the pool) here.
    # SET LOCAL: a pooled connection must not carry this timeout to its next user.
    try:
        with transaction.atomic(), connection.cursor() as cur:
            cur.execute("SELECT set_config('statement_timeout', %s, true)", [f"{timeout:g}s"])
            cur.execute("SELECT version()")
            version = cur.fetchone()[0].split(",")[0]
    finally:
        connection.close()
    return {"version": version}


def check_redis(timeout: float) -> dict[str, Any]:
    import redis

    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
    )
    try:
        client.ping()
        return {"version": client.info("server").get("redis_version")}
    finally:
        client.close()


def check_temporal(timeout: float) -> dict[str, Any]:
    from apps.core import temporal

    return temporal.describe_cluster(timeout=timeout)


def check_kafka(timeout: float) -> dict[str, Any]:
    # A metadata round trip proves a broker answers Kafka's protocol, not just TCP.
    from kafka import KafkaAdminClient

    admin = KafkaAdminClient(
        bootstrap_servers=settings.KAFKA_BOOTSTRAP_SERVERS,
        request_timeout_ms=int(timeout * 1000),
        bootstrap_timeout_ms=int(timeout * 1000),
        security_protocol=settings.KAFKA_SECURITY_PROTOCOL,
        client_id="xflow-readyz",
    )
    try:
        return {"topics": len(admin.list_topics())}
    finally:
        admin.close()


def _beats(component: str, timeout: float) -> list[dict[str, Any]]:
    try:
        beats = heartbeat.alive(component, timeout)
    except Exception as exc:
        raise Unknown(f"its heartbeats are in Redis, which does not answer: {exc}") from None
    if not beats:
        raise Down(f"no {component} process has sent a heartbeat in the last {heartbeat.ttl()}s")
    return beats


@functools.cache
def _registered_queues() -> tuple[str, ...]:
    """The registry's queue names (importing every worker module once per process)."""
    from apps.core.worker import build_registry

    return tuple(build_registry().queues)


def expected_queues() -> list[str]:
    """Every task queue some worker must poll, with the deployment's prefix."""
    from apps.core import temporal

    return [temporal.queue_name(q) for q in _registered_queues()]


def check_worker(timeout: float) -> dict[str, Any]:
    beats = _beats("worker", timeout)
    served = sorted({q for b in beats for q in b.get("queues", [])})
    missing = [q for q in expected_queues() if q not in served]
    if missing:
        raise Down(f"no worker serves {', '.join(missing)}")
    return {"processes": len(beats), "queues": served}


def check_bridge(timeout: float) -> dict[str, Any]:
    return {"processes": len(_beats("bridge", timeout))}


def check_celery(timeout: float) -> dict[str, Any]:
    return {"processes": len(_beats("celery", timeout))}


CHECKS: dict[str, Callable[[float], dict[str, Any]]] = {
    "postgres": check_postgres,
    "redis": check_redis,
    "temporal": check_temporal,
    "kafka": check_kafka,
    "worker": check_worker,
    "bridge": check_bridge,
    "celery": check_celery,
}


def _run(name: str, fn: Callable[[float], dict[str, Any]], timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    try:
        details = fn(timeout)
        result = {"ok": True, "state": "up", **details}
    except Exception as exc:  # a probe reports any failure as "down", with the reason
        reason = str(exc).strip() or exc.__class__.__name__
        if isinstance(exc, (socket.timeout, TimeoutError)):
            reason = f"no answer within {timeout:g}s"
        state = "unknown" if isinstance(exc, Unknown) else "down"
        result = {"ok": False, "state": state, "error": reason[:300]}
    result["required"] = name in REQUIRED
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def readiness(timeout: float | None = None) -> dict[str, Any]:
    """Probe every component in parallel; the whole answer takes about one timeout at most.

    `ready` (the HTTP status) follows the required components only; `status` is "ok" when
    everything is up, "degraded" when only background components are down or unknown, and
    "down" when a required one is.
    """
    timeout = timeout or settings.READINESS_TIMEOUT_SECONDS
    with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
        futures = {name: pool.submit(_run, name, fn, timeout) for name, fn in CHECKS.items()}
        results = {name: f.result() for name, f in futures.items()}
    ready = all(results[name]["ok"] for name in REQUIRED)
    everything = all(r["ok"] for r in results.values())
    return {
        "ready": ready,
        "status": "ok" if everything else "degraded" if ready else "down",
        "components": results,
        "down": [name for name, r in results.items() if r["state"] == "down"],
        "unknown": [name for name, r in results.items() if r["state"] == "unknown"],
    }
