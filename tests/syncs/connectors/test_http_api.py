"""The http_api engine's extensions: OAuth 1.0a signing, OAuth 2 tokens (cached, fetched again
once on a 401), Retry-After as an HTTP date, pagination kinds, and secrets kept out of
messages and logs."""

from __future__ import annotations

import json
import logging
import time
from email.utils import formatdate

import httpx
import pytest
from werkzeug import Response

from syncs.connectors import CheckFailed, open_source
from syncs.connectors.http_api import (
    AuthFailed,
    HttpApiSource,
    OAuth1,
    SourceError,
    format_cursor,
    sanitize_url,
)


def as_json(document, status=200, headers=None):
    return Response(json.dumps(document), status=status, headers=headers or {},
                    content_type="application/json")


def log_text(caplog) -> str:
    return "\n".join(r.getMessage() for r in caplog.records
                     if not r.name.startswith("werkzeug"))


def test_oauth1_signature_matches_the_rfc_5849_example():
    signer = OAuth1("dpf43f3p2l4k3l03", "kd94hf93k423kf44", "nnch734d00sl2jdk",
                    "pfkkdhi9sl3r4s00", realm="Photos", signature_method="HMAC-SHA1")
    header = signer.header("GET", "http://photos.example.net/photos?file=vacation.jpg"
                                  "&size=original", timestamp=1191242096,
                           nonce="kllo9940pd9333jh")
    assert header.startswith('OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03"')
    assert 'oauth_signature="tR3%2BTy81lMeYAr%2FFid0kMTYa%2FWM%3D"' in header


def test_retry_after_may_be_an_http_date():
    request = httpx.Request("GET", "http://x/")
    later = formatdate(time.time() + 3, usegmt=True)
    delay = HttpApiSource.retry_delay(
        httpx.Response(429, headers={"Retry-After": later}, request=request), 0)
    assert 1.5 <= delay <= 3.5
    assert HttpApiSource.retry_delay(
        httpx.Response(429, headers={"Retry-After": "1.5"}, request=request), 0) == 1.5
    assert HttpApiSource.retry_delay(httpx.Response(503, request=request), 2) == 2.0


def test_cursor_formats():
    assert format_cursor("2026-01-05T10:00:00-05:00", "iso8601") == "2026-01-05T15:00:00Z"
    assert format_cursor("2026-01-05T15:00:00.250+0000", "iso8601_ms") == \
        "2026-01-05T15:00:00.250Z"
    assert format_cursor("2026-01-05T15:00:00Z", "iso8601_offset") == \
        "2026-01-05T15:00:00+00:00"
    assert format_cursor("2026-01-01T00:00:00Z", "epoch_ms") == 1767225600000
    assert format_cursor(1767225600000, "epoch_s") == 1767225600
    assert format_cursor("2026-01-05T23:00:00Z", "date") == "2026-01-05"


def test_sanitize_url_masks_credentials():
    url = "https://user:pw@api.example.com/x?api_key=SECRET&page=2&access_token=T&client_id=C"
    assert sanitize_url(url) == \
        "https://api.example.com/x?api_key=***&page=2&access_token=***&client_id=***"


def test_a_query_string_key_stays_out_of_logs_and_errors(httpserver, caplog):
    caplog.set_level(logging.DEBUG)
    key = "query-s3cr3t-key-000"
    calls = []

    def items(request):
        calls.append(request.args.to_dict())
        if len(calls) == 1:
            return as_json({"items": [{"id": 1}], "next": "/items?page=2"})
        return Response(f"internal error for key {key}", status=500)

    httpserver.expect_request("/items").respond_with_handler(items)
    source = open_source("http_api", {
        "base_url": httpserver.url_for("/"), "max_retries": 1,
        "auth": {"type": "api_key_query", "param": "api_key"},
        "pagination": {"type": "next_url", "next_url_path": "next"},
        "streams": [{"name": "items", "path": "/items", "record_selector": "items"}]},
        {"api_key": key})
    batches = source.read("items")
    assert next(batches).records == [{"id": 1}]
    with pytest.raises(SourceError) as failure:
        next(batches)
    assert "answered 500" in str(failure.value) and "***" in str(failure.value)
    assert calls[1]["api_key"] == key and calls[1]["page"] == "2"
    assert key not in str(failure.value)
    assert key not in log_text(caplog)
    assert "api_key=***" in log_text(caplog)  # httpx's request log, masked


class TokenServer:
    """An OAuth 2 token endpoint (client credentials) and an API accepting its tokens."""

    def __init__(self, server):
        self.issued: list[str] = []
        self.valid: set[str] = set()
        self.expire_next = False
        self.refuse_all = False
        server.expect_request("/oauth/token", method="POST").respond_with_handler(self.token)
        server.expect_request("/things").respond_with_handler(self.things)

    def token(self, request):
        if (request.form.get("client_id"), request.form.get("client_secret")) != \
                ("cid", "client-s3cr3t"):
            return as_json({"error": "invalid_client"}, 401)
        token = f"tok-{len(self.issued) + 1}-s3cr3t"
        self.issued.append(token)
        if not self.refuse_all:
            self.valid.add(token)
        return as_json({"access_token": token, "expires_in": 3600, "token_type": "Bearer"})

    def things(self, request):
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        if self.expire_next:
            self.expire_next = False
            self.valid.discard(token)
        if token not in self.valid:
            return as_json({"message": f"token {token} expired"}, 401)
        return as_json({"data": [{"id": 1}]})


def oauth_source(server, secret="client-s3cr3t"):
    return open_source("http_api", {
        "base_url": server.url_for("/"),
        "auth": {"type": "oauth2", "token_url": server.url_for("/oauth/token"),
                 "grant_type": "client_credentials"},
        "streams": [{"name": "things", "path": "/things", "record_selector": "data"}]},
        {"client_id": "cid", "client_secret": secret})


def test_oauth2_token_is_cached_and_fetched_again_once_on_401(httpserver, caplog):
    caplog.set_level(logging.DEBUG)
    api = TokenServer(httpserver)
    source = oauth_source(httpserver)
    for _ in range(2):
        assert [r for b in source.read("things") for r in b.records] == [{"id": 1}]
    assert len(api.issued) == 1  # cached
    api.expire_next = True
    assert [r for b in source.read("things") for r in b.records] == [{"id": 1}]
    assert len(api.issued) == 2  # fetched again once
    api.valid.clear()
    api.refuse_all = True  # every token is refused: one new token, then the error
    with pytest.raises(AuthFailed) as failure:
        list(source.read("things"))
    assert len(api.issued) == 3
    assert "rejected the credentials (401)" in str(failure.value)
    assert "tok-2-s3cr3t" not in str(failure.value)
    for token in api.issued:
        assert token not in log_text(caplog)


def test_oauth2_wrong_client_secret_fails_the_check(httpserver, caplog):
    caplog.set_level(logging.DEBUG)
    TokenServer(httpserver)
    with pytest.raises(CheckFailed) as failure:
        oauth_source(httpserver, secret="wrong-client-s3cr3t").check()
    assert str(failure.value).startswith(
        "The API rejected the OAuth credentials (401: invalid_client)")
    assert "wrong-client-s3cr3t" not in str(failure.value) + log_text(caplog)


def test_next_url_from_a_links_list_and_header_cursor_pages(httpserver):
    def items(request):
        if request.args.get("page") == "2":
            return as_json({"items": [{"id": 2}], "links": [{"rel": "self", "href": "x"}]})
        return as_json({"items": [{"id": 1}], "links": [{"rel": "self", "href": "x"},
                                                        {"rel": "next", "href": "?page=2"}]})

    httpserver.expect_request("/items").respond_with_handler(items)
    source = open_source("http_api", {
        "base_url": httpserver.url_for("/"),
        "pagination": {"type": "next_url", "next_url_path": "links"},
        "streams": [{"name": "items", "path": "/items", "record_selector": "items"}]}, {})
    assert [r["id"] for b in source.read("items") for r in b.records] == [1, 2]
