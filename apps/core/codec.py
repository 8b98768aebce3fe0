"""Encryption of everything xflow stores in Temporal's history (inputs, results, signals).

Workflow inputs carry the instance's data and the `$SECRETS` it reads; a history is kept by
the Temporal server for its retention period. With TEMPORAL_PAYLOAD_KEY set, every payload
is encrypted with Fernet (AES-128-CBC + HMAC-SHA256) before it leaves the process, and only
processes holding the key (web, workers) can read it.
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet
from temporalio.api.common.v1 import Payload
from temporalio.converter import DataConverter, PayloadCodec, default

ENCODING = b"binary/xflow-fernet"


class FernetCodec(PayloadCodec):
    """Encrypts whole payloads; leaves payloads it did not encrypt as they are."""

    def __init__(self, key: str) -> None:
        digest = hashlib.sha256(("xflow-temporal:" + key).encode()).digest()
        self._fernet = Fernet(base64.urlsafe_b64encode(digest))

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


def data_converter(key: str | None) -> DataConverter:
    """The default converter, encrypting when a key is configured."""
    if not key:
        return default()
    return dataclasses.replace(default(), payload_codec=FernetCodec(key))
