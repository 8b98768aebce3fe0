"""The worker's writer of live progress: batches what running workflows publish.

Workflows hand progress updates to `engine.live.publish`; in a worker process the sink below
queues them and one thread writes them to Postgres every FLUSH_SECONDS in a single
transaction (`mirror.apply_live_updates`), so the API and the admin show where an instance
is within a second, without a database write on any workflow's path.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import deque
from typing import Any

from django.db import close_old_connections

from apps.workflows.engine import live

log = logging.getLogger("xflow.worker.live")

FLUSH_SECONDS = 0.25
MAX_QUEUED = 100_000  # beyond this (a database outage), the oldest progress is dropped


class LiveWriter:
    """Queue + flusher thread; `put` is what the workflows call (it never blocks)."""

    def __init__(self, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.queue: deque[dict[str, Any]] = deque(maxlen=MAX_QUEUED)
        self.flush_seconds = flush_seconds
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.flushing = threading.Lock()  # held while a batch is written

    def put(self, update: dict[str, Any]) -> None:
        self.queue.append(update)
        if self.thread is None:
            self.start()

    def start(self) -> None:
        with self.lock:
            if self.thread is None:
                self.thread = threading.Thread(target=self._run, name="live-writer", daemon=True)
                self.thread.start()

    def flush(self) -> int:
        """Write what is queued now; the number of rows updated. When it returns, no batch
        taken before the call is still being written."""
        with self.flushing:
            return self._flush()

    def _flush(self) -> int:
        batch = []
        while self.queue:
            try:
                batch.append(self.queue.popleft())
            except IndexError:
                break
        if not batch:
            return 0
        from apps.workflows.services.mirror import apply_live_updates

        try:
            close_old_connections()
            return apply_live_updates(batch)
        except Exception as exc:  # noqa: BLE001 - best effort: reports and the reconciler repair
            log.warning("live progress of %d updates not written: %s", len(batch), exc)
            return 0
        finally:
            close_old_connections()

    def _run(self) -> None:
        while not self.stopping.is_set():
            self.stopping.wait(self.flush_seconds)
            self.flush()

    def stop(self) -> None:
        self.stopping.set()
        if self.thread is not None:
            self.thread.join(timeout=5)
        self.flush()


_writer: LiveWriter | None = None


def install() -> LiveWriter:
    """Make this process write the live progress of the workflows it runs (idempotent)."""
    global _writer
    if _writer is None:
        _writer = LiveWriter()
        live.install(_writer.put)
        atexit.register(_writer.stop)
    return _writer


def flush_now() -> None:
    """Write the queued progress of this process now (tests, before tables are emptied)."""
    if _writer is not None:
        _writer.flush()


def uninstall() -> None:
    global _writer
    if _writer is not None:
        _writer.stop()
        live.install(None)
        _writer = None
