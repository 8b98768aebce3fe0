"""Request bodies, bounded before they are read: size, nesting depth and characters.

Every API body goes through one of these parsers (settings' DEFAULT_PARSER_CLASSES; views that
take other media types subclass `TextParser`). A body larger than the limit is refused with
413 from its Content-Length, before a byte of it is read, and the stream is capped as well. A
JSON body deeper than `XFLOW_API_MAX_DEPTH`, or holding a NUL character, an unpaired surrogate
or a number that is not finite, is refused with 400: PostgreSQL and Temporal cannot store such
values, and refusing them here means no service ever sees them.
"""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import QueryDict
from rest_framework import exceptions, parsers, renderers, status

from apps.core.errors import ErrorCode


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = ErrorCode.PAYLOAD_TOO_LARGE.value


def max_body_bytes() -> int:
    """The largest request body the API reads (DATA_UPLOAD_MAX_MEMORY_SIZE)."""
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def max_depth() -> int:
    """How deeply JSON bodies may nest (objects and arrays)."""
    return settings.XFLOW_API_MAX_DEPTH


class BoundedParser(parsers.BaseParser):
    """Reads at most `max_bytes` (default: DATA_UPLOAD_MAX_MEMORY_SIZE) of a body."""

    max_bytes: int | None = None

    def limit(self) -> int:
        return self.max_bytes if self.max_bytes is not None else max_body_bytes()

    def check_declared_length(self, parser_context) -> None:
        """413 from the Content-Length alone, before anything is read."""
        request = (parser_context or {}).get("request")
        meta = getattr(request, "META", None) or {}
        try:
            declared = int(meta.get("CONTENT_LENGTH") or 0)
        except (TypeError, ValueError):
            declared = 0
        if declared > self.limit():
            raise _too_large(declared, self.limit())

    def read_body(self, stream, parser_context) -> bytes:
        self.check_declared_length(parser_context)
        if stream is None:
            return b""
        # Content-Length already caps the WSGI stream; reading one byte more than the limit
        # still catches a stream that carries more than it declared.
        limit = self.limit()
        raw = stream.read(limit + 1)
        if len(raw) > limit:
            raise _too_large(None, limit)
        return raw


def _too_large(size: int | None, limit: int) -> PayloadTooLarge:
    what = f"{size:,} bytes" if size is not None else f"more than {limit:,} bytes"
    return PayloadTooLarge(f"The request body is {what}; the limit here is {limit:,} bytes.")


class JSONParser(BoundedParser):
    """JSON, bounded in size and depth, without NUL, lone surrogates or non-finite numbers."""

    # Not a subclass of DRF's JSONParser on purpose: DRF reads those bodies whole
    # (`request.body`) before parsing; this one reads through its own capped stream.
    media_type = "application/json"
    renderer_class = renderers.JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        raw = self.read_body(stream, parser_context)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            text = raw.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            raise exceptions.ParseError(f"The body is not {encoding} text.") from None
        return parse_json(text)


def parse_json(text: str) -> Any:
    """JSON text to a value the platform can store, or ParseError saying why not."""
    try:
        value = json.loads(text, parse_constant=_reject_constant, parse_float=_finite_float)
    except RecursionError:
        raise _too_deep() from None
    except ValueError as exc:  # JSONDecodeError, a non-finite number, too many digits
        raise exceptions.ParseError(f"The body is not valid JSON: {exc}") from None
    check_value(value)
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"the number {text[:40]} is too large")
    return number


def _too_deep() -> exceptions.ParseError:
    return exceptions.ParseError(
        f"The body is nested more than {max_depth()} levels deep (objects and arrays)."
    )


def check_value(value: Any) -> None:
    """Refuse a parsed value nested too deeply or holding text PostgreSQL cannot store."""
    limit = max_depth()
    stack: list[tuple[Any, int, str]] = [(value, 0, "")]
    while stack:
        item, depth, path = stack.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                raise _too_deep()
            pairs = item.items() if isinstance(item, dict) else enumerate(item)
            for key, child in pairs:
                if isinstance(key, str):
                    child_path = f"{path}.{key}" if path else key
                    check_text(key, child_path, what="a key")
                else:
                    child_path = f"{path}[{key}]"
                stack.append((child, depth + 1, child_path))
        elif isinstance(item, str):
            check_text(item, path or "(body)")


def check_text(text: str, where: str, *, what: str = "a string") -> None:
    """Refuse a NUL character or an unpaired surrogate (400, naming where it is)."""
    problem = text_problem(text)
    if problem:
        # Shown escaped: the answer is JSON text, and a surrogate cannot be encoded in it.
        shown = where[:200].encode("utf-8", "backslashreplace").decode("utf-8")
        shown = shown.replace("\x00", "\\u0000") + ("..." if len(where) > 200 else "")
        raise exceptions.ParseError(f"{what.capitalize()} at '{shown}' contains {problem}.")


def text_problem(text: str) -> str | None:
    """What makes this text unstorable, or None."""
    if "\x00" in text:
        return "a NUL character (U+0000)"
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "an unpaired surrogate (not valid Unicode)"
    return None


class FormParser(BoundedParser):
    """URL-encoded forms (sign-in), bounded like every body."""

    media_type = "application/x-www-form-urlencoded"

    def parse(self, stream, media_type=None, parser_context=None):
        raw = self.read_body(stream, parser_context)
        encoding = (parser_context or {}).get("encoding", settings.DEFAULT_CHARSET)
        try:
            return QueryDict(raw, encoding=encoding)
        except TooManyFieldsSent:
            raise exceptions.ParseError("The form has too many fields.") from None


class MultiPartParser(BoundedParser, parsers.MultiPartParser):
    """Multipart forms, refused with 413 from their Content-Length (Django streams files)."""

    def parse(self, stream, media_type=None, parser_context=None):
        self.check_declared_length(parser_context)
        try:
            return super().parse(stream, media_type, parser_context)
        except (TooManyFieldsSent, TooManyFilesSent):
            raise exceptions.ParseError("The form has too many fields or files.") from None
        except RequestDataTooBig:
            raise _too_large(None, self.limit()) from None


class TextParser(BoundedParser):
    """A raw UTF-8 text body; subclass with a `media_type` (one class per media type)."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = self.read_body(stream, parser_context)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.ParseError("The body is not UTF-8 text.") from None
        if "\x00" in text:
            raise exceptions.ParseError("The body contains a NUL character (U+0000).")
        return text


def text_parsers(*media_types: str, max_bytes: int | None = None) -> list[type[TextParser]]:
    """One `TextParser` class per media type (DRF selects parsers by one media type each)."""
    return [
        type(
            f"TextParser_{media_type.replace('/', '_').replace('-', '_').replace('.', '_')}",
            (TextParser,),
            {"media_type": media_type, "max_bytes": max_bytes},
        )
        for media_type in media_types
    ]
