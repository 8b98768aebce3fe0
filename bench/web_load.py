"""Load on a running platform: do N concurrent API clients get answers, with bounded connections?

    python bench/web_load.py [--base http://127.0.0.1:8000] [--clients 200] [--seconds 60]

Each client (a thread with its own keep-alive HTTP connection and the operator's token) loops
over a mix of requests: list instances, one instance's detail, list definitions, start an
instance of a trivial definition (published first), and /readyz. Status codes and latencies
are counted per kind; a sampler counts the server's connections to the platform's database
(pg_stat_activity) twice a second. Bounded in count and time; it stops by itself.
tests/core/test_web_load.py runs the same function at small scale against a real gunicorn.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import random
import statistics
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent

NOOP = {
    "id": "loadtest-noop",
    "version": "1.0",
    "specVersion": "0.8",
    "name": "Load test: one inject state",
    "start": "Done",
    "states": [{"name": "Done", "type": "inject", "data": {"done": True}, "end": True}],
}

# (kind, weight): mostly reads, as an API integrator's traffic is.
MIX = [("list", 35), ("detail", 25), ("definitions", 15), ("start", 20), ("readyz", 5)]


@dataclass
class Result:
    statuses: collections.Counter = field(default_factory=collections.Counter)
    by_kind: dict[str, collections.Counter] = field(default_factory=dict)
    latencies: dict[str, list[float]] = field(default_factory=dict)
    connections: list[int] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def requests(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for s, n in self.statuses.items() if isinstance(s, int) and s >= 500)

    @property
    def failures(self) -> int:
        """Requests that got no HTTP answer at all (refused, reset, timed out)."""
        return sum(n for s, n in self.statuses.items() if not isinstance(s, int))

    def summary(self) -> dict:
        every = sorted(x for values in self.latencies.values() for x in values)
        return {
            "requests": self.requests,
            "per_second": round(self.requests / self.seconds, 1) if self.seconds else 0,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items(), key=str)},
            "server_errors": self.server_errors,
            "no_answer": self.failures,
            "p50_ms": round(_pct(every, 50) * 1000, 1),
            "p95_ms": round(_pct(every, 95) * 1000, 1),
            "by_kind": {
                kind: {
                    "requests": len(values),
                    "p50_ms": round(_pct(sorted(values), 50) * 1000, 1),
                    "p95_ms": round(_pct(sorted(values), 95) * 1000, 1),
                    "statuses": {str(k): v for k, v in self.by_kind[kind].items()},
                }
                for kind, values in sorted(self.latencies.items())
            },
            "db_connections_max": max(self.connections, default=0),
            "db_connections_mean": round(statistics.mean(self.connections), 1)
            if self.connections
            else 0,
            "db_connection_samples": len(self.connections),
        }


def _pct(values: list[float], pct: int) -> float:
    if not values:
        return 0.0
    return values[min(len(values) - 1, int(len(values) * pct / 100))]


def prepare(base: str, username: str, password: str) -> tuple[str, str]:
    """A token, and one instance of the no-op definition (published when missing)."""
    with httpx.Client(base_url=base, timeout=30) as http:
        reply = http.post("/api/v1/auth/token", data={"username": username, "password": password})
        reply.raise_for_status()
        token = reply.json()["token"]
        http.headers["Authorization"] = f"Token {token}"
        if http.get(f"/api/v1/definitions/{NOOP['id']}/").status_code != 200:
            http.post("/api/v1/definitions/?publish=true", json=NOOP).raise_for_status()
        started = http.post("/api/v1/instances/", json={"definition": NOOP["id"], "input": {}})
        started.raise_for_status()
        return token, started.json()["id"]


def sample_connections(
    database: dict, stop: threading.Event, into: list[int], every: float = 0.5
) -> None:
    """Count the server's connections to the database until stop (from the `postgres` db)."""
    import psycopg

    with psycopg.connect(
        host=database["host"],
        port=database["port"],
        user=database["user"],
        password=database["password"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        # application_name (PGAPPNAME of the server's processes) narrows it to those processes.
        query, params = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
            [database["name"]],
        )
        if database.get("application_name"):
            query += " AND application_name = %s"
            params.append(database["application_name"])
        while not stop.is_set():
            row = conn.execute(query, params).fetchone()
            into.append(row[0])
            stop.wait(every)


def run_load(
    base: str,
    *,
    token: str,
    instance_id: str,
    clients: int,
    seconds: float,
    database: dict | None = None,
    request_timeout: float = 30.0,
) -> Result:
    """`clients` threads send the MIX for `seconds`; returns what they got."""
    result = Result()
    lock = threading.Lock()
    stop = threading.Event()
    go = threading.Barrier(clients + 1)
    kinds = [k for k, _ in MIX]
    weights = [w for _, w in MIX]

    def request(http: httpx.Client, kind: str) -> httpx.Response:
        if kind == "list":
            return http.get("/api/v1/instances/", params={"page_size": 20})
        if kind == "detail":
            return http.get(f"/api/v1/instances/{instance_id}/")
        if kind == "definitions":
            return http.get("/api/v1/definitions/")
        if kind == "start":
            return http.post(
                "/api/v1/instances/",
                json={"definition": NOOP["id"], "input": {"n": random.random()}},
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
        return http.get("/readyz")

    def client(seed: int) -> None:
        rng = random.Random(seed)
        headers = {"Authorization": f"Token {token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=request_timeout) as http:
            go.wait()
            while not stop.is_set():
                kind = rng.choices(kinds, weights)[0]
                began = time.monotonic()
                try:
                    status: int | str = request(http, kind).status_code
                except httpx.HTTPError as exc:
                    status = type(exc).__name__
                took = time.monotonic() - began
                with lock:
                    result.statuses[status] += 1
                    result.by_kind.setdefault(kind, collections.Counter())[status] += 1
                    result.latencies.setdefault(kind, []).append(took)

    threads = [
        threading.Thread(target=client, args=(i,), name=f"load-{i}", daemon=True)
        for i in range(clients)
    ]
    for t in threads:
        t.start()
    sampler = None
    if database:
        sampler = threading.Thread(
            target=sample_connections, args=(database, stop, result.connections), daemon=True
        )
        sampler.start()
    go.wait()
    began = time.monotonic()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(request_timeout + 5)
    result.seconds = time.monotonic() - began
    if sampler:
        sampler.join(5)
    return result


def database_from_env() -> dict:
    sys.path.insert(0, str(ROOT))
    from xflow_site.env import env_str, parse_database_url

    db = parse_database_url(env_str("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/xflow"))
    return {
        "host": db["HOST"] or "127.0.0.1",
        "port": db["PORT"] or 5432,
        "user": db["USER"] or None,
        "password": db["PASSWORD"],
        "name": db["NAME"],
    }


def main() -> int:
    port = os.environ.get("XFLOW_WEB_PORT", "8000")
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default=f"http://127.0.0.1:{port}")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--username", default="operator")
    parser.add_argument("--password", default="operator-dev-pass")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args()
    if not args.base.startswith(("http://127.", "http://localhost", "http://[::1]")):
        parser.error("--base must be a loopback address: this sends load")

    token, instance_id = prepare(args.base, args.username, args.password)
    database = database_from_env()
    print(
        f"{args.clients} clients for {args.seconds:g} s against {args.base}"
        f" (database {database['name']})",
        flush=True,
    )
    summary = run_load(
        args.base,
        token=token,
        instance_id=instance_id,
        clients=args.clients,
        seconds=args.seconds,
        database=database,
    ).summary()
    if args.json:
        print(json.dumps(summary, indent=2))
    else:
        print(
            f"requests {summary['requests']} ({summary['per_second']}/s)  "
            f"statuses {summary['statuses']}  p50 {summary['p50_ms']} ms  "
            f"p95 {summary['p95_ms']} ms\n"
            f"database connections: max {summary['db_connections_max']}, "
            f"mean {summary['db_connections_mean']} ({summary['db_connection_samples']} samples)"
        )
        for kind, row in summary["by_kind"].items():
            print(
                f"  {kind:12} {row['requests']:6}  p50 {row['p50_ms']:8} ms"
                f"  p95 {row['p95_ms']:8} ms  {row['statuses']}"
            )
    return 1 if summary["server_errors"] or summary["no_answer"] else 0


if __name__ == "__main__":
    sys.exit(main())
