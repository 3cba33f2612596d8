"""Retries and rate limits against a real local server: Retry-After in seconds and as an HTTP
date, the attempt limit, a fresh OAuth 1 signature per attempt, connection errors not retried,
the throttle, and the SSRF guard on every URL an answer points to."""

from __future__ import annotations

import time
from email.utils import formatdate

import httpx
import pytest

from syncs.connectors.http_api import HttpApiSource, SourceError
from syncs.connectors.http_api.retries import MAX_RETRY_AFTER, RetryPolicy, Throttle


def response(status: int, retry_after: str | None = None, method: str = "GET"):
    return httpx.Response(status, headers={"Retry-After": retry_after} if retry_after else {},
                          request=httpx.Request(method, "http://api.test/"))


def test_policy_waits_retry_after_seconds_or_date_else_backs_off():
    policy = RetryPolicy(total=5).increment()
    assert policy.delay(response(429, "2")) == 2.0
    assert policy.delay(response(429, "0.25")) == 0.25
    at = policy.delay(response(503, formatdate(time.time() + 4, usegmt=True)))
    assert 2.5 <= at <= 4.0
    assert policy.delay(response(503, "86400")) == MAX_RETRY_AFTER  # capped
    assert policy.delay(response(503, "soon")) == 0.5  # unparseable: backoff
    assert [RetryPolicy(total=9, attempts_made=n).delay(response(503))
            for n in (1, 2, 3, 8)] == [0.5, 1.0, 2.0, 30.0]


def test_policy_retries_429_and_5xx_for_every_method_until_exhausted():
    policy = RetryPolicy(total=1)
    assert policy.should_retry(response(429)) and policy.should_retry(response(500))
    assert policy.should_retry(response(503, method="POST"))
    assert not policy.should_retry(response(404)) and not policy.should_retry(response(401))
    assert not policy.increment().should_retry(response(429))
    assert not RetryPolicy(total=0).should_retry(response(429))


def source_for(server, **config) -> HttpApiSource:
    return HttpApiSource({"base_url": server.url_for("/"), "streams": [
        {"name": "things", "path": "/things", "record_selector": "data"}], **config}, {})


def test_a_429_with_retry_after_is_retried_after_the_wait(httpserver, answer):
    times = []

    def things(request):
        times.append(time.monotonic())
        if len(times) == 1:
            return answer({"error": "slow down"}, 429, {"Retry-After": "0.3"})
        if len(times) == 2:
            return answer({"error": "busy"}, 503,
                          {"Retry-After": formatdate(time.time() - 5, usegmt=True)})  # past
        return answer({"data": [{"id": 1}]})

    httpserver.expect_request("/things").respond_with_handler(things)
    assert [r for b in source_for(httpserver).read("things") for r in b.records] == [{"id": 1}]
    assert len(times) == 3
    assert times[1] - times[0] >= 0.3


def test_retries_stop_at_max_retries_with_the_error(httpserver, answer):
    httpserver.expect_request("/things").respond_with_handler(
        lambda r: answer({"error": "down"}, 502, {"Retry-After": "0"}))
    with pytest.raises(SourceError, match="answered 502") as failure:
        list(source_for(httpserver, max_retries=2).read("things"))
    assert failure.value.status == 502
    assert len(httpserver.log) == 3


def test_each_attempt_is_signed_again(httpserver, answer):
    nonces = []

    def things(request):
        nonces.append(request.headers["Authorization"].split('oauth_nonce="')[1][:32])
        if len(nonces) == 1:
            return answer({}, 503, {"Retry-After": "0"})
        return answer({"data": []})

    httpserver.expect_request("/things").respond_with_handler(things)
    source = HttpApiSource({"base_url": httpserver.url_for("/"), "auth": {"type": "oauth1"},
                            "streams": [{"name": "things", "path": "/things"}]},
                           {"consumer_key": "ck", "consumer_secret": "cs", "token_id": "t",
                            "token_secret": "ts"})
    list(source.read("things"))
    assert len(nonces) == 2 and nonces[0] != nonces[1]  # a replayed nonce would be refused


def test_connection_errors_are_not_retried():
    # A refused (or SSRF-refused: ``UnsafeConnection`` is a ConnectError) address fails at once.
    assert not RetryPolicy().is_retryable_exception(httpx.ConnectError("refused"))
    source = HttpApiSource({"base_url": "http://127.0.0.1:9/", "max_retries": 3,
                            "streams": [{"name": "things", "path": "/things"}]}, {})
    with pytest.raises(SourceError, match="Cannot reach The API at http://127.0.0.1:9/"):
        list(source.read("things"))


def test_next_page_urls_pass_the_ssrf_guard(httpserver, answer, settings):
    settings.OUTBOUND_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    httpserver.expect_request("/things").respond_with_handler(lambda r: answer(
        {"data": [{"id": 1}], "next": f"http://localhost:{httpserver.port}/admin"}))
    source = HttpApiSource({"base_url": f"http://127.0.0.1:{httpserver.port}/",
                            "pagination": {"type": "next_url"}, "streams": [
                                {"name": "things", "path": "/things",
                                 "record_selector": "data"}]}, {})
    batches = source.read("things")
    assert next(batches).records == [{"id": 1}]
    with pytest.raises(SourceError, match="private or internal address"):
        next(batches)
    assert [r.path for r, _ in httpserver.log] == ["/things"]


def test_throttle_spaces_requests():
    throttle = Throttle(20)
    started = time.monotonic()
    for _ in range(4):
        throttle.wait()
    assert time.monotonic() - started >= 3 * 0.05 * 0.9
    assert Throttle(None).interval == 0.0


def test_a_check_answers_within_its_budget_whatever_the_config(httpserver, answer, settings):
    """A check answers an API request: a long Retry-After is reported, not waited out, and a
    server that accepts and never answers costs the budget, not the configured read timeout."""
    import socket

    from syncs.connectors import CheckFailed

    settings.SYNCS_CHECK_SECONDS = 1.0
    httpserver.expect_request("/things").respond_with_handler(
        lambda request: answer({"error": "slow down"}, 429, {"Retry-After": "120"}))
    started = time.monotonic()
    with pytest.raises(CheckFailed, match="429"):
        source_for(httpserver, max_retries=5).check()
    assert time.monotonic() - started < 1.0

    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # accepts (the kernel does), never answers
    try:
        port = silent.getsockname()[1]
        source = HttpApiSource({"base_url": f"http://127.0.0.1:{port}/", "timeout_seconds": 60,
                                "streams": [{"name": "things", "path": "/things"}]}, {})
        started = time.monotonic()
        with pytest.raises(CheckFailed, match="(?i)timeout|timed out"):
            source.check()
        assert 0.9 <= time.monotonic() - started < 5
    finally:
        silent.close()
    # Reading is not bound by the check's budget: the retry waits as asked.
    assert source._deadline is None
