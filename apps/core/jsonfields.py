"""JSON that PostgreSQL can always store: NUL characters and lone surrogates kept, not lost.

PostgreSQL's jsonb refuses `\\u0000` and unpaired surrogate escapes, yet workflow data may
carry them (a jq result, a REST reply, an event). Writing such a value would fail the
transaction, and a mirror write that fails is retried forever. `SafeJSONField` stores such a
value wrapped as `{"$xflow": "json", "text": <the JSON text, ASCII-escaped and base64'd>}`
and unwraps it on read, so every reader (API, admin, services) sees the original value.
"""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from django.db import models

WRAP_KEY = "$xflow"
WRAP_KIND = "json"
# In ASCII-escaped JSON text, NUL and surrogates only appear as escapes.
_UNSTORABLE = re.compile(r"\\u0000|\\ud[89a-f][0-9a-f]{2}", re.IGNORECASE)


def needs_wrapping(value: Any) -> bool:
    """Whether PostgreSQL's jsonb would refuse this value (cheap: one dumps + one search)."""
    text = json.dumps(value, ensure_ascii=True)
    return bool(_UNSTORABLE.search(text))


def wrap(value: Any) -> Any:
    """The value itself when storable, else its lossless wrapped form."""
    text = json.dumps(value, ensure_ascii=True)
    if not _UNSTORABLE.search(text):
        return value
    return {WRAP_KEY: WRAP_KIND, "text": base64.b64encode(text.encode("ascii")).decode("ascii")}


def unwrap(value: Any) -> Any:
    """The original value of what `wrap` stored (other values pass through)."""
    if isinstance(value, dict) and value.get(WRAP_KEY) == WRAP_KIND and len(value) == 2:
        try:
            return json.loads(base64.b64decode(value["text"]))
        except (KeyError, ValueError, TypeError):
            return value
    return value


def displayable(value: Any) -> Any:
    """A copy safe to render as UTF-8 text: lone surrogates become U+FFFD (NUL stays)."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(value) else value
    if isinstance(value, list):
        return [displayable(v) for v in value]
    if isinstance(value, dict):
        return {displayable(k): displayable(v) for k, v in value.items()}
    return value


def _has_surrogate(text: str) -> bool:
    return any("\ud800" <= ch <= "\udfff" for ch in text)


class SafeJSONField(models.JSONField):
    """A JSONField that stores any JSON value, including NUL characters and lone surrogates."""

    def get_prep_value(self, value: Any) -> Any:
        return super().get_prep_value(wrap(value) if value is not None else value)

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Any:
        return unwrap(super().from_db_value(value, expression, connection))
