"""Function auth: basic, bearer and oauth2 (token reuse, renewal after a 401), never logged."""

from __future__ import annotations

import logging

import pytest

from .conftest import BASIC_PASSWORD, BASIC_USER, CLIENT_ID, CLIENT_SECRET, STATIC_TOKEN


def secure(base_url, path="/api/secure"):
    return {"name": "secure", "operation": {"url": base_url, "path": path}}


def oauth2(base_url, **props):
    properties = {
        "authority": base_url,
        "grantType": "clientCredentials",
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "scopes": ["pets:read", "pets:write"],
        "metadata": {"tokenUrl": "/oauth/token"},
        **props,
    }
    return {"name": "petsAuth", "scheme": "oauth2", "properties": properties}


def test_basic_auth_sends_the_credentials(call, call_error, base_url):
    # Given a service requiring HTTP Basic
    auth = {
        "name": "b",
        "scheme": "basic",
        "properties": {"username": BASIC_USER, "password": BASIC_PASSWORD},
    }

    # When called with and without the auth definition
    result = call(secure(base_url, "/api/secure-basic"), auth=auth)
    refused = call_error(secure(base_url, "/api/secure-basic"))

    # Then only the authenticated call passes
    assert result["path"] == "/api/secure-basic"
    assert refused["code"] == "401"


def test_bearer_auth_sends_the_token(call, base_url):
    auth = {"name": "t", "scheme": "bearer", "properties": {"token": STATIC_TOKEN}}

    result = call(secure(base_url), auth=auth)

    assert result["headers"]["authorization"] == f"Bearer {STATIC_TOKEN}"


def test_oauth2_client_credentials_token_is_reused(call, base_url, state):
    # Given an oauth2 client-credentials auth with a token URL relative to the authority
    auth = oauth2(base_url)

    # When two calls are made
    first = call(secure(base_url), auth=auth)
    second = call(secure(base_url), auth=auth)

    # Then one token was requested (client authenticated, scopes sent) and used twice
    assert state.token_calls == 1
    assert state.token_forms[0]["grant_type"] == ["client_credentials"]
    assert state.token_forms[0]["scope"] == ["pets:read pets:write"]
    assert "client_secret" not in state.token_forms[0]  # sent as HTTP Basic
    assert first["headers"]["authorization"] == second["headers"]["authorization"] == "Bearer tok-1"


def test_oauth2_token_is_renewed_once_after_a_401(call, base_url, state):
    # Given a token obtained by a first call, which the service then revokes
    auth = oauth2(base_url)
    call(secure(base_url), auth=auth)
    state.valid_tokens.clear()

    # When the next call is answered 401
    result = call(secure(base_url), auth=auth)

    # Then the token was dropped, a new one fetched, and the call retried with it
    assert state.token_calls == 2
    assert result["headers"]["authorization"] == "Bearer tok-2"
    assert [r["headers"]["authorization"] for r in state.requests] == [
        "Bearer tok-1",
        "Bearer tok-1",
        "Bearer tok-2",
    ]


def test_oauth2_password_grant_through_openid_discovery(call, base_url, state):
    # Given a password grant with no token URL, client credentials sent in the form
    auth = oauth2(
        base_url,
        grantType="password",
        username="ann",
        password="pw",
        metadata={"clientAuthMethod": "client_secret_post"},
    )

    # When called
    result = call(secure(base_url), auth=auth)

    # Then the token endpoint came from discovery and got the user's credentials
    assert result["headers"]["authorization"] == "Bearer tok-1"
    form = state.token_forms[0]
    assert form["grant_type"] == ["password"]
    assert form["username"] == ["ann"] and form["client_id"] == [CLIENT_ID]


def test_oauth2_token_endpoint_refusal_fails_with_auth_error(call_error, base_url, state):
    detail = call_error(secure(base_url), auth=oauth2(base_url, clientSecret="wrong"))

    assert detail["code"] == "AuthError"
    assert "401" in detail["message"] and "bad client" in detail["message"]
    assert state.requests == []


@pytest.mark.parametrize(
    ("auth", "expected"),
    [
        ({"name": "a", "scheme": "basic", "properties": "${ $SECRETS.basic }"}, "object"),
        ({"name": "a", "scheme": "bearer", "properties": {}}, "token"),
        ({"name": "a", "scheme": "oauth2", "properties": {"grantType": "x", "clientId": "c"}}, "x"),
        ({"name": "a", "scheme": "digest", "properties": {}}, "digest"),
    ],
)
def test_incomplete_auth_definitions_fail_clearly(call_error, base_url, auth, expected):
    detail = call_error(secure(base_url), auth=auth)

    assert detail["code"] == "AuthError"
    assert expected in detail["message"]


def test_credentials_never_reach_the_logs(call, base_url, caplog, monkeypatch):
    # Given every log line of the call captured (xflow's loggers do not propagate to the root
    # in the Django logging settings; here they must, for caplog to see them)
    monkeypatch.setattr(logging.getLogger("xflow"), "propagate", True)
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="xflow")

    # When calls are made with basic and oauth2 auth, and a 401 is renewed
    basic = {
        "name": "b",
        "scheme": "basic",
        "properties": {"username": BASIC_USER, "password": BASIC_PASSWORD},
    }
    call(secure(base_url, "/api/secure-basic?key=query-secret"), auth=basic)
    call(secure(base_url), auth=oauth2(base_url))

    # Then neither secrets nor tokens nor query strings appear
    text = caplog.text
    assert "/api/secure" in text
    for secret in (BASIC_PASSWORD, CLIENT_SECRET, "tok-1", "query-secret", "Basic "):
        assert secret not in text


def test_oauth2_token_exchange_sends_the_subject_token(call, base_url, state):
    # Given a token-exchange grant for an audience
    auth = oauth2(base_url, grantType="tokenExchange", subjectToken="user-jwt", audiences=["pets"])

    # When called
    call(secure(base_url), auth=auth)

    # Then the RFC 8693 form was posted
    form = state.token_forms[0]
    assert form["grant_type"] == ["urn:ietf:params:oauth:grant-type:token-exchange"]
    assert form["subject_token"] == ["user-jwt"] and form["audience"] == ["pets"]
