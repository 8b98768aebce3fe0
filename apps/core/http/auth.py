"""Auth of outbound calls (spec 0.8 "Auth Definition"): basic, bearer and oauth2.

The auth definition arrives resolved: `properties` is an object whose expressions
and secret references the interpreter has already evaluated.

OAuth2 (grantType `clientCredentials`, `password`, `tokenExchange`):
- token endpoint: `properties.metadata.tokenUrl` (absolute, or relative to `authority`, e.g.
  `/protocol/openid-connect/token`); `properties.tokenUrl` is accepted too. Without it the
  endpoint comes from OpenID discovery, `<authority>/.well-known/openid-configuration`.
- client authentication: HTTP Basic with clientId/clientSecret (RFC 6749 §2.3.1, which every
  server must support); `metadata.clientAuthMethod: client_secret_post` sends them in the form.
- tokens are cached in-process by (token endpoint, clientId, grant, scopes, audiences, user)
  until 30 s before `expires_in` (5 min when the server gives none); a 401 from the target
  drops the token and the call is retried once with a new one (see `client.send`).
Credentials and tokens are never logged nor put in error messages.
"""

from __future__ import annotations

import base64
import hashlib
import time
from typing import Any
from urllib.parse import urlencode, urljoin

import httpx

from .client import HttpRequest, safe_url, send
from .errors import CallError, CallErrorCode

DEFAULT_TOKEN_LIFETIME = 300.0
EXPIRY_MARGIN = 30.0
DISCOVERY_TTL = 3600.0

_GRANTS = {
    "clientcredentials": "client_credentials",
    "client_credentials": "client_credentials",
    "password": "password",
    "resourceowner": "password",
    "tokenexchange": "urn:ietf:params:oauth:grant-type:token-exchange",
    "token_exchange": "urn:ietf:params:oauth:grant-type:token-exchange",
}

# key -> (access token, monotonic expiry). Per worker process; tokens are not persisted.
_token_cache: dict[tuple[Any, ...], tuple[str, float]] = {}
_discovery_cache: dict[str, tuple[str, float]] = {}


def clear_token_cache() -> None:
    _token_cache.clear()
    _discovery_cache.clear()


class Authenticator:
    """Gives the headers that authenticate a request; oauth2 can renew its credential."""

    refreshable = False

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        raise NotImplementedError

    def invalidate(self) -> None:
        """Forget a credential the service refused."""


class BasicAuth(Authenticator):
    def __init__(self, username: str, password: str) -> None:
        raw = f"{username}:{password}".encode()
        self._value = "Basic " + base64.b64encode(raw).decode("ascii")

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        return {"Authorization": self._value}


class BearerAuth(Authenticator):
    def __init__(self, token: str) -> None:
        self._value = f"Bearer {token}"

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        return {"Authorization": self._value}


class OAuth2Auth(Authenticator):
    refreshable = True

    def __init__(self, name: str, props: dict[str, Any]) -> None:
        self.name = name
        self.props = props
        self.metadata = props.get("metadata") or {}
        grant = str(props.get("grantType", "")).replace("-", "").lower()
        if grant not in _GRANTS:
            raise _auth_error(
                name,
                f"grantType '{props.get('grantType')}' is not supported; use clientCredentials, "
                "password or tokenExchange.",
            )
        self.grant = _GRANTS[grant]
        if not props.get("clientId"):
            raise _auth_error(name, "clientId is required for oauth2.")
        if self.grant == "password" and not (props.get("username") and props.get("password")):
            raise _auth_error(name, "the password grant needs username and password.")
        if self.grant.endswith("token-exchange") and not props.get("subjectToken"):
            raise _auth_error(name, "the tokenExchange grant needs subjectToken.")
        self._used: tuple[tuple[Any, ...], str] | None = None

    async def headers(self, client: httpx.AsyncClient) -> dict[str, str]:
        token_url = await self._token_url(client)
        key = self._cache_key(token_url)
        cached = _token_cache.get(key)
        if cached and cached[1] > time.monotonic():
            token = cached[0]
        else:
            token, lifetime = await self._fetch_token(client, token_url)
            margin = min(EXPIRY_MARGIN, lifetime / 10)
            _token_cache[key] = (token, time.monotonic() + lifetime - margin)
        self._used = (key, token)
        return {"Authorization": f"Bearer {token}"}

    def invalidate(self) -> None:
        # Only drop the token we sent: a concurrent call may already have renewed it.
        if self._used and _token_cache.get(self._used[0], ("",))[0] == self._used[1]:
            del _token_cache[self._used[0]]

    def _cache_key(self, token_url: str) -> tuple[Any, ...]:
        p = self.props
        # A changed secret must not reuse a token obtained with the old one: key by its digest.
        secret = (
            f"{p.get('clientSecret', '')}\0{p.get('password', '')}\0{p.get('subjectToken', '')}"
        )
        return (
            token_url,
            p.get("authority"),
            p.get("clientId"),
            self.grant,
            tuple(p.get("scopes") or ()),
            tuple(p.get("audiences") or ()),
            p.get("username"),
            hashlib.sha256(secret.encode()).hexdigest(),
        )

    async def _token_url(self, client: httpx.AsyncClient) -> str:
        authority = str(self.props.get("authority") or "")
        explicit = self.metadata.get("tokenUrl") or self.props.get("tokenUrl")
        if explicit:
            if authority and not httpx.URL(explicit).is_absolute_url:
                return urljoin(authority.rstrip("/") + "/", str(explicit).lstrip("/"))
            return str(explicit)
        if not authority:
            raise _auth_error(self.name, "set `authority` or `metadata.tokenUrl` for oauth2.")
        cached = _discovery_cache.get(authority)
        if cached and cached[1] > time.monotonic():
            return cached[0]
        url = authority.rstrip("/") + "/.well-known/openid-configuration"
        response = await send(client, HttpRequest("GET", url))
        endpoint = response.body.get("token_endpoint") if isinstance(response.body, dict) else None
        if not response.ok or not isinstance(endpoint, str):
            raise _auth_error(
                self.name,
                f"no token endpoint: OpenID discovery at {safe_url(url)} answered "
                f"{response.status}; set `metadata.tokenUrl` in the auth properties.",
            )
        _discovery_cache[authority] = (endpoint, time.monotonic() + DISCOVERY_TTL)
        return endpoint

    async def _fetch_token(self, client: httpx.AsyncClient, token_url: str) -> tuple[str, float]:
        p = self.props
        form: list[tuple[str, str]] = [("grant_type", self.grant)]
        if p.get("scopes"):
            form.append(("scope", " ".join(p["scopes"])))
        form += [("audience", a) for a in p.get("audiences") or ()]
        if self.grant == "password":
            form += [("username", p["username"]), ("password", p["password"])]
        elif self.grant.endswith("token-exchange"):
            subject_type = self.metadata.get(
                "subjectTokenType", "urn:ietf:params:oauth:token-type:access_token"
            )
            form += [("subject_token", p["subjectToken"]), ("subject_token_type", subject_type)]
            if p.get("requestedSubject"):
                form.append(("requested_subject", p["requestedSubject"]))
            if p.get("requestedIssuer"):
                form.append(("requested_issuer", p["requestedIssuer"]))
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        client_id, secret = str(p["clientId"]), p.get("clientSecret")
        if secret and self.metadata.get("clientAuthMethod") != "client_secret_post":
            headers.update(await BasicAuth(client_id, str(secret)).headers(client))
        else:
            form.append(("client_id", client_id))
            if secret:
                form.append(("client_secret", str(secret)))
        request = HttpRequest("POST", token_url, headers=headers, content=urlencode(form).encode())
        response = await send(client, request)
        if not response.ok:
            body = response.body if isinstance(response.body, dict) else None
            detail = f" ({body.get('error_description') or body.get('error')})" if body else ""
            raise CallError(
                CallErrorCode.AUTH_ERROR,
                f"Auth '{self.name}': the token endpoint {safe_url(token_url)} answered "
                f"{response.status}{detail}.",
                body,
            )
        body = response.body if isinstance(response.body, dict) else {}
        token = body.get("access_token")
        if not isinstance(token, str) or not token:
            raise CallError(
                CallErrorCode.AUTH_ERROR,
                f"Auth '{self.name}': the token endpoint {safe_url(token_url)} answered without "
                "an access_token.",
            )
        try:
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME)
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME
        return token, lifetime


def _auth_error(name: str, problem: str) -> CallError:
    return CallError(CallErrorCode.AUTH_ERROR, f"Auth '{name}': {problem}")


def authenticator_for(auth: dict[str, Any] | None) -> Authenticator | None:
    """The authenticator for a resolved auth definition, or None without one."""
    if not auth:
        return None
    name = str(auth.get("name", "?"))
    scheme = str(auth.get("scheme") or "basic").lower()  # the spec's default scheme
    props = auth.get("properties")
    if not isinstance(props, dict):
        raise _auth_error(
            name,
            "properties must be an object; a secret reference should have been resolved "
            "before the call.",
        )
    if scheme == "basic":
        if props.get("username") is None or props.get("password") is None:
            raise _auth_error(name, "basic auth needs username and password.")
        return BasicAuth(str(props["username"]), str(props["password"]))
    if scheme == "bearer":
        if not props.get("token"):
            raise _auth_error(name, "bearer auth needs a token.")
        return BearerAuth(str(props["token"]))
    if scheme == "oauth2":
        return OAuth2Auth(name, props)
    raise _auth_error(name, f"scheme '{scheme}' is not supported; use basic, bearer or oauth2.")
