"""Receiving uploads in DRF views: the hashing handler, a parser sized for files, the 413.

`UploadViewMixin` installs the handler before anything reads the body (authentication's
CSRF check may read it) and refuses a body that declares more than the file limit allows
before reading it; `uploaded_file` returns the `file` part or the clear 4xx.
"""

from __future__ import annotations

from django.conf import settings

from apps.core.api.parsers import MultiPartParser
from apps.files.services import missing_error, too_large_error
from apps.files.uploads import (
    MULTIPART_OVERHEAD_BYTES,
    declares_too_much,
    upload_too_large,
    use_hashing_handler,
)


class FileUploadParser(MultiPartParser):
    """multipart/form-data bounded by the file limit (not the API's 2 MiB body limit)."""

    def limit(self) -> int:
        return settings.XFLOW_FILE_MAX_BYTES + MULTIPART_OVERHEAD_BYTES


class UploadViewMixin:
    """For a ViewSet whose actions named in `upload_actions` take a multipart file."""

    upload_actions: tuple[str, ...] = ()

    def _upload_request(self) -> bool:
        request = getattr(self, "request", None)
        if request is None or request.method != "POST":
            return False
        return self.action_map.get("post") in self.upload_actions

    def initialize_request(self, request, *args, **kwargs):
        if request.method == "POST" and self.action_map.get("post") in self.upload_actions:
            use_hashing_handler(request)
        return super().initialize_request(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        if self._upload_request() and declares_too_much(request):
            raise too_large_error()
        super().initial(request, *args, **kwargs)


def uploaded_file(request):
    """The request's `file` part; 413 if it stopped at the limit, 400 if there is none."""
    files = request.FILES
    if upload_too_large(request._request):
        raise too_large_error()
    upload = files.get("file")
    if upload is None:
        raise missing_error()
    return upload
