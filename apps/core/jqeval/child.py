"""The evaluator's child process: compiles and runs jq programs under fixed limits.

Run as a script (`python -I child.py CONFIG`) with an empty environment: stdlib and jq only,
no project code, no Django. It serves one request at a time over stdin/stdout:

    request:  op (1 byte) | len(program) (4) | len(body) (4) | program | body
    response: status (1 byte) | retire (1 byte) | len(payload) (4) | payload

op EVAL runs the program on the JSON text `body` and answers the outputs as a JSON array;
op COMPILE only compiles it, `body` being a JSON list of variable names to declare.
Limits: CPU time per request (ITIMER_PROF with its default action, which kills the process
even while jq runs in C), address space (RLIMIT_AS: jq aborts when malloc fails) and the size
of the answer. The parent reads a killed child's exit status; the child never reports those.
"""

from __future__ import annotations

import json
import os
import re
import resource
import signal
import struct
import sys
from collections import OrderedDict

import jq

EVAL, COMPILE = 1, 2
OK, ERROR, COMPILE_ERROR, OUTPUT_LIMIT, MEMORY_LIMIT = 0, 1, 2, 3, 4
REQUEST = struct.Struct("!BII")
RESPONSE = struct.Struct("!BBI")
_CACHE_SIZE = 2048
_LINE = re.compile(r"(at <top-level>, line )(\d+)")


def _address_space() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[0]) * resource.getpagesize()


class Child:
    def __init__(self, config: dict) -> None:
        self.prelude = config["prelude"] + "\n"
        self.cpu = float(config["cpu_seconds"])
        self.output = int(config["output_bytes"])
        self.cache: OrderedDict[tuple, object] = OrderedDict()
        memory = int(config["memory_bytes"])
        try:
            base = _address_space()
        except OSError:  # no /proc: the limit then also counts the interpreter itself
            base = 0
        resource.setrlimit(resource.RLIMIT_AS, (base + memory, base + memory))
        # Past half the allowance (fragmentation, cached programs) the child retires after
        # answering and the parent starts a fresh one, so one evaluation always has room.
        self.retire_at = base + memory // 2

    def compile(self, program: str, variables: tuple[str, ...]) -> object:
        key = (program, variables)
        compiled = self.cache.get(key)
        if compiled is None:
            args = dict.fromkeys(variables) if variables else None
            compiled = jq.compile(self.prelude + program, args=args)
            self.cache[key] = compiled
            if len(self.cache) > _CACHE_SIZE:
                self.cache.popitem(last=False)
        else:
            self.cache.move_to_end(key)
        return compiled

    def handle(self, op: int, program: str, body: str) -> tuple[int, str]:
        variables = tuple(json.loads(body)) if op == COMPILE else ()
        try:
            compiled = self.compile(program, variables)
        except ValueError as exc:
            # The prelude is line 1: report lines as the author wrote them.
            message = _LINE.sub(lambda m: m.group(1) + str(int(m.group(2)) - 1), str(exc))
            return COMPILE_ERROR, message
        if op == COMPILE:
            return OK, "[]"
        parts = []
        size = 2
        try:
            for value in compiled.input_text(body):
                text = json.dumps(value, separators=(",", ":"))  # ASCII: len() is bytes
                size += len(text) + 1
                if size > self.output:
                    return OUTPUT_LIMIT, f"its output passed {self.output} bytes"
                parts.append(text)
        except ValueError as exc:
            return ERROR, str(exc)
        return OK, "[" + ",".join(parts) + "]"

    def serve(self, rfile, wfile) -> None:
        wfile.write(RESPONSE.pack(OK, False, 0))  # ready: the limits are in place
        wfile.flush()
        while True:
            head = rfile.read(REQUEST.size)
            if len(head) < REQUEST.size:
                return  # the parent closed the pipe: it is gone or shutting down
            op, program_len, body_len = REQUEST.unpack(head)
            program = rfile.read(program_len).decode()
            body = rfile.read(body_len).decode()
            retire = False
            signal.setitimer(signal.ITIMER_PROF, self.cpu)
            try:
                status, payload = self.handle(op, program, body)
            except (MemoryError, RecursionError) as exc:
                status, payload, retire = MEMORY_LIMIT, type(exc).__name__, True
            finally:
                signal.setitimer(signal.ITIMER_PROF, 0)
            retire = retire or _address_space() > self.retire_at
            data = payload.encode()
            wfile.write(RESPONSE.pack(status, retire, len(data)) + data)
            wfile.flush()
            if retire:
                return


def main() -> None:
    config = json.loads(sys.argv[1])
    # Keep the protocol pipe to ourselves: anything else writing to fd 1 lands on stderr.
    out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent decides when we stop
    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    Child(config).serve(sys.stdin.buffer, out)


if __name__ == "__main__":
    main()
