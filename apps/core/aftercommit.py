"""Side effects of a commit (Temporal starts and signals): inline, or handed to a dispatcher.

By default a side effect runs right after the commit, in the committing thread. A process that
commits many small transactions in a row (the Kafka bridge) installs a dispatcher for its
threads, so they go on routing while other threads talk to Temporal; what a dispatcher never
ran (the process died) is still in the database, and the reconciler sends it.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator

from django.db import transaction

Dispatch = Callable[[Callable[[], object]], None]
_dispatcher: contextvars.ContextVar[Dispatch | None] = contextvars.ContextVar(
    "xflow_after_commit", default=None
)


def after_commit(fn: Callable[[], object]) -> None:
    """Run `fn` once the current transaction commits (at once outside one)."""
    dispatch = _dispatcher.get()
    if dispatch is None:
        transaction.on_commit(fn, robust=True)
    else:
        transaction.on_commit(lambda: dispatch(fn), robust=True)


@contextlib.contextmanager
def dispatching(dispatch: Dispatch) -> Iterator[None]:
    """Within this block (this thread), side effects after commit go to `dispatch`."""
    token = _dispatcher.set(dispatch)
    try:
        yield
    finally:
        _dispatcher.reset(token)
