"""The parent side: a pool of child processes that evaluate jq under limits.

A caller takes an idle child (or starts one, up to `pool_size`), writes one request and waits
on the pipe with poll(): the GIL is released, so other threads (other workflow instances)
keep running, and a second caller uses another child. A child that overruns its limits is
killed by the kernel (CPU, memory) or by us (wall clock) and replaced on next use.
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .child import (
    COMPILE,
    COMPILE_ERROR,
    ERROR,
    EVAL,
    MEMORY_LIMIT,
    OK,
    OUTPUT_LIMIT,
    REQUEST,
    RESPONSE,
)
from .limits import JqError, JqLimitExceeded, JqStopped, Limits
from .refused import PRELUDE

CHILD_SCRIPT = str(Path(__file__).with_name("child.py"))
# The child sees no variable of ours (no secrets); UTC and the C locale keep dates stable.
CHILD_ENV = {"TZ": "UTC", "LC_ALL": "C"}
# A child must come up within this (it only imports jq); not an evaluation limit.
START_SECONDS = 30.0


class _Dead(Exception):
    """The child's pipe closed: it exited or was killed."""


class _Late(Exception):
    """The wall-clock guard ran out."""


class Child:
    """One child process and its pipes."""

    def __init__(self, limits: Limits) -> None:
        config = {
            "prelude": PRELUDE,
            "cpu_seconds": limits.cpu_seconds,
            "memory_bytes": limits.memory_mb * 1024 * 1024,
            "output_bytes": limits.output_kb * 1024,
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-I", CHILD_SCRIPT, json.dumps(config)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=CHILD_ENV,
            bufsize=0,
            # Not in our process group: a terminal's Ctrl-C goes to the worker, which stops us.
            start_new_session=True,
        )
        self.pid = self.proc.pid
        self._w = self.proc.stdin.fileno()
        self._r = self.proc.stdout.fileno()
        for fd in (self._w, self._r, self.proc.stderr.fileno()):
            os.set_blocking(fd, False)
        self._readable = select.poll()
        self._readable.register(self._r, select.POLLIN)
        self._writable = select.poll()
        self._writable.register(self._w, select.POLLOUT)
        # The child says it is ready once its limits are set, so the first evaluation's
        # wall clock does not include the interpreter starting up.
        self._read_response(time.monotonic() + START_SECONDS)

    def exchange(self, request: bytes, deadline: float) -> tuple[int, bool, bytes]:
        """Send one request; (status, retire, payload). Raises _Dead or _Late."""
        view = memoryview(request)
        while view:
            if not self._writable.poll(_millis(deadline)):
                raise _Late
            try:
                view = view[os.write(self._w, view) :]
            except BlockingIOError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                raise _Dead from None
        return self._read_response(deadline)

    def _read_response(self, deadline: float) -> tuple[int, bool, bytes]:
        buf = bytearray()
        need = RESPONSE.size
        header = None
        while True:
            if len(buf) >= need:
                if header is None:
                    header = RESPONSE.unpack_from(buf)
                    need += header[2]
                    continue
                return header[0], bool(header[1]), bytes(buf[RESPONSE.size : need])
            if not self._readable.poll(_millis(deadline)):
                raise _Late
            try:
                chunk = os.read(self._r, max(65536, need - len(buf)))
            except BlockingIOError:
                continue
            if not chunk:
                raise _Dead
            buf += chunk

    def end(self) -> int:
        """Stop the child (if still running) and reap it; its exit status."""
        if self.proc.returncode is None:
            try:
                self.proc.kill()
            except ProcessLookupError:
                pass
        for stream in (self.proc.stdin, self.proc.stdout):
            stream.close()
        return self.proc.wait()

    def death(self, limits: Limits) -> JqLimitExceeded:
        """The error for a child that died while evaluating (reaps it)."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = self.end()
        try:
            err = self.proc.stderr.read(65536) or b""
        except (BlockingIOError, ValueError):
            err = b""
        self.end()
        self.proc.stderr.close()
        if code in (-signal.SIGPROF, -signal.SIGXCPU):
            return JqLimitExceeded(
                "cpu", f"the expression was stopped after {limits.describe('cpu')}"
            )
        if b"allocate" in err or code == -signal.SIGKILL:
            return JqLimitExceeded(
                "memory", f"the expression needed more than {limits.describe('memory')}"
            )
        name = signal.Signals(-code).name if code < 0 else f"exit status {code}"
        return JqLimitExceeded(
            "crash",
            f"the expression's evaluator stopped ({name}), most likely on data nested too"
            f" deeply; it may use {limits.describe('memory')}",
        )


def _millis(deadline: float) -> int:
    return max(0, int((deadline - time.monotonic()) * 1000) + 1)


class Pool:
    """Up to `limits.pool_size` children, started on demand, shared by all threads."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.pid = os.getpid()  # a forked process must not use its parent's children
        self._cond = threading.Condition()
        self._idle: list[Child] = []
        self._busy: set[Child] = set()
        self._count = 0
        self._closed = False
        self.started = 0  # children started so far (tests watch replacements)
        self.calls = 0  # requests sent to children (tests watch the in-process fast path)

    def run(self, program: str, input_json: str) -> list:
        """Every output of program on the JSON text input_json."""
        status, payload = self._call(EVAL, program, input_json)
        if status == OK:
            return json.loads(payload)
        if status == OUTPUT_LIMIT:
            raise JqLimitExceeded(
                "output", f"the expression produced more than {self.limits.describe('output')}"
            )
        if status == MEMORY_LIMIT:
            raise JqLimitExceeded(
                "memory", f"the expression needed more than {self.limits.describe('memory')}"
            )
        raise JqError(payload.strip())

    def compile_problem(self, program: str, variables: tuple[str, ...] = ()) -> str | None:
        """jq's message when program does not compile (variables declared), else None."""
        status, payload = self._call(COMPILE, program, json.dumps(list(variables)))
        if status == COMPILE_ERROR:
            return payload
        if status == MEMORY_LIMIT:
            raise JqLimitExceeded(
                "memory", f"compiling needed more than {self.limits.describe('memory')}"
            )
        return None

    def _call(self, op: int, program: str, body: str) -> tuple[int, str]:
        p, b = program.encode(), body.encode()
        request = REQUEST.pack(op, len(p), len(b)) + p + b
        child = self._acquire()
        self.calls += 1
        keep = False
        try:
            status, retire, payload = child.exchange(
                request, time.monotonic() + self.limits.wall_seconds
            )
            keep = not retire
        except _Late:
            raise JqLimitExceeded(
                "wall", f"the expression was stopped after {self.limits.describe('wall')}"
            ) from None
        except _Dead:
            keep = None  # reaped by death()
            error = child.death(self.limits)
            if self._closed:
                raise JqStopped("the expression evaluator was shut down") from None
            raise error from None
        finally:
            self._release(child, keep)
        if status not in (OK, ERROR, COMPILE_ERROR, OUTPUT_LIMIT, MEMORY_LIMIT):
            raise JqError(f"the evaluator answered an unknown status {status}")
        return status, payload.decode()

    def _acquire(self) -> Child:
        with self._cond:
            while True:
                if self._closed:
                    raise JqStopped("the expression evaluator is shut down")
                if self._idle:
                    child = self._idle.pop()
                    self._busy.add(child)
                    return child
                if self._count < self.limits.pool_size:
                    self._count += 1
                    break
                self._cond.wait()
        try:
            child = Child(self.limits)
        except BaseException:
            with self._cond:
                self._count -= 1
                self._cond.notify()
            raise
        with self._cond:
            self.started += 1
            self._busy.add(child)
        return child

    def _release(self, child: Child, keep: bool | None) -> None:
        with self._cond:
            self._busy.discard(child)
            if keep and not self._closed:
                self._idle.append(child)
                self._cond.notify()
                return
            self._count -= 1
            self._cond.notify()
        if keep is not None:
            child.end()
            child.proc.stderr.close()

    def warm(self) -> None:
        """Start one child ahead of the first evaluation."""
        self._release(self._acquire(), True)

    def close(self) -> None:
        """Stop every child now; evaluations under way raise JqStopped."""
        with self._cond:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
            self._count -= len(idle)
            self._cond.notify_all()
        for child in idle:
            child.end()
            child.proc.stderr.close()
        for child in busy:
            # Its caller sees the pipe close, reaps it and raises JqStopped.
            try:
                child.proc.kill()
            except ProcessLookupError:
                pass

    def children(self) -> list[int]:
        """Pids of the idle children (for tests and diagnostics)."""
        with self._cond:
            return [c.pid for c in self._idle]
