"""Workflow errors: how failures are named, matched to `onErrors`, and retried.

Pure module (passed through the sandbox). The spec (0.8 "Workflow Error Handling") names
errors in the domain: a definition's `errors[]` entry matches a runtime failure when its
`code` equals the failure's code (for rest functions the HTTP status) or when its `name`
equals that code. Retries follow "Action retries": with `autoRetries` off only actions with a
`retryRef` are retried, on known errors only (those in `retryableErrors` when listed); with
`autoRetries` on every action is retried, on any error, except on `nonRetryableErrors`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from random import Random
from typing import Any

from temporalio.exceptions import (
    ActivityError,
    ApplicationError,
    CancelledError,
    ChildWorkflowError,
    TerminatedError,
    TimeoutError,
)

from apps.core.jqeval import JqStopped
from apps.workflows.dsl.durations import DurationError, parse_duration
from apps.workflows.dsl.model import Action, ErrorHandler, RetryDef, Workflow
from apps.workflows.engine.contracts import FUNCTION_ERROR

# Codes the engine itself raises; a definition can handle them by naming an error with this
# code (or this name) in `errors[]`.
TIMEOUT = "Timeout"
EXPRESSION_ERROR = "ExpressionError"
DATA_ERROR = "DataError"
TASK_DELETED = "TaskDeleted"
SUBFLOW_FAILED = "SubflowFailed"
INVALID_INPUT = "InvalidInput"
# An expression stopped by the evaluator's limits (apps.core.jqeval; PRODUCT.md §8). Named as
# issue 8 asked; matched case-insensitively like every code, so `ExpressionLimit`-style
# spellings do not match it: use this exact code in `errors[].code`.
EXPRESSION_LIMIT = "expression_limit"

# The runtime default strategy for autoRetries (spec: unlimited attempts, 1 s, multiplier 2);
# we cap the delay so an instance keeps probing a broken service at least every 5 minutes.
DEFAULT_RETRY = RetryDef(
    name="xflow-default", delay="PT1S", multiplier=2.0, max_attempts=None, max_delay="PT5M"
)


@dataclass
class WorkflowError(Exception):
    """A business failure inside the workflow: carries the code matched against errors[]."""

    code: str
    message: str
    body: Any = None
    state: str | None = None
    # The data the failed state was entered with: an operator's retry resumes from it.
    state_data: Any = None

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def as_detail(self) -> dict[str, Any]:
        detail = {"type": self.code, "message": self.message, "state": self.state}
        if self.state_data is not None:
            detail["data"] = self.state_data
        return detail


def from_exception(exc: BaseException) -> WorkflowError:
    """Turn what an activity or child workflow raised into a WorkflowError."""
    if isinstance(exc, WorkflowError):
        return exc
    if isinstance(exc, JqStopped):
        # The worker is stopping mid-expression: fail the workflow task (Temporal retries it
        # on a running worker) rather than record an error the definition never caused.
        raise exc
    cause = exc
    while isinstance(cause, ActivityError | ChildWorkflowError) and cause.cause is not None:
        cause = cause.cause
    if isinstance(cause, ApplicationError):
        details = cause.details[0] if cause.details else None
        if cause.type == FUNCTION_ERROR and isinstance(details, dict):
            return WorkflowError(
                code=str(details.get("code") or FUNCTION_ERROR),
                message=str(details.get("message") or cause.message),
                body=details.get("body"),
            )
        if isinstance(details, dict) and "type" in details:
            # A failed child interpreter: keep its error type so the parent can match it.
            return WorkflowError(code=str(details["type"]), message=str(details.get("message")))
        return WorkflowError(code=cause.type or "Error", message=cause.message)
    if isinstance(cause, TimeoutError):
        return WorkflowError(code=TIMEOUT, message=str(cause) or "timed out")
    if isinstance(cause, CancelledError | TerminatedError):
        return WorkflowError(code=SUBFLOW_FAILED, message=str(cause) or "cancelled")
    return WorkflowError(code=type(cause).__name__, message=str(cause))


def error_matches(workflow: Workflow, error_name: str, err: WorkflowError) -> bool:
    """Does the runtime error `err` match the defined error called `error_name`?"""
    definition = workflow.errors_by_name.get(error_name)
    if definition is not None and definition.code is not None and definition.code == err.code:
        return True
    return error_name == err.code or error_name.lower() == err.code.lower()


def find_handler(
    workflow: Workflow, handlers: tuple[ErrorHandler, ...], err: WorkflowError
) -> ErrorHandler | None:
    """The first onErrors entry naming an error that matches (definition order wins)."""
    for handler in handlers:
        for name in handler.error_refs:
            if error_matches(workflow, name, err):
                return handler
    return None


def retry_strategy(workflow: Workflow, action: Action, err: WorkflowError) -> RetryDef | None:
    """The retry definition to apply to this failure of this action, or None: do not retry."""
    strategy = workflow.retries_by_name.get(action.retry_ref) if action.retry_ref else None
    if workflow.auto_retries:
        if any(error_matches(workflow, n, err) for n in action.non_retryable_errors):
            return None
        return strategy or DEFAULT_RETRY
    if strategy is None:
        return None
    # Spec (Retry actions on known errors): unknown (unchecked) errors are not retried, the
    # workflow fails; known ones are, limited to `retryableErrors` when the action lists them.
    names = action.retryable_errors
    if names is None:
        names = tuple(e.name for e in workflow.errors)
    if any(error_matches(workflow, n, err) for n in names):
        return strategy
    return None


def max_attempts(strategy: RetryDef) -> int | None:
    """Total attempts allowed, the first one included; None: unlimited.

    The spec reads both ways ("retry up to 4 times ... 10, 12, 14, and 16 seconds" for
    `maxAttempts: 4`); what settles it: the schema requires `maxAttempts >= 1`, and with
    `autoRetries` the spec's way to say "do not retry this action" is `maxAttempts: 1`
    ("DoNotRetryStrategy ... will not be retried"). So the first attempt counts; 0 (which
    the text calls "no retries") behaves as 1.
    """
    if strategy.max_attempts is None:
        return None
    return max(strategy.max_attempts, 1)


def _seconds(text: str | None) -> float:
    if not text:
        return 0.0
    try:
        return parse_duration(text).total_seconds()
    except DurationError as exc:
        raise WorkflowError(DATA_ERROR, str(exc)) from None


def next_delay(strategy: RetryDef, previous: float | None, rng: Random) -> float:
    """Seconds to wait before the next attempt (spec: Retry Definition, maxDelay example).

    The first delay is `delay`; each next one is the previous (jittered) delay times
    `multiplier` plus `increment`; jitter is added or subtracted; `maxDelay` caps the result.
    """
    if previous is None:
        base = _seconds(strategy.delay)
    else:
        base = previous * (strategy.multiplier or 1.0) + _seconds(strategy.increment)
    jitter = strategy.jitter
    if isinstance(jitter, int | float) and jitter:
        base += rng.uniform(-1.0, 1.0) * base * float(jitter)
    elif isinstance(jitter, str) and jitter:
        base += rng.uniform(-1.0, 1.0) * _seconds(jitter)
    if strategy.max_delay:
        base = min(base, _seconds(strategy.max_delay))
    return max(base, 0.0)


def as_timedelta(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)
