"""Secrets hygiene: credentials never reach error messages or logs. ``sanitize_url`` strips
user info and masks credential-like query values; ``Redactor`` replaces known secret values
(and their URL-encoded forms); httpx's and httpcore's request logs get URLs sanitised."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

import httpx

SENSITIVE_PARAM = re.compile(
    r"(token|key|secret|password|passwd|signature|sig|code|assertion|auth|credential|session"
    r"|client_?id)",
    re.IGNORECASE)


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


class RedactingFilter(logging.Filter):
    """Strips credentials from the request URLs that httpx logs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.args and isinstance(record.args, tuple):
            record.args = tuple(sanitize_url(a) if isinstance(a, httpx.URL) else a
                                for a in record.args)
        return True


def install_log_filter() -> None:
    """Once per process: httpx and httpcore log request URLs (with their query strings)."""
    for name in ("httpx", "httpcore"):
        if not any(isinstance(f, RedactingFilter) for f in logging.getLogger(name).filters):
            logging.getLogger(name).addFilter(RedactingFilter())
