"""Authenticators: one small class per ``auth.type``, chosen by the ``AUTHENTICATORS`` mapping.

Each contributes to requests in up to three ways: fixed ``headers()`` (bearer, API key header),
query ``params()`` (API key in the query) and an ``httpx.Auth`` (basic, OAuth 1 signing).
``OAuth2Token`` holds a fetched token: fetched on first use, cached until shortly before it
expires, dropped on a 401 so the next attempt fetches a new one. How a token is fetched stays
the source's (``HttpApiSource.fetch_token``/``token_request``/``post_token``): presets replace
it (Bullhorn's three-step login, Google's signed assertion) and a rotated refresh token must
be stored with the connection the moment it is received (``rotate_secret``).

Config keys (unchanged): ``bearer`` {secret: "token", prefix: "Bearer "}; ``api_key_header``
{header: "X-API-Key", secret: "api_key", prefix: ""}; ``api_key_query`` {param: "api_key",
secret: "api_key"}; ``basic`` {username | username_secret, password_secret: "password"};
``oauth1`` {realm, consumer_key_secret, consumer_secret_secret, token_id_secret,
token_secret_secret, signature_method: HMAC-SHA256}; ``oauth2`` {token_url, grant_type,
fields, params, scope, client_auth, token_path, header: "Authorization", prefix: "Bearer "};
``oauth2_client_credentials`` {token_url, scopes} (the http_api catalog's form of it).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import ClassVar

import httpx

from syncs.connectors.http_api.oauth1 import OAuth1

SecretGetter = Callable[[str], str]


class Authenticator:
    """No authentication."""

    kind: ClassVar[str] = "none"
    #: Requests carry a token fetched from a token endpoint (see ``OAuth2Token``).
    uses_token: ClassVar[bool] = False

    def __init__(self, config: dict, secret: SecretGetter) -> None:
        self.config = config
        self.secret = secret

    def headers(self) -> dict:
        return {}

    def params(self) -> dict:
        return {}

    def httpx_auth(self) -> httpx.Auth | None:
        return None


class BearerAuth(Authenticator):
    kind = "bearer"

    def headers(self) -> dict:
        return {"Authorization": f"{self.config.get('prefix', 'Bearer ')}"
                                 f"{self.secret(self.config.get('secret', 'token'))}"}


class ApiKeyHeaderAuth(Authenticator):
    kind = "api_key_header"

    def headers(self) -> dict:
        return {self.config.get("header", "X-API-Key"):
                f"{self.config.get('prefix', '')}"
                f"{self.secret(self.config.get('secret', 'api_key'))}"}


class ApiKeyQueryAuth(Authenticator):
    kind = "api_key_query"

    def params(self) -> dict:
        return {self.config.get("param", "api_key"):
                self.secret(self.config.get("secret", "api_key"))}


class BasicAuth(Authenticator):
    kind = "basic"

    def httpx_auth(self) -> httpx.Auth:
        username = self.secret(self.config["username_secret"]) \
            if self.config.get("username_secret") else self.config.get("username", "")
        return httpx.BasicAuth(username, self.secret(self.config.get("password_secret",
                                                                     "password")))


class OAuth1Auth(Authenticator):
    kind = "oauth1"

    def httpx_auth(self) -> httpx.Auth:
        c = self.config
        return OAuth1(self.secret(c.get("consumer_key_secret", "consumer_key")),
                      self.secret(c.get("consumer_secret_secret", "consumer_secret")),
                      self.secret(c.get("token_id_secret", "token_id")),
                      self.secret(c.get("token_secret_secret", "token_secret")),
                      realm=c.get("realm"), signature_method=c.get("signature_method",
                                                                   "HMAC-SHA256"))


class OAuth2Auth(Authenticator):
    """A token from a token endpoint, sent as ``{header}: {prefix}{token}``."""

    kind = "oauth2"
    uses_token = True


class OAuth2ClientCredentialsAuth(OAuth2Auth):
    """The http_api catalog's name for OAuth 2 client credentials: {token_url, scopes: [...]},
    the client id and secret in the secrets ``client_id``/``client_secret``."""

    kind = "oauth2_client_credentials"


AUTHENTICATORS: dict[str, type[Authenticator]] = {cls.kind: cls for cls in (
    Authenticator, BearerAuth, ApiKeyHeaderAuth, ApiKeyQueryAuth, BasicAuth, OAuth1Auth,
    OAuth2Auth, OAuth2ClientCredentialsAuth)}


def authenticator_for(config: dict | None, secret: SecretGetter) -> Authenticator:
    config = config or {"type": "none"}
    cls = AUTHENTICATORS.get(config.get("type", "none"))
    if cls is None:
        raise ValueError(f"unknown auth type {config.get('type')!r}; known: "
                         f"{sorted(AUTHENTICATORS)}")
    return cls(config, secret)


class OAuth2Token:
    """A fetched access token and when to fetch the next one."""

    #: Fetch again this long before the announced expiry (clock skew, slow requests).
    EARLY = 60.0
    MIN_LIFETIME = 30.0

    def __init__(self, fetch: Callable[[], tuple[str, float | None]],
                 on_token: Callable[[str], None] = lambda token: None) -> None:
        self.fetch = fetch  # -> (access token, expires_in seconds or None: an hour)
        self.on_token = on_token  # e.g. add the token to the redactor
        self.token: str | None = None
        self.expires = 0.0

    def current(self) -> str:
        """The cached token, fetched first when missing or (nearly) expired."""
        if self.token is None or time.monotonic() >= self.expires:
            token, expires_in = self.fetch()
            self.on_token(token)
            self.token = token
            self.expires = time.monotonic() + max(self.MIN_LIFETIME,
                                                  float(expires_in or 3600) - self.EARLY)
        return self.token

    def invalidate(self) -> None:
        self.token = None
