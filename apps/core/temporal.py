"""One Temporal client per process, usable from sync Django code.

Django views and services are synchronous; the Temporal SDK is asyncio. A single
background event loop thread owns the client (gRPC connections are expensive), and
`call()` runs a coroutine on it and waits for the result.
"""

from __future__ import annotations

import asyncio
import atexit
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from temporalio.client import Client, TLSConfig

from apps.core.codec import data_converter, payload_keys

T = TypeVar("T")

_lock = threading.Lock()
_loop: asyncio.AbstractEventLoop | None = None
_client: Client | None = None
_thread: threading.Thread | None = None


def queue_name(queue: str) -> str:
    """Task queues can be namespaced per deployment (TEMPORAL_QUEUE_PREFIX)."""
    return f"{settings.TEMPORAL_QUEUE_PREFIX}{queue}"


async def connect(address: str | None = None, namespace: str | None = None) -> Client:
    """A new client from settings (workers call this; web code uses `call`)."""
    tls: bool | TLSConfig = False
    if settings.TEMPORAL_TLS:
        tls = TLSConfig()
        if settings.TEMPORAL_TLS_CERT and settings.TEMPORAL_TLS_KEY:
            with (
                open(settings.TEMPORAL_TLS_CERT, "rb") as c,
                open(settings.TEMPORAL_TLS_KEY, "rb") as k,
            ):
                tls = TLSConfig(client_cert=c.read(), client_private_key=k.read())
    return await Client.connect(
        address or settings.TEMPORAL_ADDRESS,
        namespace=namespace or settings.TEMPORAL_NAMESPACE,
        tls=tls,
        api_key=settings.TEMPORAL_API_KEY,
        data_converter=data_converter(payload_keys()),
    )


def _ensure_loop() -> asyncio.AbstractEventLoop:
    global _loop, _thread
    with _lock:
        if _loop is None or _loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(target=loop.run_forever, name="temporal-client", daemon=True)
            thread.start()
            _loop, _thread = loop, thread
        return _loop


@atexit.register
def shutdown() -> None:
    """Stop the client's loop before the interpreter finalizes.

    Left running, the SDK's native threads may hand a result back to Python while the
    interpreter is being torn down, which aborts the process (`PyGILState_Release ...
    finalizing`) even though the command itself succeeded.
    """
    global _loop, _thread, _client
    with _lock:
        loop, thread, _loop, _thread, _client = _loop, _thread, None, None, None
    if loop is None or loop.is_closed():
        return

    async def drain() -> None:
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    try:
        asyncio.run_coroutine_threadsafe(drain(), loop).result(timeout=5)
    except Exception:  # noqa: BLE001 - best effort at exit
        pass
    loop.call_soon_threadsafe(loop.stop)
    if thread is not None:
        thread.join(timeout=5)
    if not loop.is_running():
        loop.close()
    import gc

    gc.collect()  # the dropped client's native handles are released while Python still runs


def call(fn: Callable[[Client], Awaitable[T]], timeout: float = 30.0) -> T:
    """Run `fn(client)` on the shared loop; reconnects once if the client was never made."""

    async def runner() -> T:
        global _client
        if _client is None:
            _client = await asyncio.wait_for(connect(), timeout=timeout)
        return await fn(_client)

    future: Future = asyncio.run_coroutine_threadsafe(runner(), _ensure_loop())
    return future.result(timeout=timeout)


def reset() -> None:
    """Forget the client (tests pointing at another server, or after settings change)."""
    global _client
    _client = None


def describe_cluster(timeout: float = 2.0) -> dict[str, Any]:
    """Ask the server for its system info with a fresh connection (readiness probe)."""

    async def probe() -> dict[str, Any]:
        client = await asyncio.wait_for(connect(), timeout=timeout)
        from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

        info = await client.workflow_service.get_system_info(
            GetSystemInfoRequest(), timeout=timedelta(seconds=timeout)
        )
        return {"server_version": info.server_version}

    future: Future = asyncio.run_coroutine_threadsafe(probe(), _ensure_loop())
    return future.result(timeout=timeout + 1)


async def ensure_search_attributes_on(client: Client, namespace: str | None = None) -> list[str]:
    """Add whichever of xflow's search attributes the namespace lacks; return their names.

    Idempotent: lists the namespace's attributes through the operator service first. On a
    real cluster whose operator API is not open to xflow, an operator creates them once
    (`temporal operator search-attribute create`, see the README) and this finds them there.
    """
    from temporalio.api.enums.v1 import IndexedValueType
    from temporalio.api.operatorservice.v1 import (
        AddSearchAttributesRequest,
        ListSearchAttributesRequest,
    )

    from apps.core.search_attributes import ALL

    namespace = namespace or client.namespace
    listed = await client.operator_service.list_search_attributes(
        ListSearchAttributesRequest(namespace=namespace)
    )
    known = {**listed.system_attributes, **listed.custom_attributes}
    clashing = [
        key.name
        for key in ALL
        if key.name in known and known[key.name] != IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD
    ]
    if clashing:
        raise RuntimeError(
            f"search attribute(s) {', '.join(clashing)} exist with another type than Keyword"
        )
    missing = [key for key in ALL if key.name not in known]
    if missing:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(
                namespace=namespace,
                search_attributes={
                    key.name: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD for key in missing
                },
            )
        )
    return [key.name for key in missing]


def ensure_search_attributes(timeout: float = 30.0) -> list[str]:
    """ensure_search_attributes_on() with the shared client; the names it added."""
    return call(ensure_search_attributes_on, timeout=timeout)
