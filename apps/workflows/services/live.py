"""The worker's writer of live progress: batches what running workflows publish.

Workflows hand progress updates to `engine.live.publish`; in a worker process the sink below
queues them and one thread writes them to Postgres every FLUSH_SECONDS in a single
transaction (`mirror.apply_live_updates`), so the API and the admin show where an instance
is within a second, without a database write on any workflow's path. The end of an instance
(`Run.finish`) comes the same way and is applied like a durable report
(`mirror.apply_final_reports`); one the process could not write is repaired by the
reconciler from Temporal's record.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import deque
from typing import Any

from django.db import close_old_connections

from apps.workflows.engine import live

log = logging.getLogger("xflow.worker.live")

FLUSH_SECONDS = 0.5  # operators see progress within a second; longer batches coalesce more
MAX_QUEUED = 100_000  # beyond this (a database outage), the oldest progress is dropped
END_DELAY = 0.05  # an instance's end is written this soon after it arrives
RETRY_BACKOFF = 0.25  # an instance end not written is tried again after this, doubling...
RETRY_BACKOFF_MAX = 5.0  # ...up to this
RETRY_FOR = 600.0  # then the reconciler (which reads Temporal) is left to repair the row


class LiveWriter:
    """Queue + flusher thread; `put` is what the workflows call (it never blocks)."""

    def __init__(self, flush_seconds: float = FLUSH_SECONDS) -> None:
        self.queue: deque[dict[str, Any]] = deque(maxlen=MAX_QUEUED)
        self.ends: deque[dict[str, Any]] = deque()  # never dropped: each closes an instance
        self.flush_seconds = flush_seconds
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()
        self.flushing = threading.Lock()  # held while a batch is written
        self.retries: list[dict[str, Any]] = []  # instance ends to write again (flusher only)
        # instance id -> newest timeline entry its progress stored (flusher only; an end
        # leaves those out). Forgotten at the instance's end, or all at once if it grows.
        self.stored: dict[str, int] = {}

    def put(self, update: dict[str, Any]) -> None:
        if update.get("final"):
            self.ends.append(update)
            self.wake.set()  # an end is written soon: someone may be waiting for it
        else:
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
            return self._flush(progress=True)

    def flush_ends(self) -> int:
        """Write the queued instance ends (and ends due for another try) only."""
        with self.flushing:
            return self._flush(progress=False)

    @staticmethod
    def _take(queue: deque) -> list[dict[str, Any]]:
        taken = []
        while queue:
            try:
                taken.append(queue.popleft())
            except IndexError:
                break
        return taken

    def _flush(self, *, progress: bool) -> int:
        from apps.workflows.services.mirror import apply_final_reports, apply_live_updates

        updates = self._take(self.queue) if progress else []
        ends = self._take(self.ends)
        if not updates and not ends and not self.retries:
            return 0
        if len(self.stored) > MAX_QUEUED:
            self.stored.clear()  # only an optimisation: ends then carry their whole timeline
        written = 0
        try:
            close_old_connections()
            if updates:
                try:
                    written += apply_live_updates(updates, stored=self.stored)
                except Exception as exc:  # noqa: BLE001 - best effort: reports and the reconciler repair
                    log.warning("live progress of %d updates not written: %s", len(updates), exc)
            ends = self._due_retries() + [self._unstored(end) for end in ends]
            if ends:
                # After the progress taken with them: an instance's end is its newest news.
                applied, failed = apply_final_reports(ends)
                written += applied
                self._retry_later(failed)
            return written
        finally:
            close_old_connections()

    def _unstored(self, final: dict[str, Any]) -> dict[str, Any]:
        """An instance's end without the timeline entries its progress already stored."""
        done = self.stored.pop(str(final.get("instance_id")), None)
        if done is None:
            return final
        fresh = [
            e
            for e in final.get("timeline") or []
            if not (isinstance(e.get("seq"), int) and e["seq"] <= done)
        ]
        return {**final, "timeline": fresh}

    def _retry_later(self, failed: list[dict[str, Any]]) -> None:
        """Ends not written (a row not visible yet, a database outage) are tried again, as
        a failed report activity would be, until RETRY_FOR has passed; after that the
        reconciler repairs the row from Temporal."""
        now = time.monotonic()
        for final in failed:
            first = final.setdefault("_first_failure", now)
            tries = final["_tries"] = final.get("_tries", 0) + 1
            if now - first > RETRY_FOR:
                log.warning(
                    "gave up writing the end of %s; the reconciler will", final.get("instance_id")
                )
                continue
            final["_due"] = now + min(RETRY_BACKOFF * 2 ** (tries - 1), RETRY_BACKOFF_MAX)
            self.retries.append(final)

    def _due_retries(self) -> list[dict[str, Any]]:
        now = time.monotonic()
        due = [f for f in self.retries if f["_due"] <= now]
        self.retries = [f for f in self.retries if f["_due"] > now]
        return due

    def _run(self) -> None:
        # Progress every flush_seconds (coalesced per instance); an instance's end sooner,
        # END_DELAY after it arrives (ends arriving together share one transaction), since
        # callers wait for it: an API client polling the instance, a task's hand-off.
        next_progress = time.monotonic() + self.flush_seconds
        while not self.stopping.is_set():
            self.wake.wait(max(0.0, next_progress - time.monotonic()))
            if self.stopping.is_set():
                break
            if self.wake.is_set() or self.retries:
                self.wake.clear()
                self.stopping.wait(END_DELAY)
                self.flush_ends()
            if time.monotonic() >= next_progress:
                self.flush()
                next_progress = time.monotonic() + self.flush_seconds

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
