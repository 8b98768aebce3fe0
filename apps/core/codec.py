"""Encryption of everything xflow stores in Temporal's history (inputs, results, signals).

Workflow inputs carry the instance's data and the `$SECRETS` it reads; a history is kept by
the Temporal server for its retention period. With TEMPORAL_PAYLOAD_KEY (or the rotation list
TEMPORAL_PAYLOAD_KEYS) set, every payload is encrypted with Fernet (AES-128-CBC +
HMAC-SHA256) before it leaves the process, and only processes holding a key can read it.
Failure messages and stack traces are moved into an encrypted payload too: an error text may
quote a secret (a URL with a key in it, a service echoing a header).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from temporalio.api.common.v1 import Payload
from temporalio.converter import (
    DataConverter,
    DefaultFailureConverterWithEncodedAttributes,
    PayloadCodec,
    default,
)

from apps.core.keys import keyring, merged_keys

ENCODING = b"binary/xflow-fernet"
PURPOSE = "xflow-temporal"


class FernetCodec(PayloadCodec):
    """Encrypts whole payloads with the newest key; any configured key decrypts.

    Payloads it did not encrypt are left as they are.
    """

    def __init__(self, keys: str | Sequence[str]) -> None:
        self._fernet = keyring(PURPOSE, keys)

    async def encode(self, payloads: Sequence[Payload]) -> list[Payload]:
        return [
            Payload(
                metadata={"encoding": ENCODING},
                data=self._fernet.encrypt(p.SerializeToString()),
            )
            for p in payloads
        ]

    async def decode(self, payloads: Sequence[Payload]) -> list[Payload]:
        out: list[Payload] = []
        for p in payloads:
            if p.metadata.get("encoding") != ENCODING:
                out.append(p)  # written before encryption was turned on
                continue
            decoded = Payload()
            decoded.ParseFromString(self._fernet.decrypt(p.data))
            out.append(decoded)
        return out


def payload_keys() -> list[str]:
    """The configured payload keys, newest first (empty: no encryption)."""
    return merged_keys(
        getattr(settings, "TEMPORAL_PAYLOAD_KEYS", None), settings.TEMPORAL_PAYLOAD_KEY
    )


def data_converter(keys: str | Sequence[str] | None) -> DataConverter:
    """The default converter, encrypting payloads and failure texts when a key is configured."""
    keys = [keys] if isinstance(keys, str) else [k for k in keys or [] if k]
    if not keys:
        if settings.PRODUCTION:
            # The system check reports this too; a process that skipped checks stops here.
            raise ImproperlyConfigured(
                "TEMPORAL_PAYLOAD_KEY must be set in production: Temporal's history would "
                "hold instance data and $SECRETS values in plain text."
            )
        return default()
    return dataclasses.replace(
        default(),
        payload_codec=FernetCodec(keys),
        failure_converter_class=DefaultFailureConverterWithEncodedAttributes,
    )
