"""A declarative REST source: base URL, auth, pagination, record selector, incremental cursor.

Config (see the http_api catalog entry): ``base_url``; ``auth`` {type: none | bearer |
api_key_header | api_key_query | basic | oauth2 | oauth1, ...}; ``pagination`` {type: none |
page_number | offset | cursor | link_header | next_url | header_cursor, ...}; ``streams``:
[{name, path, record_selector, primary_key, cursor_field, cursor_param, params}]; ``headers``;
``check_path``; ``max_retries``; ``timeout_seconds``; ``requests_per_second``.

The SaaS presets (``syncs.connectors.saas``) build on this engine with more keys, all optional:

auth
    ``bearer`` {secret: "token", prefix: "Bearer "}; ``api_key_header`` {header, secret:
    "api_key", prefix: ""}; ``api_key_query`` {param, secret}; ``basic`` {username |
    username_secret, password_secret: "password"}; ``oauth2`` {token_url, grant_type:
    client_credentials | refresh_token | password | ..., fields: {form field: secret name},
    params: {form field: literal}, client_auth: body | basic, header: "Authorization", prefix:
    "Bearer "} (the token is cached until it expires and fetched again once on a 401);
    ``oauth1`` {realm, consumer_key_secret, consumer_secret_secret, token_secret_name,
    token_secret_secret, signature_method: HMAC-SHA256} (OAuth 1.0a request signing).
pagination (also per stream)
    ``cursor`` {cursor_path, cursor_param, cursor_in: query | body, continue_path,
    has_more_path}; ``next_url`` {next_url_path: "links.next" | "nextRecordsUrl" | ...}
    (relative URLs resolve against the current page); ``header_cursor`` {response_header,
    request_header | request_param}; ``page_number``/``offset`` {..., has_more_path}.
stream
    ``method`` (GET/POST), ``json`` (request body), ``headers``; ``params`` (values may hold
    ``{name}`` placeholders: config keys and parent fields); ``cursor_params`` {param:
    template with ``{cursor}``/``{start}``/``{end}``} sent when a cursor or window is known
    (``no_cursor_params`` otherwise); ``cursor_format``: raw | iso8601 | iso8601_ms | epoch_ms |
    epoch_s | date; ``start_date`` used as the first cursor; ``order``: asc (the batch cursor
    is the running maximum) | desc (newest first: paging stops at the checkpoint) | unordered
    (the cursor is checkpointed once the whole stream is read); ``client_filter`` keeps only
    records past the checkpoint; ``flatten`` (a key whose object is merged into the record,
    e.g. JSON:API ``attributes``), ``add`` ({field: template}), ``drop`` (keys removed),
    ``keep`` (only these keys);
    ``parent`` {stream, vars: {placeholder: parent field}, fields: {child field: parent
    field}, embedded: list field of the parent record, ids: {param, field, chunk}} reads a
    child entity for the parent records read with the same cursor.

Error messages and logs never include secret values: every secret and every fetched token is
replaced by ``***``, and credential-like query parameters are stripped from URLs.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets as secrets_module
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, date, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urljoin, urlsplit, urlunsplit

import httpx

from syncs.connectors.sources import Batch, CheckFailed, register_source
from syncservice import outbound

logger = logging.getLogger("syncs.connectors.http_api")

RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_RETRY_AFTER = 300.0
SENSITIVE_PARAM = re.compile(
    r"(token|key|secret|password|passwd|signature|sig|code|assertion|auth|credential|session"
    r"|client_?id)",
    re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")


class SourceError(Exception):
    """A request to the source failed; the message is safe to show (no secrets)."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AuthFailed(SourceError):
    """The source (or its token endpoint) rejected the credentials."""


class UnsupportedEntity(SourceError):
    """The connector knows the entity from the catalog but cannot read it."""


# --- secrets hygiene --------------------------------------------------------------------------

def sanitize_url(url: Any) -> str:
    """``url`` without credentials: user info dropped, sensitive query values masked."""
    text = str(url)
    try:
        parts = urlsplit(text)
    except ValueError:
        return text
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = "&".join(
        f"{k}={'***' if SENSITIVE_PARAM.search(k) else quote(v, safe='')}" if v != "" else k
        for k, v in parse_qsl(parts.query, keep_blank_values=True))
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


class Redactor:
    """Replaces known secret values in text."""

    def __init__(self, values: Iterable[Any] = ()) -> None:
        self.values: set[str] = set()
        self.add(*values)

    def add(self, *values: Any) -> None:
        for value in values:
            if isinstance(value, dict):
                self.add(*value.values())
            elif isinstance(value, (list, tuple)):
                self.add(*value)
            elif isinstance(value, str) and len(value) >= 4:
                self.values.add(value)
                self.values.add(quote(value, safe=""))
                self.values.add(quote(value, safe="").replace("%20", "+"))
                if value.strip().startswith("{"):
                    self._add_json(value)

    def _add_json(self, value: str) -> None:
        import json

        try:
            document = json.loads(value)
        except ValueError:
            return
        if isinstance(document, dict):
            # A key file: its private parts are secrets (ids and emails are not worth masking).
            self.add(*[v for k, v in document.items() if "key" in k or "secret" in k
                       or "token" in k])

    def __call__(self, text: Any) -> str:
        text = str(text)
        for value in sorted(self.values, key=len, reverse=True):
            if value in text:
                text = text.replace(value, "***")
        return text


class _RedactingFilter(logging.Filter):
    """Strips credentials from the request URLs that httpx logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(sanitize_url(a) if isinstance(a, httpx.URL) else a
                                for a in record.args)
        return True


for _name in ("httpx", "httpcore"):
    if not any(isinstance(f, _RedactingFilter) for f in logging.getLogger(_name).filters):
        logging.getLogger(_name).addFilter(_RedactingFilter())


# --- small helpers ----------------------------------------------------------------------------

def select(document: Any, path: str | None) -> list:
    """A tiny JSON path: "$", "data", "$.data.items" (a key holding dots, such as
    "@odata.nextLink", is matched whole first)."""
    value = document
    literal = (path or "$").removeprefix("$").removeprefix(".")
    if literal and isinstance(document, dict) and literal in document:
        value = document[literal]
        return [] if value is None else (value if isinstance(value, list) else [value])
    for part in [p for p in (path or "$").removeprefix("$").split(".") if p]:
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def select_one(document: Any, path: str | None) -> Any:
    found = select(document, path)
    return found[0] if found else None


def fill(template: Any, values: dict) -> Any:
    """``template`` with each ``{name}`` replaced by ``values[name]`` (unknown names stay)."""
    if isinstance(template, dict):
        return {k: fill(v, values) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, values) for v in template]
    if not isinstance(template, str):
        return template
    whole = _PLACEHOLDER.fullmatch(template)
    if whole and whole.group(1) in values:
        return values[whole.group(1)]  # keep the type (lists, numbers)
    return _PLACEHOLDER.sub(
        lambda m: str(values[m.group(1)]) if m.group(1) in values else m.group(0), template)


def parse_instant(value: Any) -> datetime | None:
    """A datetime from ISO 8601 text, a date, or epoch seconds/milliseconds."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()):
        number = float(value)
        moment = datetime.fromtimestamp(number / 1000 if number > 1e11 else number, UTC)
    else:
        text = str(value).strip().replace("Z", "+00:00").replace("z", "+00:00")
        text = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)  # +0000 -> +00:00
        try:
            moment = datetime.fromisoformat(text)
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def format_cursor(value: Any, fmt: str | None) -> Any:
    """Render a cursor value the way an API filter expects it."""
    if value is None or not fmt or fmt == "raw":
        return value
    moment = parse_instant(value)
    if moment is None:
        return value
    utc = moment.astimezone(UTC)
    if fmt == "iso8601":
        return utc.strftime("%Y-%m-%dT%H:%M:%SZ")
    if fmt == "iso8601_ms":
        return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"
    if fmt == "iso8601_offset":
        return utc.isoformat(timespec="seconds")
    if fmt == "epoch_ms":
        return int(utc.timestamp() * 1000)
    if fmt == "epoch_s":
        return int(utc.timestamp())
    if fmt == "date":
        return utc.date().isoformat()
    raise ValueError(f"unknown cursor_format {fmt!r}")


def cursor_key(value: Any) -> Any:
    """A comparable form of a cursor value (datetimes compare as instants)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return (0, float(value))
    moment = parse_instant(value) if isinstance(value, str) else None
    if moment is not None and not (isinstance(value, str) and value.isdigit()):
        return (0, moment.timestamp())
    if isinstance(value, str) and value.isdigit():
        return (0, float(value))
    return (1, str(value))


def later(a: Any, b: Any) -> Any:
    """The later of two cursor values (None-safe)."""
    if a is None:
        return b
    if b is None:
        return a
    return b if cursor_key(b) > cursor_key(a) else a


def _merge_query(url: str, params: dict | None) -> tuple[Any, Any]:
    """(url, params) for httpx, which replaces a URL's query string with ``params``: the URL's
    own parameters (a next-page link's) are kept, then ``params`` (lists repeat the key)."""
    if not params:
        return url, None
    parsed = httpx.URL(url)
    if not parsed.query:
        return url, params
    pairs = list(parsed.params.multi_items())
    for key, value in params.items():
        if isinstance(value, (list, tuple)):
            pairs.extend((key, item) for item in value)
        else:
            pairs.append((key, value))
    return parsed.copy_with(query=None), pairs


def _past(value: Any, floor: Any, *, inclusive: bool) -> bool:
    """A record's cursor value is past the checkpoint (at or after a start date)."""
    if value is None:
        return True
    return cursor_key(value) > cursor_key(floor) or (
        inclusive and cursor_key(value) == cursor_key(floor))


def _percent(value: Any) -> str:
    return quote(str(value), safe="~-._")


class OAuth1(httpx.Auth):
    """OAuth 1.0a request signing (HMAC-SHA256 or HMAC-SHA1), e.g. NetSuite TBA."""

    def __init__(self, consumer_key: str, consumer_secret: str, token: str, token_secret: str,
                 realm: str | None = None, signature_method: str = "HMAC-SHA256") -> None:
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.token, self.token_secret = token, token_secret
        self.realm, self.signature_method = realm, signature_method

    def auth_flow(self, request: httpx.Request):
        request.headers["Authorization"] = self.header(request.method, str(request.url))
        yield request

    def header(self, method: str, url: str, *, timestamp: int | None = None,
               nonce: str | None = None) -> str:
        parts = urlsplit(url)
        oauth = {
            "oauth_consumer_key": self.consumer_key, "oauth_token": self.token,
            "oauth_signature_method": self.signature_method,
            "oauth_timestamp": str(timestamp or int(time.time())),
            "oauth_nonce": nonce or secrets_module.token_hex(16), "oauth_version": "1.0",
        }
        pairs = parse_qsl(parts.query, keep_blank_values=True) + list(oauth.items())
        normalized = "&".join(f"{k}={v}" for k, v in sorted(
            (_percent(k), _percent(v)) for k, v in pairs))
        base_url = urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path, "", ""))
        base = "&".join([method.upper(), _percent(base_url), _percent(normalized)])
        key = f"{_percent(self.consumer_secret)}&{_percent(self.token_secret)}"
        digest = hashlib.sha1 if self.signature_method == "HMAC-SHA1" else hashlib.sha256
        signature = base64.b64encode(hmac.new(key.encode(), base.encode(), digest).digest())
        oauth["oauth_signature"] = signature.decode()
        fields = ([f'realm="{self.realm}"'] if self.realm else []) + [
            f'{k}="{_percent(v)}"' for k, v in oauth.items()]
        return "OAuth " + ", ".join(fields)


# --- the source -------------------------------------------------------------------------------

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

    def __init__(self, config: dict, secrets: dict) -> None:
        self.config = config
        self.secrets = dict(secrets or {})
        self.redact = Redactor(self.secrets.values())
        self.base_url = config["base_url"].rstrip("/") + "/"
        self.streams = {s["name"]: s for s in config.get("streams", [])}
        self.pagination = config.get("pagination") or {"type": "none"}
        self.timeout = float(config.get("timeout_seconds", 30))
        self.max_retries = int(config.get("max_retries", 4))
        self.min_interval = 1.0 / float(config["requests_per_second"]) \
            if config.get("requests_per_second") else 0.0
        self._last_request = 0.0
        self._guarded_hosts: set[str] = set()
        self._token: str | None = None
        self._token_expires = 0.0
        # Pinned: each connection goes to the address the SSRF guard checked (no rebinding).
        self.client = outbound.client(timeout=self.timeout, headers=self._static_headers(),
                                      auth=self._client_auth(), follow_redirects=False)

    # --- auth ---------------------------------------------------------------------------------
    def _auth(self) -> dict:
        auth = self.config.get("auth") or {"type": "none"}
        if auth.get("type") == "oauth2_client_credentials":
            # The catalog's name (syncs.providers.http_api) for the engine's oauth2 grant.
            auth = {**auth, "type": "oauth2", "grant_type": "client_credentials"}
            if auth.get("scopes"):
                auth["scope"] = " ".join(auth["scopes"])
        return auth

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
        auth = self._auth()
        headers = {"Accept": "application/json", **self.config.get("headers", {})}
        if auth["type"] == "bearer":
            headers["Authorization"] = \
                f"{auth.get('prefix', 'Bearer ')}{self._secret(auth.get('secret', 'token'))}"
        elif auth["type"] == "api_key_header":
            headers[auth.get("header", "X-API-Key")] = \
                f"{auth.get('prefix', '')}{self._secret(auth.get('secret', 'api_key'))}"
        return headers

    def _client_auth(self) -> httpx.Auth | None:
        auth = self._auth()
        if auth["type"] == "basic":
            username = self._secret(auth["username_secret"]) if auth.get("username_secret") \
                else auth.get("username", "")
            return httpx.BasicAuth(username, self._secret(auth.get("password_secret",
                                                                   "password")))
        if auth["type"] == "oauth1":
            return OAuth1(self._secret(auth.get("consumer_key_secret", "consumer_key")),
                          self._secret(auth.get("consumer_secret_secret", "consumer_secret")),
                          self._secret(auth.get("token_id_secret", "token_id")),
                          self._secret(auth.get("token_secret_secret", "token_secret")),
                          realm=auth.get("realm"),
                          signature_method=auth.get("signature_method", "HMAC-SHA256"))
        return None

    def _auth_params(self) -> dict:
        auth = self._auth()
        if auth["type"] == "api_key_query":
            return {auth.get("param", "api_key"): self._secret(auth.get("secret", "api_key"))}
        return {}

    def uses_token(self) -> bool:
        """True when requests carry a token fetched from a token endpoint."""
        return self._auth()["type"] == "oauth2"

    def auth_headers(self) -> dict:
        """Headers of the fetched token (fetched when missing or expired)."""
        if not self.uses_token():
            return {}
        if self._token is None or time.monotonic() >= self._token_expires:
            with self._login():
                token, expires_in = self.fetch_token()
            self.redact.add(token)
            self._token = token
            self._token_expires = time.monotonic() + max(30.0, float(expires_in or 3600) - 60)
        auth = self._auth()
        return {auth.get("header", "Authorization"): f"{auth.get('prefix', 'Bearer ')}"
                                                    f"{self._token}"}

    def invalidate_token(self) -> None:
        self._token = None

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
            # Rotating refresh tokens: the new one replaces the stored one.
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
            detail = ""
            try:
                body = response.json()
                if isinstance(body, dict):
                    detail = " ".join(str(body[k]) for k in (
                        "error", "error_description", "message") if body.get(k))
            except ValueError:
                pass
            detail = self.redact(detail)[:300]
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
        wait = self.min_interval - (time.monotonic() - self._last_request)
        if wait > 0:
            time.sleep(wait)
        self._last_request = time.monotonic()

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

    @staticmethod
    def retry_delay(response: httpx.Response, attempt: int) -> float:
        value = (response.headers.get("Retry-After") or "").strip()
        if value:
            try:
                return min(MAX_RETRY_AFTER, max(0.0, float(value)))
            except ValueError:
                try:
                    moment = parsedate_to_datetime(value)
                    return min(MAX_RETRY_AFTER,
                               max(0.0, moment.timestamp() - time.time()))
                except (TypeError, ValueError):
                    pass
        return min(30.0, 0.5 * 2 ** attempt)

    def _send(self, method: str, url: str, *, params: dict | None = None,
              json: Any = None, data: dict | None = None, headers: dict | None = None,
              auth: Any = httpx.USE_CLIENT_DEFAULT, authenticated: bool = True
              ) -> httpx.Response:
        """One request with throttling and retries on 429/5xx (honouring Retry-After); a 401
        with a fetched token fetches a new token and tries once more."""
        self.guard(url)
        refreshed = False
        attempt = 0
        while True:
            self._throttle()
            request_headers = {**(headers or {})}
            request_params = dict(params or {})
            if authenticated:
                request_headers.update(self.auth_headers())
                request_params = {**self._auth_params(), **request_params}
            target, query = _merge_query(url, request_params)
            response = self.client.request(method, target, params=query, json=json, data=data,
                                           headers=request_headers, auth=auth)
            if response.status_code == 401 and authenticated and self.uses_token() \
                    and not refreshed:
                refreshed = True
                self.invalidate_token()
                continue
            if response.status_code not in RETRY_STATUSES or attempt >= self.max_retries:
                return response
            delay = self.retry_delay(response, attempt)
            logger.warning("%s answered %s to %s %s; retrying in %.1f s (attempt %d of %d)",
                           self.service, response.status_code, method,
                           self.redact(sanitize_url(response.request.url)), delay,
                           attempt + 1, self.max_retries)
            attempt += 1
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

    def url(self, path: str) -> str:
        if re.match(r"^https?://", path):
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

    def check(self) -> None:
        try:
            self.check_request()
        except CheckFailed as exc:
            raise CheckFailed(self.redact(exc)) from None
        except SourceError as exc:
            raise CheckFailed(self.redact(exc)) from None
        except httpx.HTTPError as exc:
            raise CheckFailed(self.redact(f"Cannot reach {self.service} at "
                                          f"{sanitize_url(self.base_url)}: {exc}")) from None

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
        flatten, drop, add = stream.get("flatten"), stream.get("drop"), stream.get("add")
        keep = stream.get("keep")
        if not (flatten or drop or add or keep):
            return records
        shaped = []
        for record in records:
            if not isinstance(record, dict):
                record = {"value": record}
            record = dict(record)
            if flatten and isinstance(record.get(flatten), dict):
                nested = record.pop(flatten)
                record = {**record, **{k: v for k, v in nested.items() if k not in record}}
            for key, template in (add or {}).items():
                record[key] = fill(template, {**values, **record})
            for key in drop or []:
                record.pop(key, None)
            if keep:
                record = {k: record.get(k) for k in keep}
            shaped.append(record)
        return shaped

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
        order = stream.get("order", "asc")
        cursor_field = stream.get("cursor_field")
        reached = cursor
        floor = cursor if cursor is not None else (window[0] if window else
                                                   stream.get("start_date"))
        values = self.placeholders({**stream.get("defaults", {}), **(entity_config or {}),
                                    **(values or {})})
        for records in self.pages(stream, cursor=cursor, window=window, values=values):
            stop = False
            if cursor_field and floor is not None and (
                    order == "desc" or stream.get("client_filter")):
                kept = [r for r in records if _past(r.get(cursor_field), floor,
                                                    inclusive=cursor is None)]
                stop = order == "desc" and len(kept) < len(records)
                if window is not None:
                    kept = [r for r in kept if r.get(cursor_field) is None
                            or cursor_key(r.get(cursor_field)) < cursor_key(window[1])]
                records = kept
            if cursor_field:
                for record in records:
                    reached = later(reached, record.get(cursor_field))
            if records:
                yield Batch(records=records, cursor=reached if order == "asc" else cursor)
            if stop:
                break
        if order != "asc" and reached != cursor:
            # Every record up to ``reached`` is written: checkpoint it.
            yield Batch(records=[], cursor=reached)

    def pages(self, stream: dict, *, cursor: Any = None, window: tuple | None = None,
              values: dict | None = None) -> Iterator[list[dict]]:
        """The records of each page of a stream, transformed."""
        values = values or self.placeholders()
        pagination = stream.get("pagination") or self.pagination
        kind = pagination.get("type", "none")
        size = int(fill(pagination.get("page_size", 100), values))
        page = int(pagination.get("start_page", 1))
        offset = 0
        method = stream.get("method", "GET").upper()
        params = self.request_params(stream, cursor, window, values)
        body = fill(stream.get("json"), {**values, **params}) if stream.get("json") is not None \
            else None
        headers = fill(dict(stream.get("headers", {})), values)
        url = self.url(fill(stream["path"], values))
        last_token = None
        while True:
            page_params = dict(params)
            page_headers = dict(headers)
            if kind == "page_number":
                page_params[pagination.get("page_param", "page")] = page
                if pagination.get("size_param", "per_page"):
                    page_params[pagination.get("size_param", "per_page")] = size
            elif kind == "offset":
                page_params[pagination.get("offset_param", "offset")] = offset
                page_params[pagination.get("limit_param", "limit")] = size
            response = self.request(method, url, params=page_params, json=body,
                                    headers=page_headers)
            document = response.json() if response.content else {}
            raw = select(document, stream.get("record_selector"))
            records = self.after_page(stream, self.transform(stream, raw, values), document,
                                      values)
            yield records
            has_more = pagination.get("has_more_path")
            if has_more and not select_one(document, has_more):
                break
            if pagination.get("last_page_path") and select_one(document,
                                                               pagination["last_page_path"]):
                break
            next_url = None
            flagged = bool(has_more or pagination.get("last_page_path"))  # the API says
            if kind == "page_number":
                page += 1
                next_url = url if (flagged or len(raw) >= size) else None
            elif kind == "offset":
                offset += len(raw)
                next_url = url if (flagged or len(raw) >= size) else None
            elif kind == "cursor":
                token = select_one(document, pagination.get("cursor_path"))
                if token and token != last_token:
                    last_token = token
                    next_url = url
                    if pagination.get("continue_path"):
                        next_url = url = self.url(fill(pagination["continue_path"], values))
                    if pagination.get("cursor_in") == "body":
                        body = {pagination.get("cursor_param", "cursor"): token} \
                            if pagination.get("continue_path") else \
                            {**(body or {}), pagination.get("cursor_param", "cursor"): token}
                    else:
                        if pagination.get("continue_path") or pagination.get("cursor_only"):
                            params = {}
                        params[pagination.get("cursor_param", "cursor")] = token
            elif kind == "next_url":
                links = select(document, pagination.get("next_url_path", "next"))
                if links and isinstance(links[0], dict):  # [{"rel": "next", "href": ...}]
                    found = next((link.get("href") for link in links
                                  if link.get("rel") == "next"), None)
                else:
                    found = links[0] if links else None
                if found and urljoin(url, found) != url:
                    next_url = url = urljoin(url, found)
                    params = {}
                    if pagination.get("body_once"):
                        body = None
            elif kind == "link_header":
                link = response.links.get("next", {}).get("url")
                if link:
                    next_url = url = urljoin(url, link)
                    params = {}
            elif kind == "header_cursor":
                token = response.headers.get(pagination.get("response_header", "X-Page-Next"))
                if token and token != last_token:
                    last_token = token
                    next_url = url
                    if pagination.get("request_header"):
                        headers = {**headers, pagination["request_header"]: token}
                    else:
                        params[pagination.get("request_param", "cursor")] = token
            if not next_url or (not raw and kind in ("page_number", "offset")):
                break

    def after_page(self, stream: dict, records: list[dict], document: Any,
                   values: dict) -> list[dict]:
        """Hook for presets: reshape a page's records (default: as they are)."""
        return records

    def _read_child(self, stream: dict, *, cursor: Any, window: tuple | None,
                    entity_config: dict) -> Iterator[Batch]:
        """A child entity: read for the parent records read with the same cursor."""
        parent = stream["parent"]
        parent_stream = self.stream_for(parent["stream"])
        ids = parent.get("ids")
        own = bool(parent.get("own_cursor"))
        parent_cursor = None if parent.get("full") or own else cursor
        reached = cursor
        for batch in self.read_stream(parent_stream, cursor=parent_cursor,
                                      window=None if parent.get("full") or own else window,
                                      entity_config={}):
            if not batch.records:  # the parent's checkpoint: the child's too
                reached = later(reached, batch.cursor)
                yield Batch(records=[], cursor=batch.cursor)
                continue
            children: list[dict] = []
            if parent.get("embedded"):
                for record in batch.records:
                    extra = {k: record.get(v) for k, v in (parent.get("fields") or {}).items()}
                    embedded = record.get(parent["embedded"])
                    if isinstance(embedded, dict):
                        embedded = [embedded]
                    for child in embedded if isinstance(embedded, list) else []:
                        children.append({**child, **extra} if isinstance(child, dict)
                                        else {"value": child, **extra})
                children = self.transform(stream, children, self.placeholders())
            elif ids:
                wanted = list(dict.fromkeys(
                    r.get(ids["field"]) for r in batch.records if r.get(ids["field"]) is not None))
                chunk = int(ids.get("chunk", 100))
                for start in range(0, len(wanted), chunk):
                    joined = ",".join(str(v) for v in wanted[start:start + chunk])
                    params = dict(stream.get("params", {}))
                    if ids.get("param"):
                        params[ids["param"]] = joined
                    child_stream = {**stream, "parent": None, "params": params}
                    for records in self.pages(child_stream, cursor=cursor if own else None,
                                              window=window if own else None,
                                              values=self.placeholders({"ids": joined})):
                        children.extend(records)
            else:
                seen: set = set()
                for record in batch.records:
                    variables = {k: record.get(v) for k, v in (parent.get("vars") or {}).items()}
                    key = tuple(sorted(variables.items(), key=lambda kv: kv[0]))
                    if key in seen or any(v is None for v in variables.values()):
                        continue
                    seen.add(key)
                    extra = {k: record.get(v) for k, v in (parent.get("fields") or {}).items()}
                    child_stream = {**stream, "parent": None}
                    for records in self.pages(child_stream, cursor=cursor if own else None,
                                              window=window if own else None,
                                              values=self.placeholders(variables)):
                        children.extend({**r, **extra} for r in records)
            if own:
                cursor_field = stream.get("cursor_field")
                if cursor_field and cursor is not None and stream.get("client_filter"):
                    children = [r for r in children if r.get(cursor_field) is None
                                or cursor_key(r.get(cursor_field)) > cursor_key(cursor)]
                for child in children:
                    reached = later(reached, child.get(cursor_field)) if cursor_field \
                        else reached
                if children:
                    yield Batch(records=children, cursor=cursor)
                continue
            reached = later(reached, batch.cursor)
            yield Batch(records=children, cursor=batch.cursor)
        if own and reached != cursor:
            yield Batch(records=[], cursor=reached)


@register_source("http_api")
def http_api_source(config: dict, secrets: dict) -> HttpApiSource:
    return HttpApiSource(config, secrets)
