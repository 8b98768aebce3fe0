"""A local HTTP(S) service for the outbound-policy tests: records hits, redirects, misbehaves.

Routes: `/ok` (JSON, echoes the Host header), `/redirect?to=URL` (302), `/loop` (redirects to
itself), `/endless` (a body that never ends), `/trickle` (one byte every 0.1 s),
`/html` (an HTML page holding a secret), `/broken-json` (invalid JSON holding a secret),
`/missing` (404 with a secret in the body).
"""

from __future__ import annotations

import asyncio
import datetime
import json
import ssl
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

SECRET = "SECRET-3f9a1c"


@dataclass
class Seen:
    hits: list[dict[str, Any]] = field(default_factory=list)
    disconnected: threading.Event = field(default_factory=threading.Event)


class _Handler(BaseHTTPRequestHandler):
    seen: Seen
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        self.seen.hits.append({"path": url.path, "headers": dict(self.headers.items())})
        route = getattr(self, "_" + url.path.strip("/").replace("-", "_"), None)
        if route is None:
            return self._reply(404, "application/json", json.dumps({"secret": SECRET}))
        route(parse_qs(url.query))

    do_POST = do_GET

    def _reply(self, status: int, content_type: str, text: str, **headers: str) -> None:
        raw = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def _ok(self, query: dict) -> None:
        self._reply(200, "application/json", json.dumps({"host": self.headers.get("Host")}))

    def _redirect(self, query: dict) -> None:
        self._reply(302, "text/plain", "", Location=query["to"][0])

    def _loop(self, query: dict) -> None:
        self._reply(302, "text/plain", "", Location="/loop")

    def _html(self, query: dict) -> None:
        self._reply(200, "text/html", f"<html><body>{SECRET}</body></html>")

    def _broken_json(self, query: dict) -> None:
        self._reply(200, "application/json", '{"token": "' + SECRET)

    def _endless(self, query: dict) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"x" * 8192
        try:
            while True:
                self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except OSError:  # the client stopped reading and closed
            self.seen.disconnected.set()
            self.close_connection = True

    def _trickle(self, query: dict) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "100000")
        self.end_headers()
        try:
            for _ in range(100000):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.1)
        except OSError:
            self.seen.disconnected.set()
            self.close_connection = True


class LocalService:
    """A threaded server on 127.0.0.1 (optionally TLS); `port`, `url(path)`, `seen`."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.seen = Seen()
        handler = type("Handler", (_Handler,), {"seen": self.seen})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.scheme = "https" if tls else "http"
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def url(self, path: str = "/ok", host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def self_signed(name: str, directory: Path) -> tuple[Path, Path]:
    """A certificate for `name` (and nothing else) and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def fetch(url: str, *, timeout: float = 5.0, **kwargs: Any):
    """GET `url` through the platform's client; returns the HttpResponse or raises CallError."""
    from apps.core.http.client import HttpRequest, new_client, send

    async def go():
        async with new_client(timeout) as client:
            return await send(client, HttpRequest("GET", url), timeout=timeout, **kwargs)

    return asyncio.run(go())
