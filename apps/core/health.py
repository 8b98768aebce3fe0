"""Liveness and readiness: is each component the platform needs reachable right now?"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from django.conf import settings
from django.db import connection


def check_postgres(timeout: float) -> dict[str, Any]:
    # Runs in a probe thread: its connection is its own and is closed here.
    try:
        with connection.cursor() as cur:
            cur.execute("SET statement_timeout = %s", [int(timeout * 1000)])
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


CHECKS: dict[str, Callable[[float], dict[str, Any]]] = {
    "postgres": check_postgres,
    "redis": check_redis,
    "temporal": check_temporal,
    "kafka": check_kafka,
}


def _run(name: str, fn: Callable[[float], dict[str, Any]], timeout: float) -> dict[str, Any]:
    started = time.monotonic()
    try:
        details = fn(timeout)
        result = {"ok": True, **details}
    except Exception as exc:  # a probe reports any failure as "down", with the reason
        reason = str(exc).strip() or exc.__class__.__name__
        if isinstance(exc, (socket.timeout, TimeoutError)):
            reason = f"no answer within {timeout:g}s"
        result = {"ok": False, "error": reason[:300]}
    result["ms"] = round((time.monotonic() - started) * 1000, 1)
    return result


def readiness(timeout: float | None = None) -> dict[str, Any]:
    """Probe every component in parallel; the whole answer takes about one timeout at most."""
    timeout = timeout or settings.READINESS_TIMEOUT_SECONDS
    with ThreadPoolExecutor(max_workers=len(CHECKS)) as pool:
        futures = {name: pool.submit(_run, name, fn, timeout) for name, fn in CHECKS.items()}
        results = {name: f.result() for name, f in futures.items()}
    return {"ready": all(r["ok"] for r in results.values()), "components": results}
