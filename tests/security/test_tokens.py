"""The token endpoint is throttled; tokens may expire (XFLOW_TOKEN_TTL_HOURS)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from django.core.cache import cache
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from apps.core.models import PlatformEvent

TOKEN_URL = "/api/v1/auth/token"


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Sign-in counts live in Redis across tests: start and leave them empty."""
    cache.delete_pattern("throttle_auth_token*")
    yield
    cache.delete_pattern("throttle_auth_token*")


def sign_in(username: str, password: str, address: str = "192.0.2.10"):
    return APIClient(REMOTE_ADDR=address).post(
        TOKEN_URL, {"username": username, "password": password}, format="json"
    )


def test_too_many_attempts_from_one_address_get_a_429_with_retry_after(make_user, settings):
    settings.XFLOW_TOKEN_THROTTLE_RATE = "3/min"
    make_user("bob", password="correct-horse-battery")
    for _ in range(3):
        assert sign_in("bob", "wrong").status_code == 400
    refused = sign_in("bob", "correct-horse-battery")
    assert refused.status_code == 429
    error = refused.json()["error"]
    assert error["code"] == "throttled"
    assert error["status"] == 429
    assert "Too many sign-in attempts" in error["message"]
    assert 0 < int(refused["Retry-After"]) <= 60
    assert not Token.objects.filter(user__username="bob").exists()
    # Another address, another username: not held back by bob's address.
    make_user("carol", password="another-good-pass")
    assert sign_in("carol", "another-good-pass", address="192.0.2.99").status_code == 200


def test_guessing_one_username_from_many_addresses_is_throttled_too(make_user, settings):
    settings.XFLOW_TOKEN_THROTTLE_RATE = "3/min"
    make_user("dave", password="correct-horse-battery")
    for n in range(3):
        assert sign_in("Dave", "wrong", address=f"198.51.100.{n}").status_code == 400
    refused = sign_in("dave", "correct-horse-battery", address="198.51.100.200")
    assert refused.status_code == 429
    assert "Retry-After" in refused


def test_after_the_window_sign_in_works_again(make_user, settings):
    settings.XFLOW_TOKEN_THROTTLE_RATE = "2/min"
    make_user("erin", password="correct-horse-battery")
    with time_machine.travel(timezone.now(), tick=False) as clock:
        sign_in("erin", "wrong")
        sign_in("erin", "wrong")
        assert sign_in("erin", "correct-horse-battery").status_code == 429
        clock.shift(timedelta(seconds=61))
        assert sign_in("erin", "correct-horse-battery").status_code == 200


def _me(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    return client.get("/api/v1/me")


def test_an_expired_token_is_refused_with_a_clear_401_and_a_new_one_is_issued(make_user, settings):
    settings.XFLOW_TOKEN_TTL_HOURS = 8
    make_user("frank", password="correct-horse-battery")
    start = timezone.now()
    with time_machine.travel(start, tick=False) as clock:
        issued = sign_in("frank", "correct-horse-battery").json()
        assert issued["expires_at"].startswith((start + timedelta(hours=8)).isoformat()[:16])
        assert _me(issued["token"]).status_code == 200

        clock.shift(timedelta(hours=8, seconds=1))
        expired = _me(issued["token"])
        assert expired.status_code == 401
        assert expired["WWW-Authenticate"].startswith("Token")
        error = expired.json()["error"]
        assert error["code"] == "token_expired"
        assert "expired at" in error["message"] and "POST /api/v1/auth/token" in error["message"]

        renewed = sign_in("frank", "correct-horse-battery").json()["token"]
        assert renewed != issued["token"]
        assert _me(renewed).status_code == 200
    issued_events = PlatformEvent.objects.filter(event_type="token_issued", subject="frank")
    assert [e.details["replaced_expired"] for e in issued_events.order_by("id")] == [False, True]


def test_without_a_lifetime_tokens_do_not_expire(make_user, settings):
    settings.XFLOW_TOKEN_TTL_HOURS = None
    make_user("gina", password="correct-horse-battery")
    token = sign_in("gina", "correct-horse-battery").json()
    assert token["expires_at"] is None
    with time_machine.travel(timezone.now() + timedelta(days=3650)):
        assert _me(token["token"]).status_code == 200


def test_an_operator_manages_only_their_own_token_in_the_admin(operator, make_user, client):
    other = make_user("henry")
    Token.objects.create(user=other)
    client.force_login(operator)
    listing = client.get("/admin/authtoken/tokenproxy/").content.decode()
    assert "henry" not in listing
    added = client.post("/admin/authtoken/tokenproxy/add/", {"user": operator.pk})
    assert added.status_code == 302
    assert Token.objects.filter(user=operator).exists()
    assert PlatformEvent.objects.filter(
        event_type="token_issued", subject="operator", actor=operator
    ).exists()
    # Another user's token is not there for them: the admin answers "does not exist".
    refused = client.post(f"/admin/authtoken/tokenproxy/{other.pk}/delete/", {"post": "yes"})
    assert refused.status_code == 302 and refused["Location"] == "/admin/"
    assert Token.objects.filter(user=other).exists()
