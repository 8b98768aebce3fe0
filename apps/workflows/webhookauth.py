"""How a webhook call of a trigger authenticates: a bearer token or an HMAC signature.

The outbox row names the secret; the relay reads its value from the secrets store right
before sending (`webhook_keys`), so a rotated secret is used from the next call on, and the
value is never written to the row, a log line or an error message.

The signature (auth `hmac`), for a receiver to check (README, Events: Triggers):

    xflow-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(key=secret, msg="<t>." + body)>

`body` is the request body exactly as received (bytes). A receiver recomputes v1 with the
shared secret, compares in constant time, and refuses a `t` too far from its clock (five
minutes is a good window): a captured request cannot be replayed later. Every attempt of a
retried call is signed afresh, with its own `t`.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable
from typing import Any

from apps.workflows.models import OutboxEvent, Secret, WebhookAuth

SIGNATURE_HEADER = "xflow-signature"
SIGNATURE_VERSION = "v1"
# What the README recommends to receivers; `verify_signature` uses it by default.
REPLAY_WINDOW_SECONDS = 300


class WebhookKeyError(Exception):
    """The row's secret cannot be used (missing, undecryptable, not text): the call waits."""


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The xflow-signature header value of body at timestamp."""
    message = str(timestamp).encode() + b"." + body
    digest = hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return f"t={timestamp},{SIGNATURE_VERSION}={digest}"


def verify_signature(
    header: str,
    body: bytes,
    secret: str,
    *,
    window: int = REPLAY_WINDOW_SECONDS,
    now: float | None = None,
) -> bool:
    """A receiver's check: the header signs body with secret, and `t` is within window."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - timestamp) > window:
        return False
    expected = sign(secret, body, timestamp).rpartition("=")[2]
    # Several v1 values may be sent while a receiver moves to a new secret.
    return any(hmac.compare_digest(expected, v) for v in parts.get(SIGNATURE_VERSION, []))


def webhook_keys(rows: Iterable[OutboxEvent]) -> dict[int, str | WebhookKeyError]:
    """The secret's text for each row that authenticates, or why it cannot be had (by row pk)."""
    from apps.workflows.services.secrets import decrypt_value

    wanted = [row for row in rows if row.webhook_auth and row.webhook_auth != WebhookAuth.NONE]
    if not wanted:
        return {}
    names = {row.webhook_secret for row in wanted}
    stored = dict(Secret.objects.filter(name__in=names).values_list("name", "ciphertext"))
    keys: dict[int, str | WebhookKeyError] = {}
    for row in wanted:
        what = f"the secret {row.webhook_secret!r} ({row.webhook_auth} auth of the webhook)"
        if row.webhook_auth not in WebhookAuth.values:
            keys[row.pk] = WebhookKeyError(f"unknown webhook auth {row.webhook_auth!r}")
        elif row.webhook_secret not in stored:
            keys[row.pk] = WebhookKeyError(
                f"{what} is not in the secrets store; add it (admin: Secrets) and the call"
                " is retried"
            )
        else:
            try:
                keys[row.pk] = _text(decrypt_value(stored[row.webhook_secret]), what)
            except WebhookKeyError as exc:
                keys[row.pk] = exc
            except Exception as exc:  # noqa: BLE001 - undecryptable: ServiceError says why
                keys[row.pk] = WebhookKeyError(
                    f"{what} cannot be read: {getattr(exc, 'message', type(exc).__name__)}"
                )
    return keys


def _text(value: Any, what: str) -> str:
    # The admin stores `12345` typed in the value field as a JSON number: the same text.
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        kind = "empty" if value == "" else f"a JSON {type(value).__name__}"
        raise WebhookKeyError(f"{what} is {kind}; webhook auth needs text")
    return value


def auth_headers(mode: str, key: str, body: bytes, *, now: float | None = None) -> dict[str, str]:
    """The headers that authenticate a call with body (mode bearer or hmac)."""
    if mode == WebhookAuth.BEARER:
        # A line break or control character would make an invalid header, and the HTTP
        # library's error would quote it: refused here, in words that do not.
        if not (key.isascii() and key.isprintable()) or key != key.strip():
            raise WebhookKeyError(
                "the secret cannot be sent as a bearer token: it must be printable ASCII"
                " without leading or trailing spaces"
            )
        return {"Authorization": f"Bearer {key}"}
    if mode == WebhookAuth.HMAC:
        timestamp = int(time.time() if now is None else now)
        return {SIGNATURE_HEADER: sign(key, body, timestamp)}
    raise WebhookKeyError(f"unknown webhook auth {mode!r}")
