"""The Temporal worker: each app registers its workflows and activities per task queue.

`run_worker` (the management command) parses options and signals; `run_workers` does the
work and is what tests call (DESIGN.md rule 7).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from django.conf import settings
from temporalio.client import Client
from temporalio.worker import Worker

from apps.core import jqeval, temporal
from apps.core.heartbeat import Heartbeat

log = logging.getLogger("xflow.worker")

# Modules with a `register(registry)` function; an app without one yet is skipped.
WORKER_MODULES = ("apps.workflows.worker", "apps.tasks.worker", "apps.forms.worker")


@dataclass
class QueueRegistration:
    workflows: list = field(default_factory=list)
    activities: list = field(default_factory=list)
    workflow_runner: Any = None  # a sandbox runner of the app's choosing (None: SDK default)


class Registry:
    """Workflows and activities per task queue (queue names before the deployment prefix)."""

    def __init__(self) -> None:
        self.queues: dict[str, QueueRegistration] = {}

    def add(
        self,
        queue: str,
        *,
        workflows: Iterable = (),
        activities: Iterable = (),
        workflow_runner: Any = None,
    ) -> None:
        reg = self.queues.setdefault(queue, QueueRegistration())
        if workflow_runner is not None:
            reg.workflow_runner = workflow_runner
        reg.workflows.extend(w for w in workflows if w not in reg.workflows)
        reg.activities.extend(a for a in activities if a not in reg.activities)


def build_registry(modules: Iterable[str] = WORKER_MODULES) -> Registry:
    registry = Registry()
    for path in modules:
        try:
            module = import_module(path)
        except ModuleNotFoundError as exc:
            if exc.name == path:
                continue
            raise
        module.register(registry)
    return registry


def build_workers(
    client: Client,
    registry: Registry,
    queues: Iterable[str] | None = None,
    *,
    max_activity_threads: int = 32,
) -> list[Worker]:
    """One Temporal Worker per queue; sync activities share one thread pool."""
    chosen = list(queues or registry.queues)
    unknown = [q for q in chosen if q not in registry.queues]
    if unknown:
        raise ValueError(
            f"unknown task queue(s) {', '.join(unknown)}; known: {', '.join(registry.queues)}"
        )
    executor = ThreadPoolExecutor(max_workers=max_activity_threads, thread_name_prefix="activity")
    workers = []
    for queue in chosen:
        reg = registry.queues[queue]
        workers.append(
            Worker(
                client,
                task_queue=temporal.queue_name(queue),
                workflows=reg.workflows,
                activities=reg.activities,
                activity_executor=executor if reg.activities else None,
                max_concurrent_activities=max_activity_threads,
                **({"workflow_runner": reg.workflow_runner} if reg.workflow_runner else {}),
            )
        )
    return workers


async def run_workers(
    queues: Iterable[str] | None = None, *, stop: asyncio.Event, client: Client | None = None
) -> None:
    """Run workers for the queues (all by default) until `stop` is set; shut down cleanly."""
    registry = build_registry()
    client = client or await temporal.connect()
    try:
        added = await temporal.ensure_search_attributes_on(client)
        if added:
            log.info("created the search attributes %s", ", ".join(added))
    except Exception as exc:  # a cluster that keeps its operator API closed: see the README
        log.warning("could not check xflow's search attributes: %s", exc)
    workers = build_workers(client, registry, queues)
    names = ", ".join(w.task_queue for w in workers)
    log.info(
        "worker polling %s on %s (%s)",
        names,
        settings.TEMPORAL_ADDRESS,
        settings.TEMPORAL_NAMESPACE,
    )
    jqeval.pool().warm()  # the first expression should not pay for starting a child
    tasks = [asyncio.create_task(w.run()) for w in workers]
    # /readyz learns from this which queues are polled (apps/core/heartbeat.py).
    beating = Heartbeat("worker", lambda: {"queues": [w.task_queue for w in workers]}).start()
    stopper = asyncio.create_task(stop.wait())
    try:
        done, _ = await asyncio.wait([*tasks, stopper], return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            if task is not stopper and task.exception():
                log.error("a worker stopped: %s", task.exception())
    finally:
        await asyncio.to_thread(beating.stop)
        # Expressions under way end now (their workflow tasks are retried elsewhere), so no
        # activation keeps the shutdown waiting for an evaluation.
        jqeval.shutdown()
    await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
    log.info("worker stopped")
