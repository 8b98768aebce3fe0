"""Receiving an upload: spooled to a temporary file chunk by chunk, hashed and measured on
the way, cut off past the size limit. Nothing holds the whole file in memory."""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.files.uploadhandler import TemporaryFileUploadHandler


def max_file_bytes() -> int:
    return settings.XFLOW_FILE_MAX_BYTES


# A multipart body carries a few headers and boundaries around the file: a body declaring
# more than the file limit plus this is refused before it is read.
MULTIPART_OVERHEAD_BYTES = 64 * 1024


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Django's temporary-file handler that also computes sha256 and stops at the limit.

    Past the limit it drops the file (its temporary copy is removed, the rest of its bytes
    are read and discarded, so the form's other fields still arrive: the CSRF token may come
    after the file) and remembers it: `too_large` tells the view to answer 413. The body was
    already refused if it declared more than the limit and a little framing, so what is
    discarded is bounded.
    """

    def __init__(self, request=None) -> None:
        super().__init__(request)
        self.too_large = False
        self.limit = max_file_bytes()

    def new_file(self, *args, **kwargs) -> None:
        super().new_file(*args, **kwargs)
        self.sha256 = hashlib.sha256()
        self.received = 0
        self.dropped = False

    def receive_data_chunk(self, raw_data: bytes, start: int):
        if self.dropped:
            return None
        self.received += len(raw_data)
        if self.received > self.limit:
            self.too_large = self.dropped = True
            self.file.close()  # the temporary file is removed
            return None
        self.sha256.update(raw_data)
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size: int):
        if self.dropped:
            return None
        uploaded = super().file_complete(file_size)
        if uploaded is not None:
            uploaded.sha256 = self.sha256.hexdigest()
        return uploaded


def use_hashing_handler(request) -> HashingUploadHandler:
    """Make `request` receive its files through a hashing handler (before its body is read)."""
    handler = HashingUploadHandler(request)
    request.upload_handlers = [handler]
    return handler


def upload_too_large(request) -> bool:
    """Did the upload of this request stop at the size limit?"""
    return any(getattr(h, "too_large", False) for h in getattr(request, "upload_handlers", []))


def declared_length(request) -> int:
    """The Content-Length the client declared (0 when absent or not a number)."""
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except (TypeError, ValueError):
        return 0


def declares_too_much(request) -> bool:
    """A body larger than any accepted file can be refused before it is read."""
    return declared_length(request) > max_file_bytes() + MULTIPART_OVERHEAD_BYTES
