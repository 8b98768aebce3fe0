"""API authentication: `Authorization: Token <key>`, with an optional token lifetime."""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication

from apps.core.tokens import is_expired, token_expires_at


class ExpiringTokenAuthentication(TokenAuthentication):
    """`Authorization: Token <key>`, refused once XFLOW_TOKEN_TTL_HOURS have passed."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        if is_expired(token):
            raise exceptions.AuthenticationFailed(
                f"This token expired at {token_expires_at(token).isoformat()}; get a new one "
                "with POST /api/v1/auth/token.",
                code="token_expired",
            )
        return user, token
