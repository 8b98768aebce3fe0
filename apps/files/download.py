"""Serving a stored file: streamed, with its type, a safe name, an ETag and byte ranges.

Filesystem storage: the bytes are streamed from storage here (single byte ranges answer
206, an unsatisfiable one 416; several ranges at once are answered with the whole file,
which HTTP allows). S3 storage: a redirect to a short-lived presigned URL, which S3 serves
with the same headers and its own range support.
"""

from __future__ import annotations

import re

from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from django.utils.http import content_disposition_header

from apps.core.api.errors import error_response
from apps.core.errors import Unavailable
from apps.files.error_codes import FileErrorCode
from apps.files.models import StoredFile
from apps.files.storage import file_storage, is_s3, presigned_url

CHUNK_BYTES = 64 * 1024
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class Unsatisfiable(Exception):
    """A byte range that lies wholly outside the file."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(first, last) byte of a single `Range: bytes=...`, None to send the whole file."""
    if not header:
        return None
    match = _RANGE.match(header.strip().replace(" ", ""))
    if not match:
        return None  # several ranges, another unit, or nonsense: the whole file
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        count = int(last)
        if count == 0:
            raise Unsatisfiable
        return max(0, size - count), size - 1
    start = int(first)
    end = size - 1 if last == "" else int(last)
    if last != "" and end < start:
        return None  # not a valid range: ignored
    if start >= size:
        raise Unsatisfiable
    return start, min(end, size - 1)


class _Window:
    """`length` bytes of an open file from where it stands, read in chunks."""

    def __init__(self, handle, length: int) -> None:
        self.handle, self.left = handle, length

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        size = self.left if size is None or size < 0 else min(size, self.left)
        data = self.handle.read(size)
        self.left -= len(data)
        return data

    def close(self) -> None:
        self.handle.close()


def disposition(file: StoredFile) -> str:
    """`attachment` with an ASCII fallback and the UTF-8 name (RFC 6266): never rendered
    in the platform's origin, whatever the file holds."""
    return content_disposition_header(True, file.name)


def _content_type(file: StoredFile) -> str:
    if file.content_type.startswith("text/") or file.content_type in (
        "application/json",
        "application/xml",
        "image/svg+xml",
    ):
        return f"{file.content_type}; charset=utf-8"
    return file.content_type


def _common(response: HttpResponse, file: StoredFile) -> HttpResponse:
    response["ETag"] = f'"{file.sha256}"'
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = disposition(file)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, no-cache"
    return response


def _matches(header: str | None, etag: str) -> bool:
    if not header:
        return False
    tags = [t.strip().removeprefix("W/") for t in header.split(",")]
    return "*" in tags or etag in tags


def file_response(request, file: StoredFile) -> HttpResponse:
    """The file's content as the request asks for it (whole, a range, not modified)."""
    etag = f'"{file.sha256}"'
    if is_s3():
        return HttpResponseRedirect(
            presigned_url(
                file.storage_key, content_type=_content_type(file), disposition=disposition(file)
            )
        )
    if _matches(request.headers.get("If-None-Match"), etag):
        return _common(HttpResponse(status=304), file)
    wanted = request.headers.get("Range")
    if_range = request.headers.get("If-Range")
    if if_range and if_range.strip() != etag:
        wanted = None  # the client's copy is another version: send the whole file
    try:
        span = parse_range(wanted, file.size)
    except Unsatisfiable:
        response = error_response(
            "range_not_satisfiable",
            f"The requested range is outside the file, which has {file.size:,} bytes.",
            416,
        )
        response["Content-Range"] = f"bytes */{file.size}"
        return response
    try:
        handle = file_storage().open(file.storage_key, "rb")
    except OSError as exc:
        raise Unavailable(
            "The file's content cannot be read right now; try again later.",
            code=FileErrorCode.STORAGE_UNAVAILABLE,
        ) from exc
    start, end = span if span else (0, file.size - 1)
    if start:
        handle.seek(start)
    response = FileResponse(_Window(handle, end - start + 1), content_type=_content_type(file))
    response.block_size = CHUNK_BYTES
    response["Content-Length"] = str(end - start + 1)
    if span:
        response.status_code = 206
        response["Content-Range"] = f"bytes {start}-{end}/{file.size}"
    return _common(response, file)
