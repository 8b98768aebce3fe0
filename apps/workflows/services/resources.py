"""Parts of a definition given by URI (0.8 allows it for functions, events, errors, retries,
auth, constants, secrets, timeouts and dataInputSchema): fetched and inlined before a run.

The interpreter does no I/O, so whatever a definition references by URI is read here, when
an instance starts (cached for a few minutes), and the instance runs on the inlined copy.
Reading follows apps.core.http.documents: http(s) under the outbound policy, files only
inside XFLOW_RESOURCE_DIR; a refusal stops the start with `outbound_refused`.
"""

from __future__ import annotations

import time
from typing import Any

from apps.core.errors import ErrorCode, ServiceError
from apps.core.http.documents import fetch_document_sync
from apps.core.http.errors import CallError
from apps.core.outbound import OutboundRefused
from apps.workflows.error_codes import WorkflowErrorCode

CACHE_SECONDS = 300
MAX_BYTES = 1024 * 1024
_CACHE: dict[str, tuple[float, Any]] = {}

# section -> the shape it has once inlined
SECTIONS: dict[str, type] = {
    "functions": list,
    "events": list,
    "errors": list,
    "retries": list,
    "auth": list,
    "secrets": list,
    "constants": dict,
    "timeouts": dict,
}


def load_document(uri: str, *, what: str) -> Any:
    """A JSON or YAML document from an http(s) URL or a resource file (cached)."""
    cached = _CACHE.get(uri)
    if cached and time.monotonic() - cached[0] < CACHE_SECONDS:
        return cached[1]
    try:
        document = fetch_document_sync(uri, what=f"definition's {what}", max_bytes=MAX_BYTES)
    except OutboundRefused as exc:
        raise ServiceError(
            f"The definition's {what} {exc.message}",
            code=ErrorCode.OUTBOUND_REFUSED,
            fields={what: [exc.message]},
        ) from None
    except CallError as exc:
        raise ServiceError(
            exc.message,
            code=WorkflowErrorCode.DEFINITION_INVALID,
        ) from None
    _CACHE[uri] = (time.monotonic(), document)
    return document


def _unwrap(section: str, shape: type, loaded: Any, uri: str) -> Any:
    # The resource is either the value itself or an object holding it under the section name
    # (as in `{"functions": [...]}`).
    if isinstance(loaded, dict) and set(loaded) == {section} and isinstance(loaded[section], shape):
        return loaded[section]
    if isinstance(loaded, shape):
        return loaded
    raise ServiceError(
        f"The definition's {section} resource {uri!r} holds no {shape.__name__} of {section}.",
        code=WorkflowErrorCode.DEFINITION_INVALID,
    )


def inline_resources(document: dict[str, Any]) -> dict[str, Any]:
    """The document with every URI-given section replaced by the content it points to."""
    inlined = None
    for section, shape in SECTIONS.items():
        value = document.get(section)
        if isinstance(value, str) and value.strip():
            loaded = load_document(value, what=section)
            inlined = inlined or dict(document)
            inlined[section] = _unwrap(section, shape, loaded, value)
    return inlined or document
