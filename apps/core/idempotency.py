"""Idempotency-Key handling: a repeated request gets the first answer, not a second effect."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

from django.db import IntegrityError, connection, transaction
from rest_framework.response import Response

from apps.core.errors import Conflict, ServiceError
from apps.core.models import IdempotencyRecord

HEADER = "HTTP_IDEMPOTENCY_KEY"
MAX_KEY_LENGTH = 200
# Printable ASCII, as the IETF draft's sf-string: the key is stored and goes into a lock name.
_KEY_PATTERN = re.compile(r"[\x20-\x7e]+")


def idempotency_key(request) -> str:
    """The request's Idempotency-Key ("" without one); 400 when it is not a usable key."""
    key = request.META.get(HEADER, "").strip()
    if not key:
        return ""
    if len(key) > MAX_KEY_LENGTH or not _KEY_PATTERN.fullmatch(key):
        message = (
            f"Idempotency-Key is longer than {MAX_KEY_LENGTH} characters."
            if len(key) > MAX_KEY_LENGTH
            else "Idempotency-Key must be printable ASCII text."
        )
        raise ServiceError(
            message,
            code="idempotency_key_invalid",
            status=400,
            fields={"Idempotency-Key": [message]},
        )
    return key


def _hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def idempotent(request, scope: str, payload: Any, perform: Callable[[], Response]) -> Response:
    """Run `perform` once per (scope, user, Idempotency-Key); replay its answer afterwards.

    A key reused with a different payload is refused (409): that is a client bug, and
    answering with the old result would hide it.
    """
    key = idempotency_key(request)
    if not key:
        return perform()
    user = request.user if request.user.is_authenticated else None
    digest = _hash(payload)
    with transaction.atomic():
        # Two concurrent requests with one key: the second waits here until the first has
        # stored its answer (a row lock cannot help: the row does not exist yet).
        with connection.cursor() as cur:
            cur.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"{scope}:{user.pk if user else '-'}:{key}"],
            )
        existing = IdempotencyRecord.objects.filter(scope=scope, user=user, key=key).first()
        if existing is not None:
            if existing.request_hash != digest:
                raise Conflict(
                    "This Idempotency-Key was already used with a different request body.",
                    code="idempotency_key_reused",
                )
            response = Response(existing.response_body, status=existing.response_status)
            response["Idempotent-Replayed"] = "true"
            return response
        response = perform()
        if 200 <= response.status_code < 300:
            try:
                with transaction.atomic():
                    IdempotencyRecord.objects.create(
                        scope=scope,
                        user=user,
                        key=key,
                        request_hash=digest,
                        response_status=response.status_code,
                        response_body=response.data,
                    )
            except IntegrityError:
                pass  # a concurrent twin stored it first; both saw the same first effect
        return response
