"""Reconciler benchmark: the cost of one pass at N open instances.

    python bench/reconciler.py [-n 10000] [--lost 1000]

Starts its own Temporal dev server and uses a throw-away database (`<name>_bench_reconcile`),
so the platform's data is untouched. Starts N instances of a definition that sleeps for an
hour (the production worker runs them to their timer), then times:
- a pass where every row agrees with Temporal (the steady state: one paged visibility
  listing plus one query of the rows);
- a pass after `--lost` of them were terminated in Temporal behind the platform's back (each
  such row is described, its outcome read, and repaired with a timeline entry).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xflow_site.settings")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

from bench._db import throwaway_database, use_throwaway_database  # noqa: E402

SLEEPER = {
    "id": "bench-sleeper",
    "version": "1",
    "specVersion": "0.8",
    "start": "Nap",
    "states": [{"name": "Nap", "type": "sleep", "duration": "PT1H", "end": True}],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=10_000)
    parser.add_argument("--lost", type=int, default=1000)
    args = parser.parse_args()

    use_throwaway_database("_bench_reconcile")
    django.setup()
    from bench.engine import start_dev_server

    tmp = tempfile.TemporaryDirectory()
    proc, address = start_dev_server(tmp.name)
    settings.TEMPORAL_ADDRESS = address
    settings.TEMPORAL_QUEUE_PREFIX = "bench-rec-"
    try:
        with throwaway_database():
            asyncio.run(run(args))
    finally:
        proc.terminate()
        proc.wait(10)
        tmp.cleanup()


async def run(args) -> None:
    from asgiref.sync import sync_to_async

    from apps.core import temporal
    from apps.core.worker import build_registry, build_workers
    from apps.workflows.models import WorkflowInstance
    from apps.workflows.services.definitions import do_save_definition
    from apps.workflows.services.instances import do_start_instance
    from apps.workflows.services.reconcile import reconcile_instances

    temporal.reset()
    client = await temporal.connect()
    workers = build_workers(client, build_registry(), ["xflow-engine"], max_activity_threads=32)
    running = [asyncio.create_task(w.run()) for w in workers]

    definition, _ = await sync_to_async(do_save_definition)(source=SLEEPER, user=None, publish=True)

    def start_all() -> float:
        began = time.monotonic()
        for _ in range(args.n):
            do_start_instance(definition=definition, input={})
        return time.monotonic() - began

    took = await sync_to_async(start_all, thread_sensitive=False)()
    print(f"started {args.n} instances in {took:.0f} s ({args.n / took:.0f}/s)")

    def all_waiting() -> int:
        return WorkflowInstance.objects.filter(status="waiting").count()

    while await sync_to_async(all_waiting)() < args.n:
        await asyncio.sleep(2)

    def timed_pass(label: str) -> None:
        from datetime import timedelta

        began = time.monotonic()
        report = reconcile_instances(idle=timedelta(0))
        took = time.monotonic() - began
        print(
            f"  {label}: {took:.2f} s — checked {report.checked}, running "
            f"{report.running_in_temporal}, repaired {len(report.repaired)}"
        )

    # The reconciler takes at most BATCH rows per pass; time full sweeps.
    from apps.workflows.services import reconcile as reconcile_module

    reconcile_module.BATCH = args.n
    print(f"reconciler pass over {args.n} open instances:")
    await sync_to_async(timed_pass, thread_sensitive=False)("all rows agree")

    def lose(count: int) -> list[str]:
        return list(WorkflowInstance.objects.values_list("workflow_id", flat=True)[:count])

    lost = await sync_to_async(lose)(args.lost)
    for workflow_id in lost:
        await client.get_workflow_handle(workflow_id).terminate(reason="bench: behind its back")
    await asyncio.sleep(2)  # visibility catches up
    await sync_to_async(timed_pass, thread_sensitive=False)(f"{args.lost} rows out of date")

    for w in workers:
        await w.shutdown()
    for t in running:
        t.cancel()


if __name__ == "__main__":
    main()
