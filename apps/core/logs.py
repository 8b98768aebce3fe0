"""Log filters of the platform."""

from __future__ import annotations

import logging
from collections.abc import Iterable


class HideFailureTracebacks(logging.Filter):
    """Drops the traceback the Temporal SDK logs for business failures of activities.

    A failed function call is a business error the definition handles (`onErrors`); xflow
    logs it itself with the instance's secrets masked. The SDK's "Completing activity as
    failed" record carries the same exception, whose message would print verbatim.
    """

    def __init__(self, error_types: Iterable[str] = ()) -> None:
        super().__init__()
        self.error_types = set(error_types)

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if getattr(exc, "type", None) in self.error_types and hasattr(exc, "non_retryable"):
            record.exc_info = None
            record.exc_text = None
            record.msg = f"{record.msg} ({exc.type}: logged by xflow with secrets masked)"
        return True
