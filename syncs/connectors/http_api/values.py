"""Reading values out of JSON documents (``select``: a tiny JSON path) and filling
``{placeholder}`` templates; both run once per page or per request, never per record."""

from __future__ import annotations

import re
from typing import Any

import httpx

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_.\-]*)\}")


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


def merge_query(url: str, params: dict | None) -> tuple[Any, Any]:
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
