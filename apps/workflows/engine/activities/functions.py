"""The `xflow.call_function` activity: rest, graphql and `xflow:` custom functions."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from temporalio import activity

from apps.core.http.auth import authenticator_for
from apps.core.http.client import default_timeout, new_client
from apps.core.http.errors import CallError
from apps.workflows.engine.contracts import ACT_CALL_FUNCTION, FunctionCall

from .builtins import PREFIX as BUILTIN_PREFIX
from .builtins import call_builtin
from .errors import ErrorCode, FunctionError, application_error
from .graphql import call_graphql
from .rest import call_rest

logger = logging.getLogger("xflow.workflows.functions")

# Temporal refuses payloads over 2 MB by default; fail with a clear code before that happens.
MAX_RESULT_BYTES = 2_000_000 - 64 * 1024
# The call site sets a heartbeat timeout of a few of these: a worker that dies mid-call is
# noticed in seconds, and the call is retried elsewhere (with the same idempotency key).
HEARTBEAT_SECONDS = 2.0


@activity.defn(name=ACT_CALL_FUNCTION)
async def call_function(call: FunctionCall) -> Any:
    """Perform one function call; business failures raise a non-retryable FunctionError."""
    try:
        result = await _heartbeating(perform(call))
        _check_result_size(result, call)
        return result
    except CallError as exc:
        from apps.workflows.masking import masked_log_args  # the store lives in the database

        logger.warning(
            "function %r of instance %s (state %s) failed: %s %s",
            *await masked_log_args(
                call.instance_id,
                call.function.get("name"),
                call.instance_id,
                call.state,
                exc.code,
                exc.message,
            ),
        )
        raise application_error(exc) from None


async def _heartbeating(work: Any) -> Any:
    """Await `work`, heartbeating every HEARTBEAT_SECONDS while it runs."""

    async def beat() -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            activity.heartbeat()

    beater = asyncio.create_task(beat())
    try:
        return await work
    finally:
        beater.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beater


async def perform(call: FunctionCall) -> Any:
    """Dispatch on the function type; raises FunctionError (or CallError from the HTTP layer)."""
    function = call.function or {}
    kind = str(function.get("type") or "rest").lower()
    operation = function.get("operation")
    if kind == "custom":
        if isinstance(operation, str) and operation.startswith(BUILTIN_PREFIX):
            return await call_builtin(operation, call)
        raise FunctionError(
            ErrorCode.UNKNOWN_FUNCTION,
            f"The custom operation '{operation}' is not run by {ACT_CALL_FUNCTION}; only "
            f"'{BUILTIN_PREFIX}...' built-ins are (other prefixes go to their own worker).",
        )
    if kind not in ("rest", "graphql"):
        raise FunctionError(
            ErrorCode.UNSUPPORTED_FUNCTION_TYPE,
            f"Function '{function.get('name')}' has type '{kind}', which xflow does not call "
            "(supported: rest, graphql, custom 'xflow:' built-ins; expression runs in the engine).",
        )
    arguments = call.arguments if call.arguments is not None else {}
    timeout = call.timeout_seconds or default_timeout()
    auth = authenticator_for(call.auth)
    key = call.idempotency_key
    try:
        # One deadline for everything the call needs: token, OpenAPI document, redirects, retry.
        async with asyncio.timeout(timeout), new_client(timeout) as client:
            if kind == "graphql":
                return await call_graphql(
                    client, function, arguments, call.selection_set, auth, key
                )
            return await call_rest(client, function, arguments, auth, key)
    except TimeoutError as exc:
        raise FunctionError(
            ErrorCode.TIMEOUT,
            f"Function '{function.get('name')}' did not complete within {timeout:g} s.",
        ) from exc


def _check_result_size(result: Any, call: FunctionCall) -> None:
    size = len(json.dumps(result, ensure_ascii=False, default=str).encode())
    if size > MAX_RESULT_BYTES:
        raise FunctionError(
            ErrorCode.RESULT_TOO_LARGE,
            f"The result of function '{call.function.get('name')}' is {size // 1024} KiB; "
            f"a workflow step can carry at most {MAX_RESULT_BYTES // 1024} KiB.",
        )
