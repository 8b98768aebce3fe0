"""Inbox benchmark: the task lists at a million tasks, concurrent claims, the two hand-offs.

    python bench/inbox.py [--tasks 1000000] [--users 10000] [--groups 200] [--samples 200]
                          [--claimers 8] [--claim-seconds 20] [--handoffs 30] [--explain]

Uses a throw-away database (`<name>_bench_inbox`) and, for the hand-offs, its own Temporal
dev server with the production worker in this process. Seeds the tasks with bulk INSERT ...
SELECT (random status, assignee skewed so a few users hold thousands, one or two candidate
groups, half with a candidate user, priorities 0..100, creation over 90 days), then measures
in-process through the API (token auth, serialisation included):
- p50/p95 and SQL queries of `view=mine` and `view=queue`: first page, and a deep cursor page
  (page 10) with a filter (priority_min=25);
- N claimers on one shared queue (random pick from its first page): claims/s, claim p50/p95,
  refusals (409: someone was first) and double claims (must be 0);
- instance start -> task listed in the candidate's queue, and `complete` -> the instance has
  left the state (p50/p95 over --handoffs sequential runs).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "xflow_site.settings")

import django  # noqa: E402
from django.conf import settings  # noqa: E402

BENCH_SUFFIX = "_bench_inbox"
CLAIM_GROUP, CLAIM_TASKS = "claim-pool", 5000
HANDOFF_GROUP = "handoff"

INSERT = """
WITH src AS (
    SELECT i, random() AS r, random() AS r2, random() AS r3,
           floor(power(random(), 3) * %(users)s)::int AS au,
           floor(random() * %(users)s)::int AS cu,
           floor(random() * %(groups)s)::int AS g1,
           floor(random() * %(groups)s)::int AS g2
    FROM generate_series(%(lo)s, %(hi)s) AS i
), rows AS (
    SELECT *, CASE WHEN %(queue_only)s OR r < 0.30 THEN 'unassigned'
                   WHEN r < 0.60 THEN 'assigned'
                   WHEN r < 0.65 THEN 'delegated' ELSE 'completed' END AS status
    FROM src
)
INSERT INTO tasks_usertask (
    id, dedupe_key, workflow_id, instance_key, definition_key, definition_version, state_name,
    task_key, title, form_key, status, assignee_id, owner_id, candidate_users,
    candidate_groups, priority, due_at, input, outcome, outcomes, listeners, timers,
    task_timeout, escalations, created_at, updated_at, completed_at, completed_by_id
)
SELECT md5(%(tag)s || i)::uuid, %(tag)s || i, 'bench-' || i, md5('instance' || i)::uuid::text,
       'def-' || (i %% 20), '1',
       'Approve', 'approve', 'Request ' || i || ' of def-' || (i %% 20), '', status,
       CASE WHEN status = 'unassigned' THEN NULL ELSE %(first_user)s + au END,
       CASE WHEN status = 'delegated' THEN %(first_user)s + cu END,
       CASE WHEN r2 < 0.5 AND NOT %(queue_only)s THEN ARRAY['user' || cu]
            ELSE ARRAY[]::varchar[] END,
       CASE WHEN %(queue_only)s THEN ARRAY[%(group)s]::varchar[]
            WHEN r3 < 0.5 THEN ARRAY['group' || g1]
            ELSE ARRAY['group' || g1, 'group' || g2] END,
       floor(random() * 101)::int,
       CASE WHEN r3 < 0.7 THEN now() + (random() * 60 - 30) * interval '1 day' END,
       jsonb_build_object('n', i), CASE WHEN status = 'completed' THEN 'approved' ELSE '' END,
       '[{"name": "approved", "label": "Approve"}, {"name": "rejected", "label": "Reject"}]',
       '[]', '[]', '', 0, now() - random() * interval '90 days', now(),
       CASE WHEN status = 'completed' THEN now() END,
       CASE WHEN status = 'completed' THEN %(first_user)s + au END
FROM rows
"""


QUEUE = """
INSERT INTO tasks_taskcandidacy (task_id, principal, priority, created_at)
SELECT id, 'g:' || g, priority, created_at
FROM tasks_usertask, unnest(candidate_groups) AS g WHERE status = 'unassigned'
UNION
SELECT id, 'u:' || u, priority, created_at
FROM tasks_usertask, unnest(candidate_users) AS u WHERE status = 'unassigned'
"""


def _use_bench_database() -> str:
    db = settings.DATABASES["default"]
    db["NAME"] = f"{db['NAME']}{BENCH_SUFFIX}"
    return db["NAME"]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def show(label: str, seconds: list[float], queries: int | None = None) -> None:
    if not seconds:
        print(f"  {label:<44} (no samples)")
        return
    ms = [s * 1000 for s in seconds]
    extra = f", {queries} queries" if queries is not None else ""
    print(f"  {label:<44} p50 {pct(ms, 0.5):6.1f} ms   p95 {pct(ms, 0.95):6.1f} ms{extra}")


def seed(args) -> None:
    from django.contrib.auth.models import Group, User
    from django.db import connection

    began = time.monotonic()
    User.objects.bulk_create(
        [
            User(username=f"user{n}", email=f"user{n}@example.com", password="!")
            for n in range(args.users)
        ],
        batch_size=5000,
    )
    extra = [f"claimer{n}" for n in range(args.claimers)] + ["handoff-user"]
    User.objects.bulk_create([User(username=u, password="!") for u in extra])
    groups = Group.objects.bulk_create(
        [Group(name=f"group{g}") for g in range(args.groups)]
        + [Group(name=CLAIM_GROUP), Group(name=HANDOFF_GROUP)]
    )
    ids = dict(User.objects.values_list("username", "pk"))
    through = User.groups.through
    links = []
    for n in range(args.users):  # each user in two groups
        for g in {n % args.groups, (n * 7 + 3) % args.groups}:
            links.append(through(user_id=ids[f"user{n}"], group_id=groups[g].pk))
    links += [
        through(user_id=ids[f"claimer{n}"], group_id=groups[-2].pk) for n in range(args.claimers)
    ]
    links.append(through(user_id=ids["handoff-user"], group_id=groups[-1].pk))
    through.objects.bulk_create(links, batch_size=5000)
    first_user = ids["user0"]

    def insert(lo: int, hi: int, tag: str, queue_only: bool = False, group: str = "") -> None:
        with connection.cursor() as cur:
            cur.execute(
                INSERT,
                {
                    "lo": lo,
                    "hi": hi,
                    "users": args.users,
                    "groups": args.groups,
                    "first_user": first_user,
                    "tag": tag,
                    "queue_only": queue_only,
                    "group": group,
                },
            )

    chunk = 100_000
    for lo in range(0, args.tasks, chunk):
        insert(lo, min(lo + chunk, args.tasks) - 1, "bench:")
        print(
            f"  seeded {min(lo + chunk, args.tasks):>9,} tasks ({time.monotonic() - began:.0f} s)"
        )
    insert(0, CLAIM_TASKS - 1, "claim:", queue_only=True, group=CLAIM_GROUP)
    with connection.cursor() as cur:
        cur.execute(QUEUE)  # what sync_queue() writes for each unassigned task
        cur.execute("VACUUM ANALYZE tasks_usertask")
        cur.execute("VACUUM ANALYZE tasks_taskcandidacy")
    print(
        f"seeded {args.tasks:,} tasks over {args.users:,} users and {args.groups} groups "
        f"(+{CLAIM_TASKS} in the claim queue) in {time.monotonic() - began:.0f} s"
    )


def client_for(username: str):
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    token, _ = Token.objects.get_or_create(user=User.objects.get(username=username))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


def timed_get(client, url: str) -> tuple[float, dict]:
    began = time.perf_counter()
    response = client.get(url)
    took = time.perf_counter() - began
    assert response.status_code == 200, response.content[:500]
    return took, response.json()


def count_queries(client, url: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        client.get(url)
    return len(queries)


def deep_url(client, base: str, pages: int) -> str | None:
    """The URL of page `pages` (following `next` links), or None if the list is shorter."""
    url = base
    for _ in range(pages - 1):
        _, body = timed_get(client, url)
        url = body["next"]
        if url is None:
            return None
    return url


def measure_lists(args) -> None:
    from django.db.models import Count

    from apps.tasks.models import UserTask

    rng = random.Random(7)
    users = [f"user{n}" for n in rng.sample(range(args.users), args.samples)]
    clients = {u: client_for(u) for u in users}
    top = list(
        UserTask.objects.filter(status="assigned")
        .values("assignee__username")
        .annotate(n=Count("id"))
        .order_by("-n")[:5]
    )
    heavy = [h["assignee__username"] for h in top]
    for u in heavy:
        clients.setdefault(u, client_for(u))
    print(
        f"lists ({args.samples} sampled users; the 5 busiest hold "
        f"{', '.join(str(h['n']) for h in top)} assigned tasks):"
    )
    for view in ("mine", "queue"):
        first = f"/api/v1/tasks/?view={view}"
        for u in users[:10]:
            timed_get(clients[u], first)  # warm up
        times = [timed_get(clients[u], first)[0] for u in users]
        show(f"{view}: first page (50 rows)", times, count_queries(clients[users[0]], first))
        filtered = f"/api/v1/tasks/?view={view}&priority_min=25"
        pool = heavy if view == "mine" else users
        deep = [(u, deep_url(clients[u], filtered, 10)) for u in pool]
        deep = [(u, url) for u, url in deep if url]
        if not deep:
            print(f"  {view}: no list reaches page 10")
            continue
        times = []
        for _ in range(max(1, args.samples // len(deep))):
            times += [timed_get(clients[u], url)[0] for u, url in deep]
        show(
            f"{view}: page 10 with priority_min=25 ({len(deep)} users)",
            times,
            count_queries(clients[deep[0][0]], deep[0][1]),
        )


def explain(args) -> None:
    from django.contrib.auth.models import User
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from apps.tasks.selectors import TaskFilters, task_page

    user = User.objects.get(username="user42")
    for view in ("mine", "queue"):
        with CaptureQueriesContext(connection) as queries:
            task_page(user, view, TaskFilters(priority_min=25))
        for query in queries.captured_queries:
            if "tasks_" in query["sql"]:
                with connection.cursor() as cur:
                    cur.execute("EXPLAIN (ANALYZE, COSTS OFF) " + query["sql"])
                    plan = "\n".join(row[0] for row in cur.fetchall())
                print(f"--- {view}\n{plan}")


def _claimer(n: int, deadline: float, out) -> None:
    """One claimer process (a web worker of its own): list the queue, claim a random row."""
    from django.db import connection

    client, ok, refused, lat = client_for(f"claimer{n}"), 0, 0, []
    rng = random.Random(n)
    try:
        while time.time() < deadline:
            _, body = timed_get(client, "/api/v1/tasks/?view=queue&page_size=20")
            if not body["results"]:
                break
            pick = rng.choice(body["results"])["id"]
            began = time.perf_counter()
            response = client.post(f"/api/v1/tasks/{pick}/claim")
            took = time.perf_counter() - began
            if response.status_code == 200:
                ok, lat = ok + 1, [*lat, took]
            elif response.status_code == 409:
                refused += 1
            else:
                raise AssertionError(response.content[:300])
    finally:
        connection.close()
        out.put((ok, refused, lat))


def measure_claims(args, claimers: int, seconds: float) -> None:
    import multiprocessing

    from django.db import connections
    from django.db.models import Count

    from apps.tasks.models import TaskEvent, UserTask

    # Processes, not threads: each claimer is a web worker with its own interpreter (threads
    # would measure the GIL's queue, not the service).
    ctx = multiprocessing.get_context("fork")
    out = ctx.Queue()
    before = UserTask.objects.filter(dedupe_key__startswith="claim:", status="assigned").count()
    # Children must not share the parent's sockets: close its connections and its pool (each
    # child opens its own, like a web worker).
    connections.close_all()
    for conn in connections.all():
        if hasattr(conn, "close_pool"):
            conn.close_pool()
    deadline = time.time() + seconds
    began = time.monotonic()
    procs = [ctx.Process(target=_claimer, args=(n, deadline, out)) for n in range(claimers)]
    for proc in procs:
        proc.start()
    results = [out.get(timeout=seconds + 120) for _ in procs]
    for proc in procs:
        proc.join(30)
    took = time.monotonic() - began
    ok = sum(r[0] for r in results)
    refused = sum(r[1] for r in results)
    doubles = (
        TaskEvent.objects.filter(event_type="claimed", task__dedupe_key__startswith="claim:")
        .values("task")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .count()
    )
    assigned = UserTask.objects.filter(dedupe_key__startswith="claim:", status="assigned").count()
    print(
        f"claims: {claimers} claimer process(es) on one queue for {took:.1f} s: {ok} claims "
        f"({ok / took:.0f}/s), {refused} refused (409, taken first), double claims: {doubles}, "
        f"claimed rows: {assigned - before}"
    )
    show("claim (POST .../claim)", [x for r in results for x in r[2]])
    assert doubles == 0 and assigned - before == ok, "a claim was lost or doubled"


HANDOFF = {
    "id": "bench-handoff",
    "version": "1",
    "specVersion": "0.8",
    "start": "Approve",
    "states": [
        {
            "name": "Approve",
            "type": "usertask",
            "taskKey": "approve",
            "title": "Approve ${ .n }",
            "candidateGroups": [HANDOFF_GROUP],
            "outcomes": [{"name": "approved", "transition": "Done"}],
        },
        {"name": "Done", "type": "inject", "data": {"done": True}, "end": True},
    ],
}


def measure_handoffs(args) -> None:
    from django.contrib.auth.models import User

    from apps.core import temporal
    from apps.core.worker import build_registry, build_workers
    from apps.tasks.selectors import TaskFilters, task_page
    from apps.workflows.models import WorkflowInstance
    from apps.workflows.services.definitions import do_save_definition
    from apps.workflows.services.instances import do_start_instance
    from bench.engine import start_dev_server

    tmp = tempfile.TemporaryDirectory()
    proc, address = start_dev_server(tmp.name)
    settings.TEMPORAL_ADDRESS = address
    settings.TEMPORAL_QUEUE_PREFIX = "bench-inbox-"
    temporal.reset()
    loop, stop, started = asyncio.new_event_loop(), None, threading.Event()

    async def serve():
        nonlocal stop
        stop = asyncio.Event()
        workers = build_workers(await temporal.connect(), build_registry(), max_activity_threads=8)
        tasks = [asyncio.create_task(w.run()) for w in workers]
        started.set()
        await stop.wait()
        await asyncio.gather(*(w.shutdown() for w in workers), return_exceptions=True)
        for t in tasks:
            t.cancel()

    thread = threading.Thread(target=lambda: loop.run_until_complete(serve()), daemon=True)
    thread.start()
    started.wait(60)
    try:
        definition, _ = do_save_definition(source=HANDOFF, user=None, publish=True)
        client = client_for("handoff-user")
        user = User.objects.get(username="handoff-user")
        listed, resumed = [], []
        for n in range(args.handoffs + 2):
            began = time.perf_counter()
            instance = do_start_instance(definition=definition, input={"n": n})
            task_id = None
            while task_id is None:  # the queue's own query, without HTTP around it
                rows = task_page(user, "queue", TaskFilters(instance=str(instance.pk)), size=1).rows
                task_id = str(rows[0].pk) if rows else None
            seen = time.perf_counter() - began
            assert client.post(f"/api/v1/tasks/{task_id}/claim").status_code == 200
            began = time.perf_counter()
            done = client.post(
                f"/api/v1/tasks/{task_id}/complete", {"outcome": "approved"}, format="json"
            )
            assert done.status_code == 200, done.content[:300]
            while WorkflowInstance.objects.filter(pk=instance.pk, status="completed").count() == 0:
                time.sleep(0.002)
            if n >= 2:  # the first runs warm the worker's caches
                listed.append(seen)
                resumed.append(time.perf_counter() - began)
        print(f"hand-offs ({args.handoffs} sequential instances, worker in this process):")
        show("instance start -> task listed in the queue", listed)
        show("complete -> instance left the state", resumed)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        proc.terminate()
        proc.wait(10)
        tmp.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=10_000)
    parser.add_argument("--groups", type=int, default=200)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--claimers", type=int, default=8)
    parser.add_argument("--claim-seconds", type=float, default=20)
    parser.add_argument("--handoffs", type=int, default=30)
    parser.add_argument("--explain", action="store_true", help="print the list queries' plans")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--parts", default="lists,claims,handoffs", help="which measurements (comma-separated)"
    )
    args = parser.parse_args()

    name = _use_bench_database()
    django.setup()
    from django.core.management import call_command
    from django.db import connection

    with connection._nodb_cursor() as cur:
        cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        call_command("migrate", verbosity=0)
        seed(args)
        parts = set(args.parts.split(","))
        if "lists" in parts:
            measure_lists(args)
        if args.explain:
            explain(args)
        if "claims" in parts:
            measure_claims(args, 1, args.claim_seconds / 2)  # alone: the request's own cost
            measure_claims(args, args.claimers, args.claim_seconds)
        if "handoffs" in parts:
            measure_handoffs(args)
    finally:
        connection.close()
        if not args.keep:
            with connection._nodb_cursor() as cur:
                # WITH (FORCE): the worker's activity threads may still hold connections.
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
