"""Temporal activities of the engine queue that perform function calls.

Module map: `functions` (the `xflow.call_function` activity and dispatch), `rest` (OpenAPI
and inline REST calls, the Idempotency-Key header), `graphql`, `builtins` (`xflow:`
functions), `errors` (codes and FunctionError). The HTTP infrastructure they use (client,
outbound policy, auth, OpenAPI documents) is in apps.core.http and apps.core.outbound.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from apps.core.http.auth import clear_token_cache
from apps.core.http.openapi import clear_document_cache

from .builtins import BUILTINS, describe_builtins
from .errors import ErrorCode, FunctionError
from .functions import call_function

__all__ = [
    "BUILTINS",
    "ErrorCode",
    "FunctionError",
    "call_function",
    "clear_caches",
    "describe_builtins",
    "function_activities",
]


def function_activities() -> list[Callable[..., Any]]:
    """The activities to register on the engine queue (QUEUE_ENGINE)."""
    return [call_function]


def clear_caches() -> None:
    """Forget cached OpenAPI documents and OAuth2 tokens (tests, or after a credential change)."""
    clear_document_cache()
    clear_token_cache()
