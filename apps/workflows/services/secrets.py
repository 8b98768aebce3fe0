"""The secrets store: values encrypted at rest (Fernet), readable only by the engine."""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import transaction

from apps.core.audit import record_platform_event
from apps.core.errors import NotFound, ServiceError
from apps.workflows.error_codes import WorkflowErrorCode
from apps.workflows.models import Secret


def _fernet() -> Fernet:
    # A stable 32-byte key derived from the configured secret; rotate by re-saving secrets.
    digest = hashlib.sha256(("xflow-secrets:" + settings.XFLOW_SECRETS_KEY).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt_value(value: Any) -> str:
    return _fernet().encrypt(json.dumps(value).encode()).decode()


def decrypt_value(ciphertext: str) -> Any:
    try:
        return json.loads(_fernet().decrypt(ciphertext.encode()))
    except InvalidToken:
        raise ServiceError(
            "A secret cannot be decrypted: XFLOW_SECRETS_KEY changed since it was saved.",
            code=WorkflowErrorCode.SECRET_MISSING,
        ) from None


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
def do_delete_secret(*, name: str, user=None) -> None:
    deleted, _ = Secret.objects.filter(name=name).delete()
    if not deleted:
        raise NotFound(f"There is no secret named '{name}'.")
    record_platform_event("secret_deleted", actor=user, subject=name)


def secret_names(document: dict[str, Any]) -> list[str]:
    """The secrets a definition declares (`secrets: [names]`; a URI form names none here)."""
    declared = document.get("secrets")
    return [s for s in declared if isinstance(s, str)] if isinstance(declared, list) else []


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
