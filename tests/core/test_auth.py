"""Sign-in: sessions for pages, tokens for API clients, and clear refusals."""

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token


def test_api_refuses_anonymous_calls_with_a_401_in_the_error_format(anon_api, db):
    response = anon_api.get("/api/v1/me")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Token")
    error = response.json()["error"]
    assert error["code"] == "not_authenticated"
    assert "Authorization: Token" in error["message"]


def test_api_refuses_a_wrong_token(anon_api, db):
    anon_api.credentials(HTTP_AUTHORIZATION="Token not-a-real-token")
    response = anon_api.get("/api/v1/me")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "authentication_failed"


def test_token_auth_identifies_the_user(make_user, anon_api):
    user = make_user("alice", groups=["hr", "employees"])
    token = Token.objects.create(user=user)
    anon_api.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    body = anon_api.get("/api/v1/me").json()
    assert body["username"] == "alice"
    assert body["groups"] == ["employees", "hr"]


def test_a_token_can_be_obtained_with_username_and_password(make_user, anon_api):
    make_user("bob", password="correct-horse-battery")
    response = anon_api.post(
        "/api/v1/auth/token",
        {"username": "bob", "password": "correct-horse-battery"},
        format="json",
    )
    assert response.status_code == 200
    assert Token.objects.get(user__username="bob").key == response.json()["token"]
    wrong = anon_api.post(
        "/api/v1/auth/token", {"username": "bob", "password": "nope"}, format="json"
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"]["code"] == "invalid"


def test_management_command_creates_a_token(make_user, capsys):
    make_user("carol")
    call_command("drf_create_token", "carol")
    assert Token.objects.get(user__username="carol").key in capsys.readouterr().out


def test_session_login_through_the_inbox_page(make_user, client):
    make_user("dave", password="s3cret-pass-word")
    page = client.get("/inbox/login/")
    assert page.status_code == 200
    assert b'name="username"' in page.content
    response = client.post("/inbox/login/", {"username": "dave", "password": "s3cret-pass-word"})
    assert response.status_code == 302
    assert response["Location"] == "/inbox/"
    home = client.get("/inbox/")
    assert b"dave" in home.content
    # The same session works for the API (session auth)
    assert client.get("/api/v1/me").json()["username"] == "dave"


def test_wrong_password_shows_a_message_on_the_login_page(make_user, client):
    make_user("erin", password="right-password-1")
    response = client.post("/inbox/login/", {"username": "erin", "password": "wrong"})
    assert response.status_code == 200
    assert b"did not match" in response.content


def test_logout_ends_the_session(make_user, client):
    user = make_user("frank")
    client.force_login(user)
    response = client.post("/inbox/logout/")
    assert response.status_code == 302
    assert client.get("/inbox/").status_code == 302  # back to the login page


@pytest.mark.django_db
def test_inbox_requires_sign_in(client):
    response = client.get("/inbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/inbox/login/")


def test_me_lists_groups_and_permissions(make_user, client):
    user = make_user("gina", groups=["hr"], perms=["workflows.add_workflowinstance"])
    client.force_login(user)
    body = client.get("/api/v1/me").json()
    assert body["groups"] == ["hr"]
    assert body["permissions"] == ["workflows.add_workflowinstance"]
    assert body["is_staff"] is False
