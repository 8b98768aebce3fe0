"""The outbound policy on the platform's HTTP client: ranges, spellings, DNS, redirects, caps.

Every request goes through the real client (`apps.core.http.client.send`) to a real local
server that records what reached it: a refusal must leave it untouched, and the same URL
allowed explicitly must reach it (so a refusal is the policy, not a failed connection).
"""

from __future__ import annotations

import ssl

import pytest
from django.core.exceptions import ImproperlyConfigured

from apps.core import outbound
from apps.core.checks import check_outbound_settings
from apps.core.http import transport
from apps.core.http.documents import fetch_document_sync
from apps.core.http.errors import CallError

from .outbound_service import SECRET, LocalService, fetch, self_signed

ALLOW_HINT = "allow it with XFLOW_OUTBOUND_ALLOW"


@pytest.fixture
def local():
    service = LocalService()
    yield service
    service.close()


def refused(url: str, **kwargs) -> CallError:
    with pytest.raises(CallError) as info:
        fetch(url, **kwargs)
    assert info.value.code == "OutboundRefused", info.value.message
    return info.value


# --------------------------------------------------------------------------------------------
# Address classes
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "reason"),
    [
        ("127.0.0.1", "loopback"),
        ("127.255.255.254", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("172.31.255.255", "private"),
        ("192.168.1.1", "private"),
        ("fc00::1", "private"),
        ("fd12:3456::1", "private"),
        ("fec0::1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("fe80::1%1", "link-local"),
        ("0.0.0.0", "unspecified"),
        ("0.1.2.3", "unspecified"),
        ("::", "unspecified"),
        ("224.0.0.1", "multicast"),
        ("239.255.255.250", "multicast"),
        ("ff02::1", "multicast"),
        ("100.64.0.1", "carrier-grade NAT"),
        ("198.18.0.1", "benchmarking"),
        ("192.0.2.1", "documentation"),
        ("2001:db8::1", "documentation"),
        ("240.0.0.1", "reserved"),
        ("255.255.255.255", "reserved"),
        ("192.0.0.8", "reserved"),
        ("100::1", "reserved"),
        ("::ffff:127.0.0.1", "IPv4-mapped form of 127.0.0.1, a loopback"),
        ("::ffff:169.254.169.254", "IPv4-mapped form of 169.254.169.254, a link-local"),
        ("::127.0.0.1", "IPv4-compatible form of 127.0.0.1"),
        ("::10.0.0.1", "IPv4-compatible form of 10.0.0.1, a private"),
        ("64:ff9b::a9fe:a9fe", "NAT64 form of 169.254.169.254"),
        ("2002:7f00:1::", "6to4 form of 127.0.0.1"),
        ("2002:a00:1::", "6to4 form of 10.0.0.1"),
        ("2001:0:4136:e378:8000:63bf:80ff:fffe", "Teredo form of 127.0.0.1"),
        ("::ffff:0:7f00:1", "reserved"),  # SIIT IPv4-translated: outside global unicast
    ],
)
def test_each_refused_address_class_is_named(address, reason):
    assert reason in (outbound.refusal_reason(address) or "public")


@pytest.mark.parametrize(
    "address",
    ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"],
)
def test_public_addresses_pass(address):
    assert outbound.refusal_reason(address) is None


# --------------------------------------------------------------------------------------------
# Spellings, user-info and DNS names of loopback: refused before any connection
# --------------------------------------------------------------------------------------------

SPELLINGS = [
    "http://127.0.0.1:{port}/ok",
    "http://2130706433:{port}/ok",  # decimal
    "http://0x7f.1:{port}/ok",  # hex, short form
    "http://0x7f000001:{port}/ok",
    "http://017700000001:{port}/ok",  # octal
    "http://127.1:{port}/ok",
    "http://example.com@127.0.0.1:{port}/ok",  # user-info: the host is 127.0.0.1
    "http://example.com:80@127.0.0.1:{port}/ok",
    "http://localhost:{port}/ok",  # a DNS name resolving to loopback
    "http://LOCALHOST:{port}/ok",
    "http://[::ffff:127.0.0.1]:{port}/ok",
    "http://[::ffff:7f00:1]:{port}/ok",
]


@pytest.mark.parametrize("template", SPELLINGS)
def test_loopback_in_any_spelling_is_refused_and_never_reached(local, template):
    # Given a live server on 127.0.0.1 that nothing allows
    url = template.format(port=local.port)

    # When the platform is asked to fetch it, however the address is written
    error = refused(url)

    # Then the refusal names the address class and the setting, and nothing reached the server
    assert "loopback" in error.message and ALLOW_HINT in error.message
    assert local.seen.hits == []


def test_a_dotted_octal_address_is_rejected_by_the_url_parser(local):
    # httpx refuses leading zeros in a dotted quad outright (some resolvers read them octal)
    with pytest.raises(CallError) as info:
        fetch(f"http://0177.0.0.1:{local.port}/ok")

    assert info.value.code == "InvalidURL"
    assert local.seen.hits == []


@pytest.mark.parametrize(
    ("template", "entry"),
    [
        ("http://2130706433:{port}/ok", "127.0.0.1:{port}"),
        ("http://0x7f.1:{port}/ok", "127.0.0.0/8"),
        ("http://example.com@127.0.0.1:{port}/ok", "127.0.0.1"),
        ("http://localhost:{port}/ok", "localhost:{port}"),
    ],
)
def test_the_same_destinations_are_reached_once_allowed(local, allow_outbound, template, entry):
    # Given the allow-list naming the local server
    allow_outbound(entry.format(port=local.port))

    # When fetched
    response = fetch(template.format(port=local.port))

    # Then the request arrived: the refusals above were the policy, not a dead server
    assert response.status == 200
    assert len(local.seen.hits) == 1


def test_an_allowed_port_opens_only_that_port(local, allow_outbound):
    allow_outbound(f"127.0.0.1:{local.port}")

    assert fetch(local.url()).status == 200
    error = refused("http://127.0.0.1:5432/")

    assert error.message == (
        "http://127.0.0.1:5432/ is refused: 127.0.0.1 is a loopback address; " + ALLOW_HINT + "."
    )


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "FILE:///etc/passwd",
        "ftp://127.0.0.1/",
        "gopher://127.0.0.1:6379/_INFO",
        "dict://127.0.0.1:6379/info",
        "data:text/plain,hello",
        "javascript:alert(1)",
        "/relative/path",
    ],
)
def test_schemes_other_than_http_are_refused_and_no_setting_opens_them(url, allow_outbound):
    allow_outbound("127.0.0.0/8")

    error = refused(url)

    assert "only http and https" in error.message
    assert "XFLOW_OUTBOUND_ALLOW" not in error.message


# --------------------------------------------------------------------------------------------
# Allow-list entries
# --------------------------------------------------------------------------------------------


def test_allow_list_entries_open_exactly_what_they_name(settings):
    settings.XFLOW_OUTBOUND_ALLOW = [
        "10.0.0.0/8",
        "192.168.1.5:8443",
        "[fd00::1]:9000",
        "*.corp.example",
        "registry.internal:5000",
    ]
    vet = outbound.vet_addresses

    assert vet("a", 1, ["10.9.8.7"]) == ["10.9.8.7"]
    assert vet("b", 8443, ["192.168.1.5"]) == ["192.168.1.5"]
    assert vet("c", 9000, ["fd00::1"]) == ["fd00::1"]
    assert vet("api.corp.example", 443, ["172.16.0.9"]) == ["172.16.0.9"]
    assert vet("registry.internal", 5000, ["127.0.0.1"]) == ["127.0.0.1"]
    for host, port, address in [
        ("b", 8444, "192.168.1.5"),  # another port
        ("c", 9001, "fd00::1"),
        ("corp.example", 443, "172.16.0.9"),  # the wildcard names subdomains only
        ("evilcorp.example", 443, "172.16.0.9"),
        ("registry.internal", 5001, "127.0.0.1"),
        ("d", 80, "172.16.0.1"),  # a private address nothing names
    ]:
        with pytest.raises(outbound.OutboundRefused):
            vet(host, port, [address])


def test_every_resolved_address_is_checked(settings):
    # Given a name resolving to a public and a loopback address (a DNS answer we cannot trust)
    settings.XFLOW_OUTBOUND_ALLOW = []

    # Then one refused address refuses the destination
    with pytest.raises(outbound.OutboundRefused) as info:
        outbound.vet_addresses("mixed.example", 443, ["93.184.216.34", "127.0.0.1"])
    assert "mixed.example resolves to 127.0.0.1, a loopback address" in info.value.message


def test_invalid_allow_list_entries_are_reported(settings):
    settings.XFLOW_OUTBOUND_ALLOW = ["10.0.0.0/33", "bad host", "127.0.0.1:99999", "[::1]x"]

    errors = check_outbound_settings()

    assert [e.id for e in errors] == ["xflow.E020"] * 4
    with pytest.raises(ImproperlyConfigured, match="XFLOW_OUTBOUND_ALLOW"):
        outbound.vet_addresses("x", 80, ["127.0.0.1"])


# --------------------------------------------------------------------------------------------
# The connection goes where the check looked
# --------------------------------------------------------------------------------------------


def _pin(monkeypatch, name: str, address: str) -> list[str]:
    """Make `name` resolve to `address`, counting lookups (no DNS server can be run here)."""
    lookups: list[str] = []
    real = outbound.resolve_async

    async def resolve(host: str, port: int) -> list[str]:
        if host == name:
            lookups.append(host)
            return [address]
        return await real(host, port)

    monkeypatch.setattr(outbound, "resolve_async", resolve)
    return lookups


def test_the_connection_goes_to_the_vetted_address_with_the_host_header_kept(
    local, allow_outbound, monkeypatch
):
    # Given a name that resolves to the (allowed) local server
    lookups = _pin(monkeypatch, "svc.example", "127.0.0.1")
    allow_outbound(f"127.0.0.1:{local.port}")

    # When fetched by name
    response = fetch(local.url(host="svc.example"))

    # Then one lookup decided both the check and the connection, and the name went along
    assert response.body == {"host": f"svc.example:{local.port}"}
    assert lookups == ["svc.example"]


def test_a_name_resolving_to_a_refused_address_is_refused(local, monkeypatch):
    _pin(monkeypatch, "rebound.example", "127.0.0.1")

    error = refused(local.url(host="rebound.example"))

    assert "rebound.example resolves to 127.0.0.1, a loopback address" in error.message
    assert local.seen.hits == []


def test_tls_is_verified_for_the_name_while_connecting_to_the_vetted_address(
    tmp_path, allow_outbound, monkeypatch
):
    # Given an HTTPS server on 127.0.0.1 whose certificate names only secure.example
    cert, key = self_signed("secure.example", tmp_path)
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    service = LocalService(tls=server_tls)
    trusting = ssl.create_default_context(cafile=str(cert))
    monkeypatch.setattr(transport, "_ssl_context", lambda: trusting)
    _pin(monkeypatch, "secure.example", "127.0.0.1")
    allow_outbound(f"127.0.0.1:{service.port}")
    try:
        # When fetched by its name, the certificate matches (SNI and verification use it)
        assert fetch(service.url(host="secure.example")).status == 200

        # And by the address itself, verification fails: the name, not the IP, is checked
        with pytest.raises(CallError) as info:
            fetch(service.url(host="127.0.0.1"))
        assert info.value.code == "ConnectionError"
    finally:
        service.close()


# --------------------------------------------------------------------------------------------
# Redirects
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("http://127.0.0.1:5432/", "127.0.0.1 is a loopback address"),
        ("http://169.254.169.254/latest/meta-data/", "a link-local address"),
        ("http://localhost:6379/", "localhost resolves to"),
    ],
)
def test_a_redirect_from_an_allowed_server_to_a_refused_address_is_not_followed(
    local, allow_outbound, target, reason
):
    # Given an allowed server that redirects to an internal address
    allow_outbound(f"127.0.0.1:{local.port}")

    # When fetched
    error = refused(local.url(f"/redirect?to={target}"))

    # Then the hop is refused, naming where it led
    assert error.message.startswith(f"{target.split('?')[0]} is refused: ")
    assert reason in error.message
    assert [h["path"] for h in local.seen.hits] == ["/redirect"]


def test_redirects_stop_after_the_hop_limit(local, allow_outbound):
    allow_outbound(f"127.0.0.1:{local.port}")

    with pytest.raises(CallError) as info:
        fetch(local.url("/loop"))

    assert info.value.code == "RedirectRefused"
    assert len(local.seen.hits) == 6  # the first request and five redirects


# --------------------------------------------------------------------------------------------
# Size and time caps
# --------------------------------------------------------------------------------------------


def test_an_endless_answer_is_cut_at_the_size_cap(local, allow_outbound, settings):
    # Given a 64 KiB cap and a server that never stops sending
    allow_outbound(f"127.0.0.1:{local.port}")
    settings.XFLOW_OUTBOUND_MAX_RESPONSE_BYTES = 64 * 1024

    # When fetched with a generous time cap
    with pytest.raises(CallError) as info:
        fetch(local.url("/endless"), timeout=20)

    # Then reading stopped at the cap (not at the time cap) and the connection was dropped
    assert info.value.code == "ResponseTooLarge"
    assert "64 KiB" in info.value.message
    assert local.seen.disconnected.wait(10)


def test_a_trickling_answer_is_cut_at_the_time_cap(local, allow_outbound):
    # Given a server sending one byte every 0.1 s (no single read ever times out)
    allow_outbound(f"127.0.0.1:{local.port}")

    # When fetched with a 1 s cap
    with pytest.raises(CallError) as info:
        fetch(local.url("/trickle"), timeout=1)

    # Then the whole exchange was cut at 1 s
    assert info.value.code == "Timeout"
    assert "1 s" in info.value.message


# --------------------------------------------------------------------------------------------
# Documents: files only inside XFLOW_RESOURCE_DIR, answers never echoed
# --------------------------------------------------------------------------------------------


def test_files_are_read_only_inside_the_resource_directory(tmp_path, settings):
    # Given a resource directory, a file outside it and a symlink leading out
    resources = tmp_path / "resources"
    resources.mkdir()
    (resources / "consts.json").write_text('{"a": 1}')
    (tmp_path / "outside.json").write_text('{"secret": 1}')
    (resources / "link.json").symlink_to(tmp_path / "outside.json")
    settings.XFLOW_RESOURCE_DIR = str(resources)

    # Then names inside it are read, in the spec's relative form, as a path, or absolute
    assert fetch_document_sync("file://consts.json", what="constants") == {"a": 1}
    assert fetch_document_sync("consts.json", what="constants") == {"a": 1}
    assert fetch_document_sync((resources / "consts.json").as_uri(), what="constants") == {"a": 1}

    # And nothing outside it is
    for uri in [
        "file:///etc/passwd",
        "/etc/passwd",
        "file://../outside.json",
        "../outside.json",
        "file://consts.json/../../outside.json",
        (tmp_path / "outside.json").as_uri(),
        "file://link.json",
    ]:
        with pytest.raises(outbound.OutboundRefused, match="outside XFLOW_RESOURCE_DIR"):
            fetch_document_sync(uri, what="constants")


def test_no_file_is_read_without_a_resource_directory(settings):
    settings.XFLOW_RESOURCE_DIR = None

    with pytest.raises(outbound.OutboundRefused) as info:
        fetch_document_sync("file://petstore.json", what="OpenAPI document")

    assert "XFLOW_RESOURCE_DIR" in info.value.message and "not set" in info.value.message


@pytest.mark.parametrize(
    ("path", "said"),
    [
        ("/html", "200 text/html"),
        ("/broken-json", "not valid JSON"),
        ("/missing", "answered 404 (application/json)"),
    ],
)
def test_a_document_that_cannot_be_used_is_described_never_echoed(
    local, allow_outbound, path, said
):
    allow_outbound(f"127.0.0.1:{local.port}")

    with pytest.raises(CallError) as info:
        fetch_document_sync(local.url(path), what="constants")

    assert said in info.value.message
    assert SECRET not in info.value.message and info.value.body is None
