"""Fixtures of the files tests: real storage (a temporary directory, or S3 served by moto's
server in a subprocess), the task tests' cast, and helpers to upload and download."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

# The task tests' people and tasks, and tasks of a recorded process instance.
from tests.inbox.conftest import make_process_task  # noqa: F401
from tests.tasks.conftest import (  # noqa: F401
    _celery_in_process,
    _fast_passwords,
    client_for,
    make_task,
    people,
    task_request,
)

S3_BUCKET = "xflow-test-files"


@pytest.fixture(autouse=True)
def local_storage(settings, tmp_path):
    """Files go to a fresh directory per test (filesystem storage, the default mode)."""
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.XFLOW_STORAGE = "filesystem"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    return Path(settings.MEDIA_ROOT)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def moto_server():
    """moto's S3 server on a free 127.0.0.1 port for the session, stopped by its PID."""
    port = _free_port()
    binary = Path(sys.executable).with_name("moto_server")
    process = subprocess.Popen(
        [str(binary), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail("moto_server did not start")
            time.sleep(0.1)
    yield url
    os.killpg(process.pid, signal.SIGTERM)
    process.wait(timeout=10)


@pytest.fixture
def s3_storage(settings, moto_server):
    """S3 mode against moto: a fresh bucket, presigned downloads."""
    import boto3

    options = {
        "bucket_name": S3_BUCKET,
        "endpoint_url": moto_server,
        "region_name": "us-east-1",
        "access_key": "testing",
        "secret_key": "testing",
        "addressing_style": "path",
        "querystring_expire": 300,
        "signature_version": "s3v4",
        "file_overwrite": False,
    }
    client = boto3.client(
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=S3_BUCKET)
    settings.XFLOW_STORAGE = "s3"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": options},
    }
    yield client
    listed = client.list_objects_v2(Bucket=S3_BUCKET).get("Contents", [])
    for item in listed:
        client.delete_object(Bucket=S3_BUCKET, Key=item["Key"])
    client.delete_bucket(Bucket=S3_BUCKET)


PDF = b"%PDF-1.7\n" + bytes(range(256)) * 40 + b"\n%%EOF\n"


def upload(name: str = "report.pdf", content: bytes = PDF, content_type: str = "application/pdf"):
    return SimpleUploadedFile(name, content, content_type=content_type)


def content_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content
