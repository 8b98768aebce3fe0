"""The secrets store: values encrypted at rest (Fernet key ring), readable only by the engine."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import InvalidToken, MultiFernet
from django.conf import settings
from django.db import transaction

from apps.core.audit import record_platform_event
from apps.core.errors import NotFound, ServiceError
from apps.core.keys import keyring, merged_keys
from apps.workflows.error_codes import WorkflowErrorCode
from apps.workflows.models import Secret

PURPOSE = "xflow-secrets"


def secrets_keys() -> list[str]:
    """The configured store keys, newest first (XFLOW_SECRETS_KEYS, XFLOW_SECRETS_KEY)."""
    return merged_keys(getattr(settings, "XFLOW_SECRETS_KEYS", None), settings.XFLOW_SECRETS_KEY)


def _keyring() -> MultiFernet:
    return keyring(PURPOSE, secrets_keys())


def encrypt_value(value: Any) -> str:
    return _keyring().encrypt(json.dumps(value).encode()).decode()


def _undecryptable() -> ServiceError:
    return ServiceError(
        "A secret cannot be decrypted: the key it was saved with is no longer in "
        "XFLOW_SECRETS_KEYS (or XFLOW_SECRETS_KEY).",
        code=WorkflowErrorCode.SECRET_MISSING,
    )


def decrypt_value(ciphertext: str) -> Any:
    try:
        return json.loads(_keyring().decrypt(ciphertext.encode()))
    except InvalidToken:
        raise _undecryptable() from None


@transaction.atomic
def do_set_secret(*, name: str, value: Any, description: str = "", user=None) -> Secret:
    """Create or replace a secret; the value is never returned by any read."""
    secret, created = Secret.objects.select_for_update().get_or_create(
        name=name,
        defaults={
            "ciphertext": encrypt_value(value),
            "description": description,
            "updated_by": user,
        },
    )
    if not created:
        secret.ciphertext = encrypt_value(value)
        secret.description = description or secret.description
        secret.updated_by = user
        secret.save()
    record_platform_event("secret_set" if created else "secret_changed", actor=user, subject=name)
    return secret


@transaction.atomic
def do_describe_secret(*, name: str, description: str, user=None) -> Secret:
    """Change only the description; the value stays as it is."""
    secret = Secret.objects.select_for_update().filter(name=name).first()
    if secret is None:
        raise NotFound(f"There is no secret named '{name}'.")
    if secret.description != description:
        secret.description = description
        secret.updated_by = user
        secret.save(update_fields=["description", "updated_by", "updated_at"])
        record_platform_event("secret_described", actor=user, subject=name)
    return secret


@transaction.atomic
def do_delete_secret(*, name: str, user=None) -> None:
    deleted, _ = Secret.objects.filter(name=name).delete()
    if not deleted:
        raise NotFound(f"There is no secret named '{name}'.")
    record_platform_event("secret_deleted", actor=user, subject=name)


@transaction.atomic
def do_reencrypt_secrets(*, user=None) -> int:
    """Re-encrypt every stored secret with the newest key, so older keys can be dropped."""
    ring = _keyring()
    count = 0
    for secret in Secret.objects.select_for_update().order_by("pk"):
        try:
            rotated = ring.rotate(secret.ciphertext.encode()).decode()
        except InvalidToken:
            raise _undecryptable() from None
        # Only the ciphertext changes: who set the value and when stays as it was.
        Secret.objects.filter(pk=secret.pk).update(ciphertext=rotated)
        count += 1
    record_platform_event("secrets_reencrypted", actor=user, count=count)
    return count


def secret_names(document: dict[str, Any]) -> list[str]:
    """The secrets a definition declares (`secrets: [names]`; a URI form names none here)."""
    declared = document.get("secrets")
    return [s for s in declared if isinstance(s, str)] if isinstance(declared, list) else []


def secret_values(names: list[str]) -> dict[str, Any]:
    """Values of the named secrets the store has (missing ones are left out)."""
    rows = Secret.objects.filter(name__in=names).only("name", "ciphertext")
    return {row.name: decrypt_value(row.ciphertext) for row in rows}


def resolve_secrets(document: dict[str, Any]) -> dict[str, Any]:
    """Values of the declared secrets; refuses clearly when one is not in the store."""
    names = secret_names(document)
    if not names:
        return {}
    found = {s.name: s for s in Secret.objects.filter(name__in=names)}
    missing = [n for n in names if n not in found]
    if missing:
        raise ServiceError(
            f"The definition needs secret{'s' if len(missing) > 1 else ''} "
            f"{', '.join(missing)}, which the secrets store does not have; add "
            f"{'them' if len(missing) > 1 else 'it'} in the admin or with POST /api/v1/secrets/.",
            code=WorkflowErrorCode.SECRET_MISSING,
            fields={"secrets": missing},
        )
    return {name: decrypt_value(found[name].ciphertext) for name in names}
