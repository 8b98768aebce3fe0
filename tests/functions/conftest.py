"""A real local HTTP service (OpenAPI documents, REST, GraphQL, OAuth2) and an activity runner."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from apps.workflows.engine.activities import call_function, clear_caches
from apps.workflows.engine.contracts import FUNCTION_ERROR, FunctionCall

CLIENT_ID, CLIENT_SECRET = "app", "app-secret"
BASIC_USER, BASIC_PASSWORD = "ann", "s3cret"
STATIC_TOKEN = "static-token"


@dataclass
class ServiceState:
    """What the fake service saw, and what it accepts; reset before each test."""

    requests: list[dict[str, Any]] = field(default_factory=list)
    document_fetches: int = 0
    token_calls: int = 0
    token_forms: list[dict[str, list[str]]] = field(default_factory=list)
    valid_tokens: set[str] = field(default_factory=lambda: {STATIC_TOKEN})
    graphql_queries: list[str] = field(default_factory=list)
    graphql_headers: list[dict[str, str]] = field(default_factory=list)


def openapi_document(server_url: str = "/{base}") -> dict[str, Any]:
    ops = {
        f"/{name}": {"get": {"operationId": name}}
        for name in ("slow", "text", "big", "redirect", "redirect-https", "secure", "secure-basic")
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "pets", "version": "1"},
        "servers": [{"url": server_url, "variables": {"base": {"default": "api"}}}],
        "paths": {
            "/pets/{petId}": {
                "parameters": [{"$ref": "#/components/parameters/PetId"}],
                "get": {
                    "operationId": "getPet",
                    "parameters": [
                        {"name": "fields", "in": "query", "schema": {"type": "array"}},
                        {"name": "X-Tenant", "in": "header", "required": True},
                        {"name": "session", "in": "cookie"},
                    ],
                },
                "put": {
                    "operationId": "updatePet",
                    "requestBody": {"required": True, "content": {"application/json": {}}},
                },
            },
            "/pets": {
                "post": {
                    "operationId": "createPet",
                    "parameters": [{"name": "dryRun", "in": "query"}],
                    "requestBody": {"$ref": "#/components/requestBodies/Pet"},
                }
            },
            "/status/{code}": {"get": {"operationId": "status"}},
            **ops,
        },
        "components": {
            "parameters": {"PetId": {"name": "petId", "in": "path", "required": True}},
            "requestBodies": {"Pet": {"required": True, "content": {"application/json": {}}}},
        },
    }


def swagger_document(host: str) -> dict[str, Any]:
    return {
        "swagger": "2.0",
        "info": {"title": "pets", "version": "1"},
        "host": host,
        "basePath": "/api",
        "schemes": ["http"],
        "paths": {
            "/pets/{petId}": {
                "post": {
                    "operationId": "renamePet",
                    "parameters": [
                        {"name": "petId", "in": "path", "required": True, "type": "integer"},
                        {"name": "tags", "in": "query", "type": "array", "collectionFormat": "csv"},
                        {"name": "pet", "in": "body", "required": True, "schema": {}},
                    ],
                }
            }
        },
    }


class _Handler(BaseHTTPRequestHandler):
    state: ServiceState
    base_url: str

    def log_message(self, format: str, *args: Any) -> None:  # keep pytest output clean
        pass

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_PUT(self) -> None:
        self._dispatch()

    def _send(self, status: int, body: Any, content_type: str = "application/json", **headers):
        if isinstance(body, bytes):
            raw = body
        elif content_type == "application/json":
            raw = json.dumps(body).encode()
        else:
            raw = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        self.wfile.write(raw)

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        path, state = url.path, self.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path == "/openapi.json":
            state.document_fetches += 1
            return self._send(200, openapi_document())
        if path == "/openapi.yaml":
            return self._send(200, yaml.safe_dump(openapi_document()), "application/yaml")
        if path == "/swagger.json":
            return self._send(200, swagger_document(urlsplit(self.base_url).netloc))
        if path == "/broken.json":
            return self._send(200, b"{not json", "application/json")
        if path == "/not-openapi.json":
            return self._send(200, {"hello": "world"})
        if path == "/.well-known/openid-configuration":
            return self._send(200, {"token_endpoint": self.base_url + "/oauth/token"})
        if path == "/oauth/token":
            return self._token(raw)
        if path == "/graphql":
            return self._graphql(raw)
        self._api(path, url.query, raw)

    def _api(self, path: str, query: str, raw: bytes) -> None:
        content_type = self.headers.get("Content-Type", "")
        body: Any = raw.decode() if raw else None
        if raw and "json" in content_type:
            body = json.loads(raw)
        seen = {
            "method": self.command,
            "path": path,
            "query": parse_qs(query),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": body,
        }
        self.state.requests.append(seen)
        auth = self.headers.get("Authorization", "")
        if m := re.fullmatch(r"/api/status/(\d+)", path):
            return self._send(int(m.group(1)), {"error": "as you asked"})
        if path == "/api/slow":
            time.sleep(2)
        elif path == "/api/text":
            return self._send(200, "hello, text", "text/plain; charset=utf-8")
        elif path == "/api/big":
            return self._send(200, {"data": "x" * 64 * 1024})
        elif path == "/api/redirect":
            return self._send(302, {}, Location="/api/pets/7")
        elif path == "/api/redirect-https":
            return self._send(302, {}, Location=self.base_url.replace("http:", "https:") + "/x")
        elif path == "/api/secure":
            if auth.removeprefix("Bearer ") not in self.state.valid_tokens:
                return self._send(401, {"error": "invalid token"})
        elif path == "/api/secure-basic":
            expected = base64.b64encode(f"{BASIC_USER}:{BASIC_PASSWORD}".encode()).decode()
            if auth != f"Basic {expected}":
                return self._send(401, {"error": "who are you"})
        self._send(200, seen)

    def _token(self, raw: bytes) -> None:
        form = parse_qs(raw.decode())
        self.state.token_forms.append(form)
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        client_ok = self.headers.get("Authorization") == f"Basic {expected}" or (
            form.get("client_id") == [CLIENT_ID] and form.get("client_secret") == [CLIENT_SECRET]
        )
        if not client_ok:
            return self._send(401, {"error": "invalid_client", "error_description": "bad client"})
        self.state.token_calls += 1
        token = f"tok-{self.state.token_calls}"
        self.state.valid_tokens.add(token)
        self._send(200, {"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def _graphql(self, raw: bytes) -> None:
        query = json.loads(raw)["query"]
        self.state.graphql_queries.append(query)
        self.state.graphql_headers.append({k.lower(): v for k, v in self.headers.items()})
        m = re.match(r"(query|mutation) \{ (\w+)(\((.*?)\))?", query)
        field_name = m.group(2) if m else ""
        args = m.group(4) or "" if m else ""
        if field_name == "pet":
            pet_id = int(re.search(r"id: (\d+)", args).group(1))
            return self._send(200, {"data": {"pet": {"id": pet_id, "name": "Snuffles"}}})
        if field_name == "createPet":
            name = json.loads(re.search(r'name: ("(?:[^"\\]|\\.)*")', args).group(1))
            return self._send(200, {"data": {"createPet": {"id": 43, "name": name}}})
        if field_name == "pets":
            return self._send(200, {"data": {"pets": [{"id": 1}, {"id": 2}]}})
        self._send(200, {"data": None, "errors": [{"message": f"Cannot query field {field_name}"}]})


@pytest.fixture(scope="session")
def service():
    """A threaded HTTP server on an ephemeral 127.0.0.1 port; yields (base_url, handler class)."""
    handler = type("Handler", (_Handler,), {"state": ServiceState()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    handler.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield handler
    server.shutdown()
    server.server_close()


@pytest.fixture
def base_url(service) -> str:
    return service.base_url


@pytest.fixture
def state(service) -> ServiceState:
    service.state = ServiceState()
    return service.state


@pytest.fixture(autouse=True)
def _allow_the_service(service, allow_outbound):
    """The fake service listens on 127.0.0.1: open exactly its port to the outbound policy."""
    allow_outbound(urlsplit(service.base_url).netloc)


@pytest.fixture(autouse=True)
def _fresh_caches():
    clear_caches()
    yield
    clear_caches()


def run_call(
    function: dict[str, Any],
    arguments: dict[str, Any] | None = None,
    *,
    auth: dict[str, Any] | None = None,
    selection_set: str | None = None,
    timeout: float | None = None,
    idempotency_key: str = "",
    environment: ActivityEnvironment | None = None,
) -> Any:
    """Run the real activity in Temporal's ActivityEnvironment (no server needed)."""
    call = FunctionCall(
        instance_id="inst-1",
        state="Check",
        action="act",
        function=function,
        auth=auth,
        arguments=arguments if arguments is not None else {},
        selection_set=selection_set,
        timeout_seconds=timeout,
        idempotency_key=idempotency_key,
    )
    return asyncio.run((environment or ActivityEnvironment()).run(call_function, call))


def run_failing(function: dict[str, Any], arguments=None, **kwargs) -> dict[str, Any]:
    """Run a call that must fail with a FunctionError; return its detail dict."""
    with pytest.raises(ApplicationError) as info:
        run_call(function, arguments, **kwargs)
    assert info.value.type == FUNCTION_ERROR
    assert info.value.non_retryable
    detail = info.value.details[0]
    assert detail["message"] == info.value.message
    return detail


@pytest.fixture
def call():
    """`call(function, arguments, auth=..., selection_set=..., timeout=...)` -> the result."""
    return run_call


@pytest.fixture
def call_error():
    """Like `call`, for a call that must fail; returns the FunctionErrorDetail as a dict."""
    return run_failing
