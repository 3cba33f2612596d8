"""A declarative REST source: base URL, auth, pagination, record selector, incremental cursor.

Config (see the http_api catalog entry): ``base_url``; ``auth`` {type: none | bearer |
api_key_header | api_key_query | basic, ...}; ``pagination`` {type: none | page_number |
offset | cursor | link_header | next_url, ...}; ``streams``: [{name, path, record_selector,
primary_key, cursor_field, cursor_param, params}].
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urljoin

import httpx

from syncs.connectors import Batch, CheckFailed, register_source

RETRY_STATUSES = {429, 500, 502, 503, 504}


def select(document: Any, path: str | None) -> list:
    """A tiny JSON path: "$", "data", "$.data.items"."""
    value = document
    for part in [p for p in (path or "$").removeprefix("$").split(".") if p]:
        value = value.get(part) if isinstance(value, dict) else None
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


class HttpApiSource:
    def __init__(self, config: dict, secrets: dict) -> None:
        self.config = config
        self.secrets = secrets
        self.base_url = config["base_url"].rstrip("/") + "/"
        self.streams = {s["name"]: s for s in config.get("streams", [])}
        self.pagination = config.get("pagination") or {"type": "none"}
        self.timeout = float(config.get("timeout_seconds", 30))
        self.max_retries = int(config.get("max_retries", 4))
        self.min_interval = 1.0 / float(config["requests_per_second"]) \
            if config.get("requests_per_second") else 0.0
        self._last_request = 0.0
        self.client = httpx.Client(timeout=self.timeout, headers=self._headers(),
                                   auth=self._basic_auth())

    # --- auth ---------------------------------------------------------------------------------
    def _auth(self) -> dict:
        return self.config.get("auth") or {"type": "none"}

    def _headers(self) -> dict:
        auth = self._auth()
        headers = {"Accept": "application/json", **self.config.get("headers", {})}
        if auth["type"] == "bearer":
            headers["Authorization"] = f"Bearer {self.secrets.get('token', '')}"
        elif auth["type"] == "api_key_header":
            headers[auth.get("header", "X-API-Key")] = self.secrets.get("api_key", "")
        return headers

    def _basic_auth(self):
        if self._auth()["type"] == "basic":
            return httpx.BasicAuth(self.config.get("auth", {}).get("username", ""),
                                   self.secrets.get("password", ""))
        return None

    def _auth_params(self) -> dict:
        auth = self._auth()
        if auth["type"] == "api_key_query":
            return {auth.get("param", "api_key"): self.secrets.get("api_key", "")}
        return {}

    # --- HTTP ---------------------------------------------------------------------------------
    def get(self, url: str, params: dict | None = None) -> httpx.Response:
        for attempt in range(self.max_retries + 1):
            wait = self.min_interval - (time.monotonic() - self._last_request)
            if wait > 0:
                time.sleep(wait)
            self._last_request = time.monotonic()
            response = self.client.get(url, params={**self._auth_params(), **(params or {})})
            if response.status_code not in RETRY_STATUSES or attempt == self.max_retries:
                break
            retry_after = response.headers.get("Retry-After")
            delay = float(retry_after) if retry_after and retry_after.isdigit() else \
                min(30.0, 0.5 * 2 ** attempt)
            time.sleep(delay)
        response.raise_for_status()
        return response

    def check(self) -> None:
        path = self.config.get("check_path") or next(
            (s["path"] for s in self.streams.values()), "")
        try:
            self.get(urljoin(self.base_url, path.lstrip("/")))
        except httpx.HTTPStatusError as exc:
            code = exc.response.status_code
            hint = " (check the credentials)" if code in (401, 403) else ""
            raise CheckFailed(f"{exc.request.url} answered {code}{hint}.") from None
        except httpx.HTTPError as exc:
            raise CheckFailed(f"Cannot reach {self.base_url}: {exc}") from None

    # --- reading ------------------------------------------------------------------------------
    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        stream = self.streams.get(entity)
        if stream is None:
            raise KeyError(f"http_api has no stream {entity!r}; streams: {sorted(self.streams)}")
        params = dict(stream.get("params", {}))
        cursor_field = stream.get("cursor_field")
        if cursor is not None and stream.get("cursor_param"):
            params[stream["cursor_param"]] = cursor
        if window is not None and stream.get("cursor_param"):
            params[stream["cursor_param"]] = window[0]
            if stream.get("cursor_end_param"):
                params[stream["cursor_end_param"]] = window[1]
        url = urljoin(self.base_url, stream["path"].lstrip("/"))
        kind = self.pagination.get("type", "none")
        size = int(self.pagination.get("page_size", 100))
        page = int(self.pagination.get("start_page", 1))
        offset = 0
        reached = cursor
        while True:
            page_params = dict(params)
            if kind == "page_number":
                page_params[self.pagination.get("page_param", "page")] = page
                page_params[self.pagination.get("size_param", "per_page")] = size
            elif kind == "offset":
                page_params[self.pagination.get("offset_param", "offset")] = offset
                page_params[self.pagination.get("limit_param", "limit")] = size
            response = self.get(url, page_params)
            document = response.json()
            records = select(document, stream.get("record_selector"))
            if cursor_field:
                values = [r.get(cursor_field) for r in records if r.get(cursor_field) is not None]
                if values:
                    top = max(values)
                    reached = top if reached is None or top > reached else reached
            if records:
                yield Batch(records=records, cursor=reached)
            next_url = None
            if kind == "page_number":
                page += 1
                next_url = url if len(records) >= size else None
            elif kind == "offset":
                offset += len(records)
                next_url = url if len(records) >= size else None
            elif kind == "cursor":
                token = select(document, self.pagination.get("cursor_path"))
                if token and token[0]:
                    params[self.pagination.get("cursor_param", "cursor")] = token[0]
                    next_url = url
            elif kind == "next_url":
                found = select(document, self.pagination.get("next_url_path", "next"))
                next_url = urljoin(url, found[0]) if found and found[0] else None
                if next_url:
                    url, params = next_url, {}
            elif kind == "link_header":
                link = response.links.get("next", {}).get("url")
                if link:
                    url, params, next_url = link, {}, link
            if not next_url or not records:
                break


@register_source("http_api")
def http_api_source(config: dict, secrets: dict) -> HttpApiSource:
    return HttpApiSource(config, secrets)
