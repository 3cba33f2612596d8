"""Retries and rate limits: ``RetryPolicy`` (httpx-retries' ``Retry``) says whether an answer
is retried and how long to wait, honouring ``Retry-After`` in seconds or as an HTTP date;
``Throttle`` spaces requests for ``requests_per_second``.

The loop that applies the policy is the source's (``HttpApiSource._send``), above httpx's auth
flow, not httpx-retries' ``RetryTransport`` below it: a transport retry resends the request as
already signed and authorised, so an OAuth 1 retry would replay its nonce, a 401 could not
fetch a new token first, and retries would skip the throttle. Every attempt still goes through
the pinned transport of ``syncservice.outbound`` (the SSRF guard's checked address).

httpx-retries 0.6 as checked here, and what ``RetryPolicy`` changes: ``Retry-After`` as
integer seconds and as an HTTP date is honoured, fractional seconds ("1.5") are not (parsed
here); 429/502/503/504 by default (500 added); POST is not retried by default (allowed here:
the engine's POSTs are reads); network errors are retried by default, including the pinned
transport's refusal of an unsafe address (a ``ConnectError``; not retried here); waits have
full jitter by default (none here: one reader per connection, and tests can rely on them)."""

from __future__ import annotations

import time

import httpx
from httpx_retries import Retry

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_RETRY_AFTER = 300.0
MAX_BACKOFF = 30.0


class RetryPolicy(Retry):
    """429 and 5xx are retried for every method (the engine's POSTs are queries, e.g. search
    endpoints); waits are ``Retry-After`` (capped at 5 minutes) or 0.5 s doubling per attempt
    up to 30 s, without jitter (one reader per connection)."""

    def __init__(self, total: int = 4, **kwargs) -> None:
        kwargs.setdefault("status_forcelist", RETRY_STATUSES)
        kwargs.setdefault("allowed_methods", ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD",
                                              "OPTIONS"])
        # Connection errors are not retried here: a refused (unsafe) address must fail at once.
        kwargs.setdefault("retry_on_exceptions", ())
        kwargs.setdefault("max_backoff_wait", MAX_RETRY_AFTER)
        kwargs.setdefault("backoff_jitter", 0.0)
        kwargs.setdefault("backoff_factor", 0.5)
        super().__init__(total=total, **kwargs)

    def parse_retry_after(self, retry_after: str) -> float:
        """Seconds (fractions too: some APIs send "1.5") or an HTTP date."""
        try:
            return max(0.0, float(retry_after.strip()))
        except ValueError:
            return super().parse_retry_after(retry_after)

    def backoff_strategy(self) -> float:
        # attempts_made counts this retry: the first waits 0.5 s.
        return min(MAX_BACKOFF, self.backoff_factor * 2 ** max(0, self.attempts_made - 1))

    def should_retry(self, response: httpx.Response) -> bool:
        return not self.is_exhausted() and self.is_retryable_method(response.request.method) \
            and self.is_retryable_status_code(response.status_code)

    def delay(self, response: httpx.Response) -> float:
        """Seconds to wait before the next attempt (call on the policy ``increment()`` gave)."""
        value = (response.headers.get("Retry-After") or "").strip()
        if value and self.respect_retry_after_header:
            try:
                return min(self.max_backoff_wait, self.parse_retry_after(value))
            except ValueError:
                pass  # unparseable: back off as without one
        return self.backoff_strategy()


def retry_delay(response: httpx.Response, attempt: int) -> float:
    """The wait before retry number ``attempt + 1`` of ``response``."""
    return RetryPolicy(total=attempt + 1, attempts_made=attempt + 1).delay(response)


class Throttle:
    """At most ``requests_per_second`` requests (0: unlimited), spaced evenly."""

    def __init__(self, requests_per_second: float | None) -> None:
        self.interval = 1.0 / float(requests_per_second) if requests_per_second else 0.0
        self.last = 0.0

    def wait(self) -> None:
        if not self.interval:
            return
        pause = self.interval - (time.monotonic() - self.last)
        if pause > 0:
            time.sleep(pause)
        self.last = time.monotonic()
