"""``HttpApiSource``: the declarative REST source, composed of the package's parts: an
authenticator (``auth``), a paginator per stream read (``paginators``), record selection and
shaping (``records``), an incremental cursor (``cursors``), child streams (``children``) and
a retry policy with a throttle (``retries``). Its methods are the hooks the SaaS presets
override (``fetch_token``, ``token_request``, ``post_token``, ``after_page``, ``transform``,
``read_stream``, ``check_request``, ``placeholders``, ``stream_for``, ...)."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import urljoin

import httpx
import orjson

from syncs.connectors.http_api.auth import OAuth2Token, authenticator_for
from syncs.connectors.http_api.children import read_child
from syncs.connectors.http_api.cursors import IncrementalCursor, format_cursor
from syncs.connectors.http_api.errors import AuthFailed, SourceError, UnsupportedEntity
from syncs.connectors.http_api.paginators import PageRequest, paginator_for
from syncs.connectors.http_api.records import select_records, shape_records
from syncs.connectors.http_api.redaction import Redactor, install_log_filter, sanitize_url
from syncs.connectors.http_api.retries import RetryPolicy, Throttle, retry_delay
from syncs.connectors.http_api.values import fill, merge_query, select_one
from syncs.connectors.sources import (
    Batch,
    CheckDeadline,
    CheckFailed,
    CheckTimedOut,
    register_source,
)
from syncservice import outbound

logger = logging.getLogger("syncs.connectors.http_api")
install_log_filter()

_ABSOLUTE = re.compile(r"^https?://")


class HttpApiSource:
    #: The service's name in messages ("Shopify rejected the access token (401): ...").
    service = "The API"
    #: What is rejected on a 401/403, and what to check.
    credential_noun = "the credentials"
    credential_hint = "check the credentials"
    #: Told of credentials the service replaced (see ``rotate_secret``); set by open_source.
    on_secrets_rotated: Callable[[dict], None] | None = None
    #: Wraps each token fetch (set by open_source): serialises the logins of one connection
    #: and yields its stored secrets as they are now (another task may have rotated them).
    login_guard: Callable[[], AbstractContextManager[dict | None]] | None = None
    #: The wait before a retry: ``Retry-After`` (seconds or HTTP date) or exponential backoff.
    retry_delay = staticmethod(retry_delay)

    def __init__(self, config: dict, secrets: dict) -> None:
        self.config = config
        self.secrets = dict(secrets or {})
        self.redact = Redactor(self.secrets.values())
        self.base_url = config["base_url"].rstrip("/") + "/"
        self.streams = {s["name"]: s for s in config.get("streams", [])}
        self.pagination = config.get("pagination") or {"type": "none"}
        self.timeout = float(config.get("timeout_seconds", 30))
        self.max_retries = int(config.get("max_retries", 4))
        self.throttle = Throttle(config.get("requests_per_second"))
        self.authenticator = authenticator_for(self._auth(), self._secret)
        self.oauth2_token = OAuth2Token(self._fetch_token_logged_in, self.redact.add)
        self._guarded_hosts: set[str] = set()
        # Set while ``check()`` runs: a check answers an API request, so its requests (a
        # token, the check itself, their retries) share its deadline instead of each waiting
        # out the read timeout and Retry-After.
        self._deadline: CheckDeadline | None = None
        # Pinned: each connection goes to the address the SSRF guard checked (no rebinding).
        self.client = outbound.client(timeout=self.timeout, headers=self._static_headers(),
                                      auth=self.authenticator.httpx_auth(),
                                      follow_redirects=False)

    # --- auth ---------------------------------------------------------------------------------
    def _auth(self) -> dict:
        return self.config.get("auth") or {"type": "none"}

    def _secret(self, name: str) -> str:
        return str(self.secrets.get(name) or "")

    @contextmanager
    def _login(self) -> Iterator[None]:
        if self.login_guard is None:
            yield
            return
        with self.login_guard() as current:
            if current:
                self.redact.add(*current.values())
                self.secrets.update(current)
            yield

    def rotate_secret(self, name: str, value: str) -> None:
        """The service replaced a credential (a single-use refresh token): use the new one
        from now on and hand it to ``on_secrets_rotated``, which stores it with the
        connection, so the next run does not present the spent one."""
        self.redact.add(value)
        if self.secrets.get(name) == value:
            return
        self.secrets[name] = value
        if self.on_secrets_rotated is not None:
            self.on_secrets_rotated({name: value})

    def _static_headers(self) -> dict:
        return {"Accept": "application/json", **self.config.get("headers", {}),
                **self.authenticator.headers()}

    def _auth_params(self) -> dict:
        return self.authenticator.params()

    def uses_token(self) -> bool:
        """True when requests carry a token fetched from a token endpoint."""
        return self.authenticator.uses_token

    def _fetch_token_logged_in(self) -> tuple[str, float | None]:
        with self._login():
            return self.fetch_token()

    def auth_headers(self) -> dict:
        """Headers of the fetched token (fetched when missing or expired)."""
        if not self.uses_token():
            return {}
        token = self.oauth2_token.current()
        auth = self._auth()
        return {auth.get("header", "Authorization"): f"{auth.get('prefix', 'Bearer ')}{token}"}

    def invalidate_token(self) -> None:
        self.oauth2_token.invalidate()

    def token_request(self) -> dict:
        """The form of the token request (oauth2)."""
        auth = self._auth()
        form = {"grant_type": auth.get("grant_type", "client_credentials")}
        fields = auth.get("fields") or {
            "client_credentials": {"client_id": "client_id", "client_secret": "client_secret"},
            "refresh_token": {"client_id": "client_id", "client_secret": "client_secret",
                              "refresh_token": "refresh_token"},
            "password": {"client_id": "client_id", "client_secret": "client_secret",
                         "username": "username", "password": "password"},
        }.get(form["grant_type"], {})
        for field, secret_name in fields.items():
            if self.secrets.get(secret_name):
                form[field] = self._secret(secret_name)
        form.update(auth.get("params") or {})
        if auth.get("scope"):
            form["scope"] = auth["scope"]
        elif auth.get("scopes"):  # the http_api catalog's list (RFC 6749: space-delimited)
            form["scope"] = " ".join(auth["scopes"])
        return form

    def fetch_token(self) -> tuple[str, float | None]:
        """POST the token request; returns (access token, expires_in seconds)."""
        auth = self._auth()
        form = self.token_request()
        basic = None
        if auth.get("client_auth") == "basic":
            basic = httpx.BasicAuth(form.pop("client_id", ""), form.pop("client_secret", ""))
        document = self.post_token(auth["token_url"], form, basic=basic)
        token = select_one(document, auth.get("token_path", "access_token"))
        if not token:
            raise AuthFailed(f"{self.service} token endpoint answered without an access "
                             "token.")
        if document.get("refresh_token") and form.get("grant_type") == "refresh_token":
            # Rotating refresh tokens: the new one replaces the stored one at once.
            self.rotate_secret((auth.get("fields") or {}).get("refresh_token", "refresh_token"),
                               str(document["refresh_token"]))
        return str(token), document.get("expires_in")

    def post_token(self, url: str, form: dict, *, basic: httpx.Auth | None = None,
                   what: str | None = None) -> dict:
        """POST a token form; an error status is an ``AuthFailed`` naming the OAuth error."""
        try:
            response = self._send("POST", url, data=form, auth=basic or httpx.USE_CLIENT_DEFAULT,
                                  authenticated=False)
        except httpx.HTTPError as exc:
            raise SourceError(self.redact(f"Cannot reach the {self.service} token endpoint "
                                          f"{sanitize_url(url)}: {exc}")) from None
        if response.status_code >= 400:
            detail = self.redact(_oauth_error(response))[:300]
            raise AuthFailed(
                f"{self.service} rejected {what or 'the OAuth credentials'} "
                f"({response.status_code}{': ' + detail if detail else ''}): "
                f"{self.credential_hint}", status=response.status_code)
        try:
            return response.json()
        except ValueError:
            raise AuthFailed(f"{self.service} token endpoint answered "
                             f"{response.status_code} without JSON.") from None

    # --- HTTP ---------------------------------------------------------------------------------
    def _throttle(self) -> None:
        if self._deadline is None:  # a check sends a request or two: no spacing needed
            self.throttle.wait()

    def _request_timeout(self) -> Any:
        """The client's timeout, or during a check what is left of its budget."""
        if self._deadline is None:
            return httpx.USE_CLIENT_DEFAULT
        return self._deadline.timeout(self.timeout, what=self.service)

    def guard(self, url: Any) -> None:
        """Refuse hosts on the service's own network (``syncservice.netguard``): the config's
        URLs are checked when the source opens, but a preset also follows URLs from secrets
        (a key file's token_uri) and from answers (next-page links, session URLs)."""
        host = httpx.URL(str(url)).host
        if host in self._guarded_hosts:
            return
        try:
            from syncservice import netguard

            netguard.check_url(str(url))
        except ImportError:
            pass
        except ValueError as exc:  # netguard.UnsafeDestination
            raise SourceError(self.redact(exc)) from None
        self._guarded_hosts.add(host)

    def retry_policy(self) -> RetryPolicy:
        """A fresh policy per request (``max_retries``)."""
        return RetryPolicy(total=self.max_retries)

    def _send(self, method: str, url: str, *, params: dict | None = None,
              json: Any = None, data: dict | None = None, headers: dict | None = None,
              auth: Any = httpx.USE_CLIENT_DEFAULT, authenticated: bool = True
              ) -> httpx.Response:
        """One request with throttling and retries on 429/5xx (honouring Retry-After); a 401
        with a fetched token fetches a new token and tries once more. Each attempt is a new
        request: signed again, with the current token, through the throttle."""
        self.guard(url)
        refreshed = False
        policy = self.retry_policy()
        while True:
            self._throttle()
            request_headers = {**(headers or {})}
            request_params = dict(params or {})
            if authenticated:
                request_headers.update(self.auth_headers())
                request_params = {**self._auth_params(), **request_params}
            target, query = merge_query(url, request_params)
            response = self.client.request(method, target, params=query, json=json, data=data,
                                           headers=request_headers, auth=auth,
                                           timeout=self._request_timeout())
            if response.status_code == 401 and authenticated and self.uses_token() \
                    and not refreshed:
                refreshed = True
                self.invalidate_token()
                continue
            if not policy.should_retry(response):
                return response
            policy = policy.increment()
            delay = policy.delay(response)
            if self._deadline is not None and delay >= self._deadline.left():
                return response  # a check reports this answer rather than outwait its budget
            logger.warning("%s answered %s to %s %s; retrying in %.1f s (attempt %d of %d)",
                           self.service, response.status_code, method,
                           self.redact(sanitize_url(response.request.url)), delay,
                           policy.attempts_made, self.max_retries)
            response.close()
            time.sleep(delay)

    def request(self, method: str, url: str, *, params: dict | None = None, json: Any = None,
                headers: dict | None = None) -> httpx.Response:
        """A request whose error statuses raise ``SourceError`` (``AuthFailed`` for 401/403),
        with messages free of secrets."""
        try:
            response = self._send(method, url, params=params, json=json, headers=headers)
        except SourceError:
            raise
        except httpx.HTTPError as exc:
            raise SourceError(self.redact(
                f"Cannot reach {self.service} at {sanitize_url(url)}: "
                f"{type(exc).__name__}: {exc}")) from None
        if response.status_code >= 400:
            raise self.error_for(response)
        return response

    def get(self, url: str, params: dict | None = None) -> httpx.Response:
        return self.request("GET", url, params=params)

    def error_for(self, response: httpx.Response) -> SourceError:
        code = response.status_code
        where = self.redact(sanitize_url(response.request.url))
        snippet = self.redact(" ".join(response.text.split()))[:300]
        if code in (401, 403):
            return AuthFailed(f"{self.service} rejected {self.credential_noun} ({code}): "
                              f"{self.credential_hint}. {where} answered {code}"
                              f"{': ' + snippet if snippet else ''}", status=code)
        return SourceError(f"{where} answered {code}{': ' + snippet if snippet else ''}",
                           status=code)

    def document(self, response: httpx.Response) -> Any:
        """A page's JSON, parsed from the raw bytes (orjson: no text decoding step)."""
        if not response.content:
            return {}
        try:
            return orjson.loads(response.content)
        except orjson.JSONDecodeError:
            where = self.redact(sanitize_url(response.request.url))
            raise SourceError(f"{where} answered {response.status_code} without JSON "
                              f"({response.headers.get('Content-Type') or 'no type'})."
                              ) from None

    def url(self, path: str) -> str:
        if _ABSOLUTE.match(path):
            return path
        return urljoin(self.base_url, path.lstrip("/"))

    # --- check --------------------------------------------------------------------------------
    def check_request(self) -> None:
        """The cheap authenticated request of ``check()``."""
        check = self.config.get("check") or {}
        path = check.get("path") or self.config.get("check_path") or next(
            (s["path"] for s in self.streams.values()), "")
        self.request(check.get("method", "GET"), self.url(fill(path, self.placeholders())),
                     params=check.get("params"), json=check.get("json"),
                     headers=check.get("headers"))

    def check(self, deadline: CheckDeadline | None = None) -> None:
        self._deadline = deadline = deadline or CheckDeadline.start()
        try:
            self.check_request()
        except CheckTimedOut as exc:
            raise CheckTimedOut(self.redact(exc)) from None
        except (CheckFailed, SourceError, httpx.HTTPError) as exc:
            message = self.redact(exc if not isinstance(exc, httpx.HTTPError) else
                                  f"Cannot reach {self.service} at "
                                  f"{sanitize_url(self.base_url)}: {exc}")
            if deadline.expired():  # a request cut short by the deadline
                raise deadline.exceeded(self.service, message) from None
            raise CheckFailed(message) from None
        finally:
            self._deadline = None

    # --- reading ------------------------------------------------------------------------------
    def placeholders(self, extra: dict | None = None) -> dict:
        values = {k: v for k, v in self.config.items() if isinstance(v, (str, int, float))}
        return {**values, **(extra or {})}

    def stream_for(self, entity: str) -> dict:
        stream = self.streams.get(entity)
        if stream is None:
            raise KeyError(f"{self.config.get('provider', 'http_api')} has no stream "
                           f"{entity!r}; streams: {sorted(self.streams)}")
        if stream.get("unsupported"):
            raise UnsupportedEntity(stream["unsupported"])
        return stream

    def request_params(self, stream: dict, cursor: Any, window: tuple | None,
                       values: dict) -> dict:
        """Query parameters of a stream's first page: its params and its cursor filter."""
        params = {k: v for k, v in fill(dict(stream.get("params", {})), values).items()
                  if v is not None}
        fmt = stream.get("cursor_format")
        start = window[0] if window is not None else cursor
        if start is None and stream.get("start_date"):
            start = stream["start_date"]
        if start is not None and stream.get("cursor_param"):
            params[stream["cursor_param"]] = format_cursor(start, fmt)
        if window is not None and stream.get("cursor_end_param"):
            params[stream["cursor_end_param"]] = format_cursor(window[1], fmt)
        templates = stream.get("cursor_params") if start is not None else \
            stream.get("no_cursor_params")
        if templates:
            filled = fill(templates, {**values, "cursor": format_cursor(start, fmt),
                                      "start": format_cursor(start, fmt),
                                      "end": format_cursor(window[1], fmt) if window else ""})
            params.update({k: v for k, v in filled.items() if v is not None})
        if window is not None and stream.get("window_params"):
            params.update(fill(stream["window_params"], {
                **values, "start": format_cursor(window[0], fmt),
                "end": format_cursor(window[1], fmt)}))
        return params

    def transform(self, stream: dict, records: list[dict], values: dict) -> list[dict]:
        """Shape each record: flatten, drop and add fields."""
        return shape_records(stream, records, values)

    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        stream = self.stream_for(entity)
        yield from self.read_stream(stream, cursor=cursor, window=window,
                                    entity_config=entity_config or {})

    def read_stream(self, stream: dict, *, cursor: Any = None, window: tuple | None = None,
                    entity_config: dict | None = None, values: dict | None = None
                    ) -> Iterator[Batch]:
        if stream.get("parent"):
            yield from self._read_child(stream, cursor=cursor, window=window,
                                        entity_config=entity_config or {})
            return
        incremental = IncrementalCursor.for_stream(stream, cursor, window)
        values = self.placeholders({**stream.get("defaults", {}), **(entity_config or {}),
                                    **(values or {})})
        for records in self.pages(stream, cursor=cursor, window=window, values=values):
            records, stop = incremental.page(records)
            if records:
                yield Batch(records=records, cursor=incremental.batch_cursor())
            if stop:
                break
        if incremental.needs_final_checkpoint():
            # Every record up to ``reached`` is written: checkpoint it.
            yield Batch(records=[], cursor=incremental.reached)

    def pages(self, stream: dict, *, cursor: Any = None, window: tuple | None = None,
              values: dict | None = None) -> Iterator[list[dict]]:
        """The records of each page of a stream, transformed."""
        values = values or self.placeholders()
        paginator = paginator_for(stream.get("pagination") or self.pagination, values,
                                  self.url)
        params = self.request_params(stream, cursor, window, values)
        request = PageRequest(
            url=self.url(fill(stream["path"], values)), params=params,
            body=fill(stream["json"], {**values, **params}) if stream.get("json") is not None
            else None,
            headers=fill(dict(stream.get("headers", {})), values))
        method = stream.get("method", "GET").upper()
        selector = stream.get("record_selector")
        while True:
            response = self.request(method, request.url, params=paginator.params(request),
                                    json=request.body, headers=dict(request.headers or {}))
            document = self.document(response)
            raw = select_records(document, selector)
            yield self.after_page(stream, self.transform(stream, raw, values), document,
                                  values)
            if not paginator.advance(request, response, document, raw):
                break

    def after_page(self, stream: dict, records: list[dict], document: Any,
                   values: dict) -> list[dict]:
        """Hook for presets: reshape a page's records (default: as they are)."""
        return records

    def _read_child(self, stream: dict, *, cursor: Any, window: tuple | None,
                    entity_config: dict) -> Iterator[Batch]:
        """A child entity: read for the parent records read with the same cursor."""
        yield from read_child(self, stream, cursor=cursor, window=window)


def _oauth_error(response: httpx.Response) -> str:
    """The OAuth error fields of a token endpoint's error answer ("" if none)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    return " ".join(str(body[k]) for k in ("error", "error_description", "message")
                    if body.get(k))


@register_source("http_api")
def http_api_source(config: dict, secrets: dict) -> HttpApiSource:
    return HttpApiSource(config, secrets)
