"""Columns read as their SQL text, decoded here, instead of through Django's converters.

Most of a list's time is Django turning column values into Python values (``from_db_value``
and the backend's converters: a datetime parsed in Python per column and row, a JSON text
through ``json.loads``), which the document then writes back as text. For two kinds of
column the text the database sends is enough:

- a datetime DRF writes in ISO 8601 in UTC (``AttributeSpec`` kind ``DATETIME`` in a UTC
  request): the database's text of the UTC instant becomes DRF's text by re-arranging it
  (``iso_text``);
- a ``JSONField``: its text parsed by orjson gives the value ``json.loads`` gives (but for
  integers orjson would read as floats, and texts orjson refuses, which ``json.loads`` reads).

Only on SQLite (datetimes stored as UTC text, JSON as text) and PostgreSQL (``::text`` in the
session's zone, which Django sets to the connection's), and only when that zone is UTC; a
text of any other shape is parsed as Django parses it. Read with ``Cast(…, TextField())``.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Callable
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, models
from django.db.models import F, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_datetime

Decode = Callable[[str], Any]
TEXT_SUFFIX = "__text"  # the row key of a column read as text: no model field has "__"

# A UTC instant as SQLite stores it ("2026-12-06 11:33:00.123456") or PostgreSQL writes it in
# a UTC session ("2026-12-06 11:33:00.1234+00": trailing zeros of the fraction dropped).
_UTC_TEXT = re.compile(r"(\d{4}-\d\d-\d\d)[ T](\d\d:\d\d:\d\d)(?:\.(\d{1,6}))?(?:Z|\+00(?::?00)?)?")
# An integer literal orjson would read as a float (beyond 64 bits): json.loads reads those.
_LONG_NUMBER = re.compile(r"\d{19}")


def iso_text(text: str) -> Any:
    """DRF's ISO text of the UTC instant ``text`` (the datetime itself, for the caller's
    converter, when the text has another shape)."""
    match = _UTC_TEXT.fullmatch(text)
    if match is None:
        return _parsed_datetime(text)
    date, time, fraction = match.groups()
    # datetime.isoformat writes six digits of microseconds, none when they are zero.
    if fraction and fraction.strip("0"):
        return f"{date}T{time}.{fraction:0<6}Z"
    return f"{date}T{time}Z"


def _parsed_datetime(text: str) -> dt.datetime:
    value = parse_datetime(text)
    if value is None:
        raise ValueError(f"not a datetime: {text!r}")
    return value if timezone.is_aware(value) else timezone.make_aware(value, dt.UTC)


def json_value(text: str) -> Any:
    """What ``JSONField.from_db_value`` reads from ``text`` (without a custom decoder)."""
    if _LONG_NUMBER.search(text) is None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # as Django returns it


def _reads_text() -> bool:
    """Whether this database's text of a column is what the decoders expect (the API's
    models live in the default database)."""
    if connection.vendor not in ("sqlite", "postgresql") or not settings.USE_TZ:
        return False
    zone = connection.timezone
    return zone is dt.UTC or getattr(zone, "key", None) in ("UTC", "Etc/UTC")


def decoder(model_field: models.Field, iso_datetime: bool) -> Decode | None:
    """How a column of ``model_field`` is decoded from its text, or None when it is read
    through Django's converters. ``iso_datetime``: the document writes the datetime as DRF's
    ISO text in UTC."""
    # A subclass converting values its own way keeps its conversion.
    converts = getattr(type(model_field), "from_db_value", None)
    if isinstance(model_field, models.DateTimeField) and converts is None:
        return iso_text if iso_datetime and _reads_text() else None
    if isinstance(model_field, models.JSONField) \
            and converts is models.JSONField.from_db_value and model_field.decoder is None:
        return json_value if _reads_text() else None
    return None


def text_expressions(keys: dict[str, Decode]) -> dict[str, Cast]:
    """The ``.values()`` expressions reading each key (a column or a joined lookup path) as
    text, by row key."""
    return {key + TEXT_SUFFIX: Cast(F(key), TextField()) for key in keys}


def decode_rows(rows: list[dict], keys: dict[str, Decode]) -> None:
    """Put each text column's decoded value under its key, in place."""
    if not keys:
        return
    reads = [(key, key + TEXT_SUFFIX, decode) for key, decode in keys.items()]
    for row in rows:
        for key, text_key, decode in reads:
            text = row[text_key]
            row[key] = None if text is None else decode(text)
