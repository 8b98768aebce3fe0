"""Key rings for encryption at rest: the first key encrypts, every key decrypts.

Rotation without downtime: put the new key first and keep the old ones after it; what was
written before still reads, what is written now uses the new key. Once everything stored has
been re-encrypted (`manage.py reencrypt_secrets`; Temporal histories age out with their
retention period), the old key can be dropped.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

from cryptography.fernet import Fernet, MultiFernet


def derive(purpose: str, key: str) -> Fernet:
    """A Fernet for one configured key; the purpose keeps the stores' keys apart."""
    digest = hashlib.sha256(f"{purpose}:{key}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def keyring(purpose: str, keys: str | Sequence[str]) -> MultiFernet:
    """Every configured key, newest first."""
    keys = [keys] if isinstance(keys, str) else [k for k in keys if k]
    if not keys:
        raise ValueError(f"no key configured for {purpose}")
    return MultiFernet([derive(purpose, k) for k in keys])


def merged_keys(keys: Sequence[str] | None, key: str | None) -> list[str]:
    """The key list setting, with the single-key setting first when it names another key.

    The single-key variables predate rotation and still work alone; set next to a list, the
    single key is the newest.
    """
    out = [k for k in keys or [] if k]
    if key and (not out or out[0] != key):
        out = [key, *[k for k in out if k != key]]
    return out
