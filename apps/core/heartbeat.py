"""Heartbeats of the long-running components, so /readyz can say which one is down.

Each process of the Temporal worker, the event bridge and Celery writes a Redis key of its
own (`<cache prefix>:heartbeat:<component>:<host>:<pid>`, a small JSON value) every
HEARTBEAT_SECONDS with a time-to-live of three beats: a process that dies stops beating and
its key expires; one that stops cleanly deletes its key at once. A plain key per process
(not a hash) because only keys expire on their own.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

log = logging.getLogger("xflow.heartbeat")

COMPONENTS = ("worker", "bridge", "celery")


def interval() -> float:
    return float(settings.HEARTBEAT_SECONDS)


def ttl() -> int:
    """Three missed beats make a process count as gone."""
    return max(1, round(3 * interval()))


def _prefix() -> str:
    return f"{settings.CACHES['default'].get('KEY_PREFIX') or 'xflow'}:heartbeat"


def _client(timeout: float = 2.0):
    import redis

    return redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout
    )


def _key(component: str) -> str:
    return f"{_prefix()}:{component}:{socket.gethostname()}:{os.getpid()}"


def beat(component: str, **details: Any) -> None:
    """Say that this process of `component` is alive for the next ttl() seconds."""
    value = {"host": socket.gethostname(), "pid": os.getpid(), "at": time.time(), **details}
    client = _client()
    try:
        client.set(_key(component), json.dumps(value), ex=ttl())
    finally:
        client.close()


def clear(component: str) -> None:
    """This process of `component` stops: say so now rather than when the key expires."""
    client = _client()
    try:
        client.delete(_key(component))
    finally:
        client.close()


def alive(component: str, timeout: float = 2.0) -> list[dict[str, Any]]:
    """The processes of `component` that beat within the last ttl() seconds."""
    client = _client(timeout)
    try:
        keys = list(client.scan_iter(match=f"{_prefix()}:{component}:*", count=100))
        values = client.mget(keys) if keys else []
    finally:
        client.close()
    return [json.loads(v) for v in values if v]


class Heartbeat:
    """Beats for `component` from a daemon thread until stop(); details() is sent each time."""

    def __init__(self, component: str, details: Callable[[], dict[str, Any]] | None = None) -> None:
        self.component = component
        self.details = details or dict
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> Heartbeat:
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{self.component}", daemon=True
        )
        self._thread.start()
        return self

    def _run(self) -> None:
        failing = False
        while not self._stop.is_set():
            try:
                beat(self.component, **self.details())
                if failing:
                    log.info("%s heartbeat: Redis answers again", self.component)
                failing = False
            except Exception as exc:  # Redis down: readyz says so; keep the component running
                if not failing:
                    log.warning("%s heartbeat not written: %s", self.component, exc)
                failing = True
            self._stop.wait(interval())

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            clear(self.component)
        except Exception as exc:  # the key expires by itself
            log.warning("%s heartbeat not cleared: %s", self.component, exc)
