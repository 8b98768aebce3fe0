"""What an activity's database access costs: pooled connections against one per call.

    python bench/activity_connections.py [--threads 8] [--calls 100]
    DB_POOL_MAX_SIZE=0 python bench/activity_connections.py      # no pool

Each call does what every engine activity does (apps/workflows/activities.py): close old
connections, run one query, close again; `--threads` threads (the worker's activity pool)
make `--calls` calls each. With the pool the close hands the connection back; without it,
every call opens a new PostgreSQL connection.
"""

from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xflow_site.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import close_old_connections  # noqa: E402

from apps.workflows.models import WorkflowInstance  # noqa: E402


def one_call() -> None:
    close_old_connections()
    try:
        WorkflowInstance.objects.filter(pk="00000000-0000-0000-0000-000000000000").exists()
    finally:
        close_old_connections()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--calls", type=int, default=100)
    args = parser.parse_args()
    for _ in range(20):  # warm: imports, the pool's first connections
        one_call()

    def work() -> None:
        for _ in range(args.calls):
            one_call()

    threads = [threading.Thread(target=work) for _ in range(args.threads)]
    began = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    took = time.perf_counter() - began
    total = args.threads * args.calls
    print(
        f"pool max size {settings.DB_POOL_MAX_SIZE or 'off'}: {total} calls on {args.threads}"
        f" threads in {took:.2f} s = {total / took:.0f} calls/s"
        f" ({took / args.calls * 1000:.1f} ms per call in each thread)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
