"""Machine codes of the errors the files app reports (messages are written for a person)."""

from enum import Enum


class FileErrorCode(str, Enum):
    FILE_NOT_FOUND = "file_not_found"
    FILE_MISSING = "file_missing"  # the multipart request has no `file` part
    FILE_EMPTY = "file_empty"
    FILE_TOO_LARGE = "file_too_large"  # 413
    FILE_TYPE_REFUSED = "file_type_refused"  # 415: executables and whatever the lists refuse
    NOT_ALLOWED = "file_not_allowed"  # 403
    STORAGE_UNAVAILABLE = "file_storage_unavailable"  # 503
