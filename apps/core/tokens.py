"""API tokens: issuing and revoking them (audited), their optional lifetime, who manages them."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from rest_framework.authtoken.models import Token

from apps.core.audit import record_platform_event


def token_expires_at(token: Token) -> datetime | None:
    """When the token stops working (XFLOW_TOKEN_TTL_HOURS after it was made), or None."""
    hours = settings.XFLOW_TOKEN_TTL_HOURS
    return token.created + timedelta(hours=hours) if hours else None


def is_expired(token: Token, now: datetime | None = None) -> bool:
    expires = token_expires_at(token)
    return expires is not None and (now or timezone.now()) >= expires


def can_manage_token(user, owner) -> bool:
    """Superusers manage every token; others only their own (a token is its owner's power)."""
    return bool(user and user.is_active and (user.is_superuser or user.pk == owner.pk))


@transaction.atomic
def do_issue_token(*, owner, user=None) -> Token:
    """The owner's working token: the current one, or a new one when none or it expired."""
    token = Token.objects.select_for_update().filter(user=owner).first()
    if token is not None and not is_expired(token):
        return token
    replaced = token is not None
    if replaced:
        token.delete()
    token = Token.objects.create(user=owner)
    record_platform_event(
        "token_issued", actor=user, subject=owner.get_username(), replaced_expired=replaced
    )
    return token


@transaction.atomic
def do_revoke_token(*, token: Token, user=None) -> None:
    owner = token.user.get_username()
    Token.objects.filter(pk=token.pk).delete()
    record_platform_event("token_revoked", actor=user, subject=owner)
