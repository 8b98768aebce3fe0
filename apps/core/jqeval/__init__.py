"""jq under limits: the one evaluator workflows, forms, queries and triggers use (PRODUCT.md §8).

Programs run in child processes (`pool.py`, `child.py`) with a CPU-time, wall-clock, memory
and output limit per evaluation; exceeding one raises `JqLimitExceeded`, never stalls the
caller. Builtins that read the environment, the clock, files or stdin are refused
(`refused.py`). Pure of Django at import time: the Temporal workflow sandbox passes it through.

    from apps.core import jqeval
    jqeval.run(".a + 1", '{"a": 1}')              # -> [2]
    jqeval.compile_problem(".a +", ("CONST",))     # -> jq's message, or None
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from functools import lru_cache

import jq

from .cheap import MAX_FACTOR, is_cheap
from .limits import SETTINGS, JqError, JqLimitExceeded, JqStopped, Limits
from .pool import Pool
from .refused import REFUSED, RefusedUse, refused_uses

__all__ = [
    "REFUSED",
    "SETTINGS",
    "JqError",
    "JqLimitExceeded",
    "JqStopped",
    "Limits",
    "Pool",
    "RefusedUse",
    "compile_problem",
    "configure",
    "pool",
    "refused_uses",
    "run",
    "shutdown",
]

_lock = threading.Lock()
_pool: Pool | None = None
_limits: Limits | None = None


def configure(limits: Limits | None) -> None:
    """Use these limits from now on (None: read the settings again); stops current children."""
    global _limits
    with _lock:
        _limits = limits
    shutdown()


def pool() -> Pool:
    """This process's pool, started on first use with the configured limits."""
    global _pool
    with _lock:
        if _pool is None or _pool.pid != os.getpid():
            _pool = Pool(_limits or _settings_limits())
        return _pool


def shutdown() -> None:
    """Stop this process's children (the worker calls it on exit; also at interpreter exit)."""
    global _pool
    with _lock:
        current, _pool = _pool, None
    if current is not None and current.pid == os.getpid():
        current.close()


atexit.register(shutdown)


def run(
    program: str, input_json: str, *, prefix: str = "", variables: tuple[str, ...] = ()
) -> list:
    """Every output of the jq program on the JSON text input_json, under the limits.

    `prefix` is trusted jq text of the caller run before the program (e.g. binding the
    `variables` it may read from the input); only `program` is checked and may be untrusted.
    A program `cheap.is_cheap` proves linear with a bounded output, on a small enough input,
    runs in this process: no round trip to a child for `.a.b` or `.total > 100`.
    """
    refused = _refused(program)
    if refused:
        raise JqError(refused)
    current = pool()
    fast_input = current.limits.output_kb * 1024 // MAX_FACTOR
    if len(input_json) <= fast_input and is_cheap(program, frozenset(variables)):
        return _in_process(prefix + program, input_json)
    return current.run(prefix + program, input_json)


def _in_process(program: str, input_json: str) -> list:
    try:
        return _compiled(program).input_text(input_json).all()
    except ValueError as exc:
        raise JqError(str(exc).strip()) from None


@lru_cache(maxsize=2048)
def _compiled(program: str) -> object:
    return jq.compile(program)


def compile_problem(program: str, variables: tuple[str, ...] = ()) -> str | None:
    """jq's compile error for program (with the variables declared), or None if it compiles.

    Compiling runs in a child too: jq folds constants while compiling, so `"x" * 1e9`
    allocates its result before anything is evaluated. A cheap program (no such literal
    arithmetic) compiles in-process.
    """
    if is_cheap(program, frozenset(variables)):
        try:
            jq.compile(program, args=dict.fromkeys(variables) if variables else None)
        except ValueError as exc:
            return str(exc)
        return None
    return pool().compile_problem(program, variables)


def _refused(program: str) -> str | None:
    uses = refused_uses(program)
    return uses[0].message if uses else None


def _settings_limits() -> Limits:
    # No import here: the first use may be inside the workflow sandbox, which would import
    # Django afresh. A Django process has loaded its settings long before.
    settings = getattr(sys.modules.get("django.conf"), "settings", None)
    if settings is not None and settings.configured:
        return Limits.from_settings(settings)
    return Limits()
