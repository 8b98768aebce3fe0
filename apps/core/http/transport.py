"""The connection layer of outbound HTTP: resolve, vet every address, connect to a vetted one.

Checking a URL's host and then letting the HTTP library resolve it again leaves a window
(DNS rebinding: the second answer may be 127.0.0.1). Here the check happens where the socket
is opened: httpcore asks this backend for a TCP connection to (host, port); the backend
resolves the name once, refuses the connection unless every address passes the outbound
policy, and connects to those addresses. TLS is unchanged: httpcore still sends SNI and
verifies the certificate for the host name of the URL, and the Host header is the URL's.
"""

from __future__ import annotations

import ssl
import typing
from functools import lru_cache

import httpcore
import httpx

from apps.core import outbound

USER_AGENT = "xflow"


class VettingBackend(httpcore.AsyncNetworkBackend):
    """An httpcore network backend that connects only to addresses the policy allows."""

    def __init__(self) -> None:
        self._inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await outbound.resolve_async(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"{host} could not be resolved ({exc})") from exc
        addresses = outbound.vet_addresses(host, port, addresses)
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(
                    address,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(self, *args: typing.Any, **kwargs: typing.Any) -> typing.NoReturn:
        raise httpcore.ConnectError("unix sockets are not an outbound destination")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class VettingTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with its connection pool on the VettingBackend."""

    def __init__(self, *, verify: ssl.SSLContext) -> None:
        super().__init__(verify=verify, trust_env=False)
        # httpx exposes no argument for the network backend: the pool is replaced with one
        # built alike. tests/security/test_outbound_policy.py fails if this stops applying.
        limits = httpx.Limits()  # httpx's defaults
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=verify,
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=VettingBackend(),
        )


@lru_cache(maxsize=1)
def _ssl_context() -> ssl.SSLContext:
    # Loading the CA bundle costs milliseconds; a client is made per call, the context once.
    return httpx.create_ssl_context()


def new_client(timeout: float) -> httpx.AsyncClient:
    """A client for one call (clients are bound to an event loop, so none is global)."""
    # No proxies from the environment (trust_env=False): the policy must see the destination.
    return httpx.AsyncClient(
        transport=VettingTransport(verify=_ssl_context()),
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,  # followed by hand in `client.send`, each hop checked
        headers={"User-Agent": USER_AGENT},
        trust_env=False,
    )
