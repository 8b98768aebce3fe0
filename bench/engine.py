"""Engine benchmark: the generic interpreter against the same logic written by hand.

    python bench/engine.py [-n 500] [--rounds 5] [--concurrency 100] [--address HOST:PORT]

Both run on one Temporal dev server (started here, SQLite with the WAL pragmas, unless
--address names one) in the same run, against one local HTTP server, with the same worker
settings. The definition is 4 states: inject -> operation (an expression function and a
REST call) -> switch -> end. The interpreter runs with the production activities on
platform instances (a row per instance in a throw-away database, workflow ids derived from
the rows), so its numbers include what the platform really writes: the live progress of
every state and the end of every instance (written by the worker's writer; the bench checks
that every row of every round says `completed`).

Prints completed workflows/s for both, the ratio, and p50/p95 start-to-completion latency.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xflow_site.settings")
# Measured as deployed: DEBUG keeps every SQL statement of the worker in memory.
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

from bench._db import throwaway_database, use_throwaway_database  # noqa: E402

if __name__ == "__main__":
    use_throwaway_database("_bench_engine")
django.setup()

from temporalio.client import Client  # noqa: E402
from temporalio.worker import Worker  # noqa: E402

from apps.core.worker import build_registry, build_workers  # noqa: E402
from apps.workflows.engine.activities import function_activities  # noqa: E402
from apps.workflows.engine.contracts import (  # noqa: E402
    INTERPRETER_WORKFLOW,
    QUEUE_ENGINE,
    InterpreterInput,
    workflow_id_for,
)
from bench.handwritten import HandInput, HandWritten  # noqa: E402


class _Quote(BaseHTTPRequestHandler):
    """A tiny pricing service: POST {"qty": n} -> {"price": 10 * n}."""

    protocol_version = "HTTP/1.1"

    def do_POST(self):  # noqa: N802
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        data = json.dumps({"price": 10 * int(body.get("qty", 0))}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


class _Backlog(ThreadingHTTPServer):
    """The standard library's listen backlog (5) refuses connections at 100 in flight."""

    request_queue_size = 256
    daemon_threads = True


def definition(service_url: str) -> dict:
    return {
        "id": "bench-order",
        "version": "1",
        "specVersion": "0.8",
        "start": "Init",
        "functions": [
            {"name": "double", "type": "expression", "operation": ".qty * 2"},
            {
                "name": "quote",
                "type": "rest",
                "operation": {"url": service_url, "path": "/quote", "method": "post"},
            },
        ],
        "states": [
            {"name": "Init", "type": "inject", "data": {"currency": "EUR"}, "transition": "Price"},
            {
                "name": "Price",
                "type": "operation",
                "actions": [
                    {"functionRef": "double", "actionDataFilter": {"toStateData": ".doubled"}},
                    {
                        "functionRef": {"refName": "quote", "arguments": {"qty": "${ .qty }"}},
                        "actionDataFilter": {"results": ".price", "toStateData": ".price"},
                    },
                ],
                "transition": "Decide",
            },
            {
                "name": "Decide",
                "type": "switch",
                "dataConditions": [{"condition": "${ .price > 100 }", "transition": "Big"}],
                "defaultCondition": {"transition": "Small"},
            },
            {"name": "Big", "type": "inject", "data": {"size": "big"}, "end": True},
            {"name": "Small", "type": "inject", "data": {"size": "small"}, "end": True},
        ],
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_dev_server(folder: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "temporal"),
            "server",
            "start-dev",
            "--ip",
            "127.0.0.1",
            "--port",
            str(port),
            "--headless",
            "--log-level",
            "error",
            "--db-filename",
            os.path.join(folder, "bench.db"),
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=off",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the Temporal dev server did not start")


async def connect_when_ready(address: str, seconds: float = 60) -> Client:
    """A fresh dev server listens before its frontend is healthy: retry until it is."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return await Client.connect(address)
        except RuntimeError:
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.5)


async def run_batch(n: int, concurrency: int, start_one) -> dict:
    """Start n workflows (at most `concurrency` in flight); time each start-to-completion."""
    latencies: list[float] = []
    gate = asyncio.Semaphore(concurrency)

    async def one(i: int):
        async with gate:
            began = time.monotonic()
            await start_one(i)
            latencies.append(time.monotonic() - began)

    t0 = time.monotonic()
    await asyncio.gather(*(one(i) for i in range(n)))
    elapsed = time.monotonic() - t0
    latencies.sort()
    return {
        "n": n,
        "seconds": elapsed,
        "per_second": n / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p95_ms": latencies[int(0.95 * (len(latencies) - 1))] * 1000,
    }


def median_round(rounds: list[dict]) -> dict:
    if not rounds:
        return {"n": 0, "seconds": 0.0, "per_second": float("nan"), "p50_ms": 0.0, "p95_ms": 0.0}
    return sorted(rounds, key=lambda r: r["per_second"])[len(rounds) // 2]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--address", help="an existing Temporal server (default: start one)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument(
        "--only", choices=["interpreter", "hand-written"], help="run one side only (for profiling)"
    )
    args = parser.parse_args()

    server = _Backlog(("127.0.0.1", 0), _Quote)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}"
    doc = definition(url)
    from django.conf import settings as django_settings

    # The outbound policy refuses loopback: open exactly this local service.
    django_settings.XFLOW_OUTBOUND_ALLOW = [f"127.0.0.1:{server.server_port}"]

    tmp = tempfile.TemporaryDirectory()
    proc = None
    address = args.address
    if not address:
        proc, address = start_dev_server(tmp.name)
    try:
        client = await connect_when_ready(address)
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        from django.conf import settings

        settings.TEMPORAL_QUEUE_PREFIX = queue + "-"
        workers = build_workers(client, build_registry(), [QUEUE_ENGINE], max_activity_threads=32)
        hand_worker = Worker(
            client,
            task_queue=queue + "-hand",
            workflows=[HandWritten],
            activities=function_activities(),
            activity_executor=ThreadPoolExecutor(32),
            max_concurrent_activities=32,
        )
        running = [asyncio.create_task(w.run()) for w in [*workers, hand_worker]]
        engine_queue = workers[0].task_queue

        from asgiref.sync import sync_to_async

        from apps.workflows.models import WorkflowInstance
        from apps.workflows.services.definitions import do_save_definition

        definition_row, _ = await sync_to_async(do_save_definition)(
            source=doc, user=None, publish=True
        )
        rows: list[str] = []

        def make_rows(n: int) -> None:
            # The platform writes each row before its workflow starts; made ahead of a round
            # so the timed part is the workflow's own work.
            ids = [uuid.uuid4() for _ in range(n)]
            WorkflowInstance.objects.bulk_create(
                WorkflowInstance(
                    id=i,
                    definition=definition_row,
                    definition_key="bench-order",
                    version="1",
                    workflow_id=workflow_id_for(str(i)),
                    status="running",
                )
                for i in ids
            )
            rows[:] = [str(i) for i in ids]

        async def interpreted(i: int):
            instance_id = rows[i]
            await client.execute_workflow(
                INTERPRETER_WORKFLOW,
                InterpreterInput(
                    instance_id=instance_id,
                    definition=doc,
                    definition_key="bench-order",
                    version="1",
                    input={"qty": i % 20},
                    end_via_writer=True,  # as the platform starts its instances
                ),
                id=workflow_id_for(instance_id),
                task_queue=engine_queue,
            )

        async def handwritten(i: int):
            await client.execute_workflow(
                HandWritten.run,
                HandInput(qty=i % 20, url=url),
                id=f"bench-h-{uuid.uuid4()}",
                task_queue=queue + "-hand",
            )

        mirrored: list[tuple[int, int]] = []

        def completed_rows() -> tuple[int, int]:
            # The rows must say what Temporal says: every instance of the round completed
            # (its end is written by the worker's writer, off the workflow's path).
            from apps.workflows.services import live

            deadline = time.monotonic() + 10
            while True:
                live.flush_now()
                done = WorkflowInstance.objects.filter(pk__in=rows, status="completed").count()
                if done == len(rows) or time.monotonic() > deadline:
                    return done, len(rows)
                time.sleep(0.1)

        try:
            # Warm both paths (imports, connection pools, sandbox caches) before measuring.
            await sync_to_async(make_rows)(20)
            await run_batch(20, 20, interpreted)
            await run_batch(20, 20, handwritten)
            # Rounds alternate the two sides so a slow moment of the machine (2 cores shared by
            # the server, the worker and this client) does not fall on one side only; each side's
            # numbers are the median round.
            hand_rounds, interp_rounds = [], []

            async def hand_round():
                if args.only != "interpreter":
                    hand_rounds.append(await run_batch(args.n, args.concurrency, handwritten))

            async def interp_round():
                if args.only != "hand-written":
                    await sync_to_async(make_rows)(args.n)
                    interp_rounds.append(await run_batch(args.n, args.concurrency, interpreted))
                    mirrored.append(await sync_to_async(completed_rows)())

            for r in range(args.rounds):
                # Which side goes first flips every round: neither always runs on a server
                # (and a SQLite history) the other has just warmed or filled.
                order = (hand_round, interp_round) if r % 2 == 0 else (interp_round, hand_round)
                for side in order:
                    await side()
            hand_stats, interp_stats = median_round(hand_rounds), median_round(interp_rounds)
        finally:
            for w in [*workers, hand_worker]:
                await w.shutdown()
            for t in running:
                t.cancel()
    finally:
        if proc:
            proc.terminate()
            proc.wait(10)
        server.shutdown()
        tmp.cleanup()

    ratio = interp_stats["per_second"] / hand_stats["per_second"]
    print(
        f"engine benchmark: {args.n} workflows per round, {args.rounds} alternating rounds "
        f"(median round shown), concurrency {args.concurrency}, {os.cpu_count()} cores"
    )
    for name, st in (("hand-written", hand_stats), ("interpreter", interp_stats)):
        print(
            f"  {name:<13} {st['per_second']:6.1f} wf/s   p50 {st['p50_ms']:6.0f} ms   "
            f"p95 {st['p95_ms']:6.0f} ms   ({st['seconds']:.1f} s)"
        )
    if mirrored:
        print(
            "  rows completed in Postgres after each interpreter round: "
            + ", ".join(f"{done}/{n}" for done, n in mirrored)
        )
    print(
        f"  ratio interpreter/hand-written: {ratio:.2f} (target >= 0.85); "
        f"interpreter target >= 45 wf/s"
    )


if __name__ == "__main__":
    with throwaway_database():
        asyncio.run(main())
