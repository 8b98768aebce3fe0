"""Built-in `xflow:<name>` custom functions, run by the engine worker.

Use in a definition: `{"name": "newId", "type": "custom", "operation": "xflow:uuid"}`.
`BUILTINS` maps each name to its description, arguments and result for the docs; a new one is
a function decorated with `@builtin("name", arguments=..., returns=...)` taking the evaluated
arguments and the FunctionCall. Blocking built-ins (`blocking=True`) run in a thread so they do
not stall the worker's event loop.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import smtplib
import string
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apps.workflows.dsl.durations import DurationError, parse_duration
from apps.workflows.engine.contracts import FunctionCall

from .errors import ErrorCode, FunctionError

workflow_logger = logging.getLogger("xflow.workflows")

PREFIX = "xflow:"
BuiltinFunc = Callable[[dict[str, Any], FunctionCall], Any]


@dataclass(frozen=True)
class Builtin:
    name: str  # without the prefix
    func: BuiltinFunc
    description: str
    arguments: str
    returns: str
    blocking: bool = False

    @property
    def operation(self) -> str:
        return PREFIX + self.name


BUILTINS: dict[str, Builtin] = {}


def builtin(
    name: str, *, arguments: str = "none", returns: str, blocking: bool = False
) -> Callable[[BuiltinFunc], BuiltinFunc]:
    """Register a built-in under `xflow:<name>`; its docstring is its description."""

    def register(func: BuiltinFunc) -> BuiltinFunc:
        description = (func.__doc__ or "").strip().splitlines()[0] if func.__doc__ else ""
        BUILTINS[name] = Builtin(name, func, description, arguments, returns, blocking)
        return func

    return register


def describe_builtins() -> list[dict[str, str]]:
    """The built-ins for documentation pages: operation, description, arguments, result."""
    return [
        {
            "operation": b.operation,
            "description": b.description,
            "arguments": b.arguments,
            "returns": b.returns,
        }
        for b in sorted(BUILTINS.values(), key=lambda b: b.name)
    ]


async def call_builtin(operation: str, call: FunctionCall) -> Any:
    """Run the built-in named by `xflow:<name>`."""
    name = operation[len(PREFIX) :] if operation.startswith(PREFIX) else operation
    found = BUILTINS.get(name)
    if found is None:
        known = ", ".join(b.operation for b in sorted(BUILTINS.values(), key=lambda b: b.name))
        raise FunctionError(
            ErrorCode.UNKNOWN_FUNCTION,
            f"There is no built-in function '{operation}'; the built-ins are: {known}.",
        )
    arguments = call.arguments if call.arguments is not None else {}
    if not isinstance(arguments, dict):
        raise FunctionError(
            ErrorCode.INVALID_ARGUMENTS, f"{operation}: arguments must be an object."
        )
    if found.blocking:
        return await asyncio.to_thread(found.func, arguments, call)
    return found.func(arguments, call)


def _invalid(message: str) -> FunctionError:
    return FunctionError(ErrorCode.INVALID_ARGUMENTS, message)


@builtin("uuid", arguments="count? (1-1000)", returns='{"uuid"} or, with count, {"uuids": [...]}')
def uuid_(arguments: dict[str, Any], call: FunctionCall) -> dict[str, Any]:
    """Random UUIDs (version 4)."""
    if "count" not in arguments:
        return {"uuid": str(uuid.uuid4())}
    count = arguments["count"]
    if not isinstance(count, int) or isinstance(count, bool) or not 1 <= count <= 1000:
        raise _invalid("xflow:uuid: count must be an integer from 1 to 1000.")
    return {"uuids": [str(uuid.uuid4()) for _ in range(count)]}


@builtin(
    "now",
    arguments="timezone? (IANA name, default UTC), plus? (ISO 8601 duration, '-' to subtract)",
    returns='{"utc": "...Z", "iso": "...+02:00", "epochMillis", "timezone"}',
)
def now(arguments: dict[str, Any], call: FunctionCall) -> dict[str, Any]:
    """The current time (optionally shifted by a duration) in UTC and in a timezone."""
    tz_name = arguments.get("timezone") or "UTC"
    try:
        tz = ZoneInfo(str(tz_name))
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise _invalid(
            f"xflow:now: '{tz_name}' is not a known timezone (e.g. Europe/Paris)."
        ) from exc
    moment = datetime.now(UTC)
    plus = arguments.get("plus")
    if plus:
        text = str(plus).strip()
        sign = -1 if text.startswith("-") else 1
        try:
            moment += sign * parse_duration(text.lstrip("+-"))
        except DurationError as exc:
            raise _invalid(f"xflow:now: plus: {exc}") from exc
    return {
        "utc": moment.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "iso": moment.astimezone(tz).isoformat(timespec="milliseconds"),
        "epochMillis": int(moment.timestamp() * 1000),
        "timezone": str(tz_name),
    }


_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


@builtin(
    "log",
    arguments="message?, level? (debug|info|warning|error, default info), any other data",
    returns="the arguments, unchanged",
)
def log(arguments: dict[str, Any], call: FunctionCall) -> dict[str, Any]:
    """Write the arguments to the `xflow.workflows` log (they are the caller's data: no masking)."""
    level_name = str(arguments.get("level") or "info").lower()
    if level_name not in _LEVELS:
        raise _invalid(f"xflow:log: level must be one of {', '.join(_LEVELS)}.")
    data = {k: v for k, v in arguments.items() if k not in ("message", "level")}
    workflow_logger.log(
        _LEVELS[level_name],
        "[%s %s] %s %s",
        call.instance_id,
        call.state,
        arguments.get("message", ""),
        json.dumps(data, ensure_ascii=False, default=str) if data else "",
        extra={"instance_id": call.instance_id, "state": call.state, "data": data},
    )
    return arguments


_HASHES = ("sha256", "sha512", "sha1", "md5")


@builtin(
    "hash",
    arguments="value (a string, or any JSON hashed in canonical form), algorithm? (sha256)",
    returns='{"algorithm", "hex", "base64"}',
)
def hash_(arguments: dict[str, Any], call: FunctionCall) -> dict[str, Any]:
    """A digest of a string (UTF-8) or of a JSON value (sorted keys, no spaces)."""
    if "value" not in arguments:
        raise _invalid("xflow:hash: give the value to hash in `value`.")
    algorithm = str(arguments.get("algorithm") or "sha256").lower()
    if algorithm not in _HASHES:
        raise _invalid(f"xflow:hash: algorithm must be one of {', '.join(_HASHES)}.")
    value = arguments["value"]
    if isinstance(value, str):
        raw = value.encode()
    else:
        raw = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    digest = hashlib.new(algorithm, raw, usedforsecurity=False).digest()
    return {
        "algorithm": algorithm,
        "hex": digest.hex(),
        "base64": base64.b64encode(digest).decode(),
    }


@builtin(
    "template",
    arguments="template ($name / ${name} placeholders), values? (object; default: the other "
    "arguments), strict? (fail on a missing value)",
    returns='{"text"}',
)
def template(arguments: dict[str, Any], call: FunctionCall) -> dict[str, Any]:
    """Fill a `string.Template` text; missing values stay as written unless `strict`."""
    text = arguments.get("template")
    if not isinstance(text, str):
        raise _invalid("xflow:template: `template` must be a string.")
    values = arguments.get("values")
    if values is None:
        values = {k: v for k, v in arguments.items() if k not in ("template", "strict")}
    if not isinstance(values, dict):
        raise _invalid("xflow:template: `values` must be an object.")
    rendered = {
        str(k): v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
        for k, v in values.items()
    }
    tmpl = string.Template(text)
    if not arguments.get("strict"):
        return {"text": tmpl.safe_substitute(rendered)}
    try:
        return {"text": tmpl.substitute(rendered)}
    except KeyError as exc:
        raise _invalid(f"xflow:template: no value for ${exc.args[0]}.") from exc
    except ValueError as exc:
        raise _invalid(f"xflow:template: the template is malformed ({exc}).") from exc


@builtin(
    "fail",
    arguments="code? (default 'Failed'), message?, body?",
    returns="never returns: fails the action with that error code",
)
def fail(arguments: dict[str, Any], call: FunctionCall) -> Any:
    """Fail on purpose with a chosen error code, for the definition's `onErrors` to handle."""
    code = str(arguments.get("code") or "Failed")
    message = str(arguments.get("message") or f"The workflow raised the error '{code}'.")
    raise FunctionError(code, message, arguments.get("body"))


def _addresses(arguments: dict[str, Any], key: str, *, required: bool = False) -> list[str]:
    """A list of checked addresses from a list or a comma-separated string."""
    from django.core.exceptions import ValidationError
    from django.core.validators import validate_email

    raw = arguments.get(key)
    if raw in (None, "", []):
        if required:
            raise _invalid(f"xflow:send-email: `{key}` needs at least one address.")
        return []
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list):
        raise _invalid(f"xflow:send-email: `{key}` must be an address or a list of addresses.")
    addresses = []
    for item in items:
        text = str(item).strip()
        # "Ann <ann@example.com>" is accepted; the bare address is what gets checked.
        _, address = parseaddr(text)
        try:
            if "\n" in text or "\r" in text:
                raise ValidationError("newline")
            validate_email(address)
        except ValidationError as exc:
            raise FunctionError(
                ErrorCode.INVALID_EMAIL_ADDRESS,
                f"xflow:send-email: '{text}' in `{key}` is not a valid email address.",
            ) from exc
        addresses.append(text)
    return addresses


@builtin(
    "send-email",
    arguments="to, cc?, bcc?, replyTo? (address or list), subject, body and/or html, from?",
    returns='{"sent": 1, "to": [...], "cc": [...], "bcc": [...]}',
    blocking=True,
)
def send_email(arguments: dict[str, Any], call: FunctionCall) -> dict[str, Any]:
    """Send an email through Django's configured email backend (DEFAULT_FROM_EMAIL as sender)."""
    # Django is imported here, not at module level: the package stays importable (and the
    # other built-ins usable) in a process without Django settings.
    from django.conf import settings
    from django.core.mail import EmailMultiAlternatives
    from django.utils.html import strip_tags

    to = _addresses(arguments, "to", required=True)
    cc = _addresses(arguments, "cc")
    bcc = _addresses(arguments, "bcc")
    reply_to = _addresses(arguments, "replyTo")
    sender = _addresses(arguments, "from") if arguments.get("from") else []
    subject = arguments.get("subject")
    if not isinstance(subject, str) or not subject.strip():
        raise _invalid("xflow:send-email: `subject` is required.")
    if "\n" in subject or "\r" in subject:
        raise _invalid("xflow:send-email: `subject` must be a single line.")
    text, html = arguments.get("body"), arguments.get("html")
    if not (isinstance(text, str) and text) and not (isinstance(html, str) and html):
        raise _invalid("xflow:send-email: give the message as `body` (text) and/or `html`.")
    # EmailMultiAlternatives is what send_mail builds; used directly for cc, bcc and reply-to.
    message = EmailMultiAlternatives(
        subject=subject,
        body=text if isinstance(text, str) and text else strip_tags(html),
        from_email=sender[0] if sender else settings.DEFAULT_FROM_EMAIL,
        to=to,
        cc=cc,
        bcc=bcc,
        reply_to=reply_to,
    )
    if isinstance(html, str) and html:
        message.attach_alternative(html, "text/html")
    try:
        sent = message.send()
    except (OSError, smtplib.SMTPException) as exc:
        raise FunctionError(
            ErrorCode.EMAIL_ERROR, f"xflow:send-email: the mail server refused the message ({exc})."
        ) from exc
    return {"sent": sent, "to": to, "cc": cc, "bcc": bcc}
