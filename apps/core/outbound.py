"""The outbound policy: what the platform may fetch or call on a user's behalf.

Every URL a definition, a form or a webhook names (definition parts, OpenAPI and GraphQL
documents, REST/GraphQL calls, OAuth token endpoints...) goes through `apps.core.http`, which
applies these rules:

- only `http` and `https` (file:, ftp:, gopher:, data:... are refused; files a definition may
  name are read by `apps.core.http.documents`, only inside XFLOW_RESOURCE_DIR);
- the host is resolved and *every* address it resolves to is checked: loopback, private
  (RFC 1918, fc00::/7, fec0::/10), link-local (169.254/16 where cloud metadata answers,
  fe80::/10), unspecified, multicast, shared (100.64/10), benchmarking, documentation and
  other reserved ranges are refused, and so are IPv6 forms that embed such an IPv4 address
  (IPv4-mapped, 6to4, Teredo, NAT64). Odd IPv4 spellings (`2130706433`, `0x7f.1`) are
  caught because the check is on what the resolver returns, not on the text;
- the connection then goes to one of the checked addresses (apps.core.http.transport), so a
  DNS answer that changes between the check and the connection cannot move the call;
- redirects are followed by hand, each hop checked again; responses are capped in size and
  time (XFLOW_OUTBOUND_MAX_RESPONSE_BYTES, XFLOW_OUTBOUND_TIMEOUT_SECONDS).

XFLOW_OUTBOUND_ALLOW (comma-separated) opens refused destinations, each entry one of:
`host` or `*.domain` (a name the operator trusts, whatever it resolves to), an IP address, a
CIDR network; any of them with `:port` to open only that port (`[::1]:8080` for IPv6).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from apps.core.http.errors import CallError, CallErrorCode

SETTING = "XFLOW_OUTBOUND_ALLOW"
SCHEMES = frozenset({"http", "https"})

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_LINK_LOCAL = "a link-local address (cloud metadata services answer there)"
_DOCUMENTATION = "a reserved (documentation) address"
_V4_REFUSED = [
    (ipaddress.IPv4Network(net), reason)
    for net, reason in (
        ("0.0.0.0/8", "an unspecified address"),
        ("10.0.0.0/8", "a private address"),
        ("100.64.0.0/10", "a shared (carrier-grade NAT) address"),
        ("127.0.0.0/8", "a loopback address"),
        ("169.254.0.0/16", _LINK_LOCAL),
        ("172.16.0.0/12", "a private address"),
        ("192.0.0.0/24", "a reserved (protocol assignments) address"),
        ("192.0.2.0/24", _DOCUMENTATION),
        ("192.88.99.0/24", "a reserved (6to4 relay) address"),
        ("192.168.0.0/16", "a private address"),
        ("198.18.0.0/15", "a reserved (benchmarking) address"),
        ("198.51.100.0/24", _DOCUMENTATION),
        ("203.0.113.0/24", _DOCUMENTATION),
        ("224.0.0.0/4", "a multicast address"),
        ("240.0.0.0/4", "a reserved address"),  # and 255.255.255.255, the broadcast address
    )
]
_V6_REFUSED = [
    (ipaddress.IPv6Network(net), reason)
    for net, reason in (
        ("::/128", "an unspecified address"),
        ("::1/128", "a loopback address"),
        ("64:ff9b:1::/48", "a private (local NAT64) address"),
        ("100::/64", "a reserved (discard) address"),
        ("2001:2::/48", "a reserved (benchmarking) address"),
        ("2001:db8::/32", _DOCUMENTATION),
        ("fc00::/7", "a private (unique local) address"),
        ("fe80::/10", "a link-local address"),
        ("fec0::/10", "a private (site-local) address"),
        ("ff00::/8", "a multicast address"),
    )
]
_V6_GLOBAL_UNICAST = ipaddress.IPv6Network("2000::/3")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HOST_NAME = re.compile(
    r"^(\*\.)?[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$"
)


class OutboundRefused(CallError):
    """A destination the policy refuses; the message names the setting that would allow it."""

    def __init__(self, target: str, reason: str, *, setting: str | None = SETTING) -> None:
        hint = f"; allow it with {setting}" if setting else ""
        super().__init__(CallErrorCode.OUTBOUND_REFUSED, f"{target} is refused: {reason}{hint}.")
        self.target = target
        self.reason = reason
        self.setting = setting

    def for_target(self, target: str) -> OutboundRefused:
        """The same refusal, naming what the caller asked for (a URL rather than host:port)."""
        return OutboundRefused(target, self.reason, setting=self.setting)


def refusal_reason(address: str | IPAddress) -> str | None:
    """Why the policy refuses this address by default, or None for a public address."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv4Address):
        return _v4_reason(ip)
    form, embedded = _embedded_v4(ip)
    if embedded is not None:
        inner = _v4_reason(embedded)
        if inner:
            return f"{form} of {embedded}, {inner}"
        if form in ("an IPv4-mapped form", "a NAT64 form"):
            return None  # reaches the public IPv4 address it carries
    for network, reason in _V6_REFUSED:
        if ip in network:
            return reason
    if ip not in _V6_GLOBAL_UNICAST:
        return "a reserved address"
    return None


def _v4_reason(ip: ipaddress.IPv4Address) -> str | None:
    for network, reason in _V4_REFUSED:
        if ip in network:
            return reason
    return None


def _embedded_v4(ip: ipaddress.IPv6Address) -> tuple[str, ipaddress.IPv4Address | None]:
    """An IPv4 address an IPv6 one carries (and reaches through a gateway), if any."""
    if ip.ipv4_mapped is not None:
        return "an IPv4-mapped form", ip.ipv4_mapped
    if ip in _NAT64:
        return "a NAT64 form", ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.sixtofour is not None:
        return "a 6to4 form", ip.sixtofour
    if ip.teredo is not None:
        server, client = ip.teredo
        return "a Teredo form", client if _v4_reason(client) else server
    if 1 < int(ip) < 2**32:  # ::a.b.c.d, the deprecated IPv4-compatible form
        return "an IPv4-compatible form", ipaddress.IPv4Address(int(ip))
    return "", None


# --------------------------------------------------------------------------------------------
# The allow-list
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AllowEntry:
    """One XFLOW_OUTBOUND_ALLOW entry: a host name (or *.domain) or a network, maybe a port."""

    text: str
    host: str | None = None
    network: ipaddress.IPv4Network | ipaddress.IPv6Network | None = None
    port: int | None = None

    def allows_host(self, host: str, port: int) -> bool:
        if self.host is None or (self.port is not None and self.port != port):
            return False
        if self.host.startswith("*."):
            return host.endswith(self.host[1:])
        return host == self.host

    def allows_address(self, ip: IPAddress, port: int) -> bool:
        if self.network is None or (self.port is not None and self.port != port):
            return False
        candidates = [ip]
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            candidates.append(ip.ipv4_mapped)
        return any(c.version == self.network.version and c in self.network for c in candidates)


def parse_entry(text: str) -> AllowEntry:
    """An allow-list entry from its text; ValueError names what is wrong."""
    raw = text.strip().lower()
    value, port = raw, None
    if raw.startswith("["):
        value, _, rest = raw[1:].partition("]")
        if rest:
            if not re.fullmatch(r":\d{1,5}", rest):
                raise ValueError(f"'{text}': after ']' only ':<port>' may follow")
            port = int(rest[1:])
    elif raw.count(":") == 1:
        value, _, port_text = raw.partition(":")
        if not port_text.isdigit():
            raise ValueError(f"'{text}': the port must be a number")
        port = int(port_text)
    if port is not None and not 0 < port < 65536:
        raise ValueError(f"'{text}': {port} is not a TCP port")
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        if not _HOST_NAME.match(value.rstrip(".")):
            raise ValueError(
                f"'{text}' is neither a host name, an IP address nor a CIDR network"
            ) from None
        return AllowEntry(text=text, host=value.rstrip("."), port=port)
    return AllowEntry(text=text, network=network, port=port)


@lru_cache(maxsize=8)
def _parse_all(entries: tuple[str, ...]) -> tuple[AllowEntry, ...]:
    try:
        return tuple(parse_entry(e) for e in entries if e.strip())
    except ValueError as exc:
        raise ImproperlyConfigured(f"{SETTING}: {exc}") from None


def allow_list() -> tuple[AllowEntry, ...]:
    """The parsed XFLOW_OUTBOUND_ALLOW (read on every use: tests override it per test)."""
    return _parse_all(tuple(getattr(settings, SETTING, None) or ()))


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def check_scheme(url: str) -> None:
    """Refuse anything but http(s); no setting opens other schemes."""
    scheme = urlsplit(str(url)).scheme.lower()
    if scheme not in SCHEMES:
        shown = f"'{scheme}:' URLs are" if scheme else "a URL without a scheme is"
        raise OutboundRefused(
            _short(str(url)), f"{shown} not fetched (only http and https)", setting=None
        )


def vet_addresses(host: str, port: int, addresses: list[str]) -> list[str]:
    """The addresses to connect to, once every one passed the policy; else OutboundRefused."""
    host = host.lower().rstrip(".")
    entries = allow_list()
    if any(e.allows_host(host, port) for e in entries):
        return addresses
    for address in addresses:
        ip = ipaddress.ip_address(address)
        reason = refusal_reason(ip)
        if reason is None or any(e.allows_address(ip, port) for e in entries):
            continue
        if _same_address(host, ip):
            raise OutboundRefused(f"{host}:{port}", f"{ip} is {reason}")
        raise OutboundRefused(f"{host}:{port}", f"{host} resolves to {ip}, {reason}")
    return addresses


def _same_address(host: str, ip: IPAddress) -> bool:
    try:
        return ipaddress.ip_address(host.strip("[]")) == ip
    except ValueError:
        return False


def resolve(host: str, port: int) -> list[str]:
    """Every address `host` resolves to (the system resolver; literals come back as they are)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _unique(info[4][0] for info in infos)


async def resolve_async(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return _unique(info[4][0] for info in infos)


def _unique(addresses) -> list[str]:
    seen: dict[str, None] = {}
    for address in addresses:
        seen.setdefault(str(address), None)
    return list(seen)


def _short(url: str, limit: int = 200) -> str:
    return url if len(url) <= limit else url[:limit] + "…"
