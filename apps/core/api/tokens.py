"""The throttled endpoint that exchanges a username and password for an API token."""

from __future__ import annotations

import math
from collections.abc import Mapping

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, serializers
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.response import Response
from rest_framework.throttling import SimpleRateThrottle

from apps.core.api.parsers import FormParser, JSONParser, MultiPartParser
from apps.core.tokens import do_issue_token, token_expires_at


class SignInThrottle(SimpleRateThrottle):
    """Sign-in attempts per client address (counted in the Redis cache)."""

    scope = "auth_token"

    def get_rate(self):
        return settings.XFLOW_TOKEN_THROTTLE_RATE  # read per request: settable in tests

    def get_cache_key(self, request, view):
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}


class SignInPerUsernameThrottle(SignInThrottle):
    """Attempts per username, whatever address they come from (password guessing)."""

    scope = "auth_token_user"

    def get_cache_key(self, request, view):
        data = request.data if isinstance(request.data, Mapping) else {}
        username = str(data.get("username") or "").strip().lower()
        if not username:
            return None
        return self.cache_format % {"scope": self.scope, "ident": username[:150]}


class IssuedTokenSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send it as `Authorization: Token <token>`.")
    expires_at = serializers.DateTimeField(
        allow_null=True, help_text="When it stops working; null: never (no XFLOW_TOKEN_TTL_HOURS)."
    )


class ObtainTokenView(ObtainAuthToken):
    """Exchange username and password for the user's API token."""

    throttle_classes = [SignInThrottle, SignInPerUsernameThrottle]
    parser_classes = [FormParser, MultiPartParser, JSONParser]
    # Signing in needs no credentials; a stale token sent along must not refuse it.
    authentication_classes = []

    def throttled(self, request, wait):
        seconds = math.ceil(wait or 1)
        raise exceptions.Throttled(
            wait=seconds,
            detail=f"Too many sign-in attempts; try again in {seconds} s.",
        )

    @extend_schema(
        tags=["auth"],
        summary="Exchange a username and password for an API token",
        request=AuthTokenSerializer,
        responses=IssuedTokenSerializer,
        description="400 when the credentials are not accepted; 429 after too many attempts "
        "from one address or for one username (XFLOW_TOKEN_THROTTLE_RATE).",
    )
    def post(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = serializer.validated_data["user"]
        token = do_issue_token(owner=user, user=user)
        expires = token_expires_at(token)
        return Response(
            {"token": token.key, "expires_at": expires.isoformat() if expires else None}
        )
