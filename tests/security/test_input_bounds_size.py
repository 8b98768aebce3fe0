"""Oversized bodies: 413 from the Content-Length, before the body is read into memory."""

from __future__ import annotations

import io

import pytest
from django.test import Client

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("engine_worker")]

HUGE = 200 * 1024 * 1024  # what the issue sent: 200 MB


class EndlessBody(io.RawIOBase):
    """A request body of `size` bytes that is never held in memory; counts what is read."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        left = self.size - self.read_bytes
        n = left if n is None or n < 0 else min(n, left)
        self.read_bytes += n
        return b"a" * n

    def readline(self, limit: int = -1) -> bytes:
        return self.read(limit if limit and limit > 0 else 65536)


def _send_huge(root_api, method: str, path: str, content_type: str):
    body = EndlessBody(HUGE)
    token = root_api._credentials["HTTP_AUTHORIZATION"]
    response = Client().generic(
        method,
        path,
        HTTP_AUTHORIZATION=token,
        CONTENT_TYPE=content_type,
        CONTENT_LENGTH=str(HUGE),
        **{"wsgi.input": body},
    )
    return response, body


@pytest.mark.parametrize(
    ("method", "path", "content_type"),
    [
        ("POST", "/api/v1/definitions/", "application/yaml"),
        ("POST", "/api/v1/definitions/validate", "text/plain"),
        ("POST", "/api/v1/definitions/?publish=true", "application/json"),
        ("POST", "/api/v1/instances/", "application/json"),
        ("POST", "/api/v1/events/", "application/json"),
        ("POST", "/api/v1/secrets/", "application/x-www-form-urlencoded"),
        ("PUT", "/api/v1/definitions/trivial/starters", "application/json"),
        ("POST", "/api/v1/auth/token", "multipart/form-data; boundary=xyz"),
    ],
)
def test_a_200_mb_body_is_refused_with_413_without_being_read(
    root_api, platform, method, path, content_type
):
    before = platform.snapshot()
    response, body = _send_huge(root_api, method, path, content_type)
    assert response.status_code == 413, response.content[:300]
    error = response.json()["error"]
    assert error["code"] == "payload_too_large"
    assert f"{HUGE:,} bytes" in error["message"]
    assert body.read_bytes == 0  # refused from the Content-Length alone
    platform.assert_unharmed(before)


def test_a_definition_over_1_mib_is_refused_with_413(root_api, platform):
    before = platform.snapshot()
    padding = "# " + "x" * 1024 + "\n"
    text = "id: big\nversion: '1'\n" + padding * 1100  # ~1.1 MiB of YAML, sent for real
    response = root_api.generic(
        "POST", "/api/v1/definitions/", text.encode(), content_type="application/yaml"
    )
    assert response.status_code == 413
    assert "1,048,576 bytes" in response.json()["error"]["message"]
    platform.assert_unharmed(before)


def test_a_json_body_over_the_api_limit_is_refused_with_413(root_api, platform, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024
    before = platform.snapshot()
    big_input = {"blob": "x" * (65 * 1024)}
    response = root_api.post(
        "/api/v1/instances/", {"definition": "trivial", "input": big_input}, format="json"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    platform.assert_unharmed(before)


def test_a_body_that_lies_about_its_length_is_read_no_further_than_the_limit(
    root_api, platform, settings
):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    before = platform.snapshot()
    body = EndlessBody(HUGE)
    token = root_api._credentials["HTTP_AUTHORIZATION"]
    # A Content-Length under the limit and a stream that goes on: never read past it.
    response = Client().generic(
        "POST",
        "/api/v1/instances/",
        HTTP_AUTHORIZATION=token,
        CONTENT_TYPE="application/json",
        CONTENT_LENGTH="1000",
        **{"wsgi.input": body},
    )
    assert response.status_code == 400  # 1000 bytes of "a" are not JSON
    assert body.read_bytes <= 1000
    platform.assert_unharmed(before)
