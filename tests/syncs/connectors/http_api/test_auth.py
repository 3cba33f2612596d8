"""Each authenticator against a real local server: what the server receives, token caching,
refresh-token rotation stored at once, and OAuth 1 signatures the server verifies."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest

from syncs.connectors import open_source
from syncs.connectors.http_api import HttpApiSource
from syncs.connectors.http_api.auth import (
    AUTHENTICATORS,
    ApiKeyQueryAuth,
    OAuth2Token,
    authenticator_for,
)
from syncs.connectors.http_api.oauth1 import OAuth1


def source_for(server, auth: dict, secrets: dict, **config) -> HttpApiSource:
    return HttpApiSource({"base_url": server.url_for("/"), "auth": auth, "max_retries": 0,
                          "streams": [{"name": "things", "path": "/things",
                                       "record_selector": "data"}], **config}, secrets)


def read(source: HttpApiSource) -> list:
    return [r for batch in source.read("things") for r in batch.records]


def test_the_mapping_and_unknown_types():
    assert sorted(AUTHENTICATORS) == ["api_key_header", "api_key_query", "basic", "bearer",
                                      "none", "oauth1", "oauth2", "oauth2_client_credentials"]
    assert isinstance(authenticator_for({"type": "api_key_query"}, str), ApiKeyQueryAuth)
    with pytest.raises(ValueError, match="unknown auth type 'digest'"):
        authenticator_for({"type": "digest"}, str)


@pytest.mark.parametrize(("auth", "secrets", "expect"), [
    ({"type": "bearer"}, {"token": "t0k3n-value"}, ("header", "Authorization",
                                                     "Bearer t0k3n-value")),
    ({"type": "bearer", "secret": "pat", "prefix": "token "}, {"pat": "abcd1234"},
     ("header", "Authorization", "token abcd1234")),
    ({"type": "api_key_header", "header": "X-Key", "prefix": "Key "}, {"api_key": "k3y-v4l"},
     ("header", "X-Key", "Key k3y-v4l")),
    ({"type": "api_key_query", "param": "apikey"}, {"api_key": "k3y-v4l"},
     ("query", "apikey", "k3y-v4l")),
    ({"type": "basic", "username": "ann"}, {"password": "pa55word"},
     ("header", "Authorization", "Basic " + base64.b64encode(b"ann:pa55word").decode())),
    ({"type": "basic", "username_secret": "user", "password_secret": "pw"},
     {"user": "bob", "pw": "s3cr3t-pw"},
     ("header", "Authorization", "Basic " + base64.b64encode(b"bob:s3cr3t-pw").decode())),
])
def test_static_credentials_reach_the_server(httpserver, answer, auth, secrets, expect):
    where, name, value = expect
    seen = []

    def things(request):
        seen.append(request.headers.get(name) if where == "header" else request.args.get(name))
        return answer({"data": [{"id": 1}]})

    httpserver.expect_request("/things").respond_with_handler(things)
    assert read(source_for(httpserver, auth, secrets)) == [{"id": 1}]
    assert seen == [value]


def _percent(value: str) -> str:
    return quote(value, safe="~-._")


def verify_oauth1(request, consumer_secret: str, token_secret: str) -> tuple[bool, dict]:
    """An independent RFC 5849 HMAC-SHA256 check (the service's side of it)."""
    header = request.headers["Authorization"].removeprefix("OAuth ")
    fields = {k.strip(): unquote(v.strip().strip('"')) for k, v in
              (part.split("=", 1) for part in header.split(","))}
    signature = fields.pop("oauth_signature")
    oauth = {k: v for k, v in fields.items() if k.startswith("oauth_")}
    pairs = parse_qsl(urlsplit(request.url).query, keep_blank_values=True) + list(oauth.items())
    normalized = "&".join(f"{k}={v}" for k, v in sorted((_percent(k), _percent(v))
                                                        for k, v in pairs))
    parts = urlsplit(request.url)
    base_uri = f"{parts.scheme}://{parts.netloc.lower()}{parts.path}"
    base = "&".join([request.method, _percent(base_uri), _percent(normalized)])
    key = f"{_percent(consumer_secret)}&{_percent(token_secret)}"
    expected = base64.b64encode(hmac.new(key.encode(), base.encode(), hashlib.sha256)
                                .digest()).decode()
    return hmac.compare_digest(expected, signature), fields


def test_oauth1_requests_carry_a_signature_the_server_verifies(httpserver, answer):
    nonces = []

    def things(request):
        ok, fields = verify_oauth1(request, "cs-s3cr3t", "ts-%41-s3cr3t")
        nonces.append(fields["oauth_nonce"])
        assert fields["realm"] == "1234_SB1" and fields["oauth_token"] == "tok%b0id"
        return answer({"data": [{"id": 1}], "next": "?page=2&q=a b" if len(nonces) == 1
                       else None}) if ok else answer({"error": "bad signature"}, 401)

    httpserver.expect_request("/things").respond_with_handler(things)
    source = source_for(httpserver, {"type": "oauth1", "realm": "1234_SB1"}, {
        "consumer_key": "ck", "consumer_secret": "cs-s3cr3t", "token_id": "tok%b0id",
        "token_secret": "ts-%41-s3cr3t"}, pagination={"type": "next_url"})
    assert read(source) == [{"id": 1}, {"id": 1}]
    assert len(set(nonces)) == 2


def test_oauth1_refuses_signature_methods_it_cannot_compute():
    # (The RFC 5849 example is checked in tests/syncs/connectors/test_http_api.py.)
    with pytest.raises(ValueError, match="unsupported OAuth 1 signature_method 'PLAINTEXT'"):
        OAuth1("a", "b", "c", "d", signature_method="PLAINTEXT")
    assert OAuth1("a", "b", "c", "d", signature_method="HMAC-SHA1").signature_method == \
        "HMAC-SHA1"


class TokenServer:
    """A token endpoint with single-use (rotating) refresh tokens and an API."""

    def __init__(self, server, answer, events: list):
        self.answer, self.events = answer, events
        self.refresh = "rt-1-s3cr3t"
        self.tokens = 0
        self.forms: list[dict] = []
        self.basic: list = []
        server.expect_request("/token", method="POST").respond_with_handler(self.token)
        server.expect_request("/things").respond_with_handler(self.things)

    def token(self, request):
        form = request.form.to_dict()
        self.forms.append(form)
        self.basic.append(request.authorization and (request.authorization.username,
                                                     request.authorization.password))
        if form["grant_type"] == "refresh_token":
            if form.get("refresh_token") != self.refresh:
                return self.answer({"error": "invalid_grant"}, 400)
            number = int(self.refresh.split("-")[1]) + 1
            self.refresh = f"rt-{number}-s3cr3t"
        self.tokens += 1
        self.events.append(("token", self.tokens))
        return self.answer({"access_token": f"at-{self.tokens}", "expires_in": 3600,
                            "refresh_token": self.refresh})

    def things(self, request):
        self.events.append(("api", request.headers.get("Authorization")))
        return self.answer({"data": [{"id": 1}]})


def test_a_rotated_refresh_token_is_stored_before_it_is_used(httpserver, answer):
    events: list = []
    api = TokenServer(httpserver, answer, events)
    source = source_for(httpserver, {"type": "oauth2", "token_url": httpserver.url_for("/token"),
                                     "grant_type": "refresh_token"},
                        {"client_id": "cid", "client_secret": "csec",
                         "refresh_token": "rt-1-s3cr3t"})
    source.on_secrets_rotated = lambda changed: events.append(("stored", changed))
    assert read(source) == [{"id": 1}]
    assert events == [("token", 1), ("stored", {"refresh_token": "rt-2-s3cr3t"}),
                      ("api", "Bearer at-1")]
    assert api.forms[0] == {"grant_type": "refresh_token", "client_id": "cid",
                            "client_secret": "csec", "refresh_token": "rt-1-s3cr3t"}
    source.invalidate_token()
    assert read(source) == [{"id": 1}]  # the next login presents the new refresh token
    assert api.forms[1]["refresh_token"] == "rt-2-s3cr3t"
    assert source.secrets["refresh_token"] == "rt-3-s3cr3t"


def test_password_grant_and_client_credentials_in_basic_auth(httpserver, answer):
    api = TokenServer(httpserver, answer, [])
    source = source_for(httpserver, {"type": "oauth2", "token_url": httpserver.url_for("/token"),
                                     "grant_type": "password", "client_auth": "basic",
                                     "scope": "read", "params": {"audience": "api"}},
                        {"client_id": "cid", "client_secret": "csec", "username": "ann",
                         "password": "pw-s3cr3t"})
    assert read(source) == [{"id": 1}]
    assert api.forms == [{"grant_type": "password", "username": "ann",
                          "password": "pw-s3cr3t", "audience": "api", "scope": "read"}]
    assert api.basic == [("cid", "csec")]


def test_oauth2_token_cache():
    issued = []

    def fetch():
        issued.append(len(issued) + 1)
        return f"tok-{len(issued)}", 10  # shorter than the minimum lifetime kept

    seen = []
    token = OAuth2Token(fetch, seen.append)
    assert token.current() == token.current() == "tok-1"
    assert token.expires > 0 and seen == ["tok-1"]
    token.invalidate()
    assert token.current() == "tok-2" and issued == [1, 2]
    token.expires = 0.0  # expired
    assert token.current() == "tok-3"


def test_the_catalogs_oauth2_client_credentials_type_fetches_a_token(httpserver, answer):
    # The http_api catalog offers {type: oauth2_client_credentials, token_url, scopes}.
    events: list = []
    api = TokenServer(httpserver, answer, events)
    source = open_source("http_api", {
        "base_url": httpserver.url_for("/"),
        "auth": {"type": "oauth2_client_credentials", "token_url": httpserver.url_for("/token"),
                 "scopes": ["orders:read", "customers:read"]},
        "streams": [{"name": "things", "path": "/things", "record_selector": "data"}]},
        {"client_id": "cid", "client_secret": "csec"})
    assert read(source) == [{"id": 1}]
    assert api.forms == [{"grant_type": "client_credentials", "client_id": "cid",
                          "client_secret": "csec", "scope": "orders:read customers:read"}]
    assert events[-1] == ("api", "Bearer at-1")
