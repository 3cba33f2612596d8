"""Columns read as SQL text, instead of through Django's converters.

Most of a list's time is Django turning column values into Python values (``from_db_value``
and the backend's converters: a datetime parsed in Python per column and row, a JSON text
through ``json.loads``), which the document then writes back as text. For two kinds of
column the text the database sends is enough:

- a datetime DRF writes in ISO 8601 in UTC (``AttributeSpec`` kind ``DATETIME`` in a UTC
  request): the database writes DRF's text itself (``DatetimeText``); a stored text of
  another shape comes as it is, and the recipe's converter parses it (``iso_text``);
- a ``JSONField``: its text parsed by orjson gives the value ``json.loads`` gives (but for
  integers orjson would read as floats, and texts orjson refuses, which ``json.loads`` reads).

- a UUID (a ``UUIDField``, or a foreign key to one): its canonical text ``str(UUID)``, which
  is what the document writes (ids, linkage, links), so every UUID column of a document built
  from rows is read this way, keys included (``uuid_text``): the rows' keys then agree across
  joins, to-many grouping and row hooks without a ``UUID`` made and written back per value.

Only on SQLite (datetimes stored as UTC text, JSON as text) and PostgreSQL (``::text`` in the
session's zone, which Django sets to the connection's), and only when that zone is UTC; a
text of any other shape is parsed as Django parses it.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from django.conf import settings
from django.db import connection, models
from django.db.models import F, Func, TextField
from django.db.models.expressions import Expression
from django.db.models.functions import Cast
from django.utils import timezone
from django.utils.dateparse import parse_datetime

Decode = Callable[[str], Any]


@dataclass(frozen=True)
class TextRead:
    """How a column is read as text: the SQL of a key, and the decoding of its text (None:
    the text is the value)."""

    expression: Callable[[str], Expression]
    decode: Decode | None


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
    # (A text shorter than a long number has none: most are, "{}", "[]", "null"...)
    if len(text) < 19 or _LONG_NUMBER.search(text) is None:
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


class DatetimeText(Func):
    """DRF's ISO 8601 text of a datetime column (``…T…[.ffffff]Z``), written by the
    database; on SQLite, a stored text of another shape than Django's is returned as it is."""

    output_field = TextField()
    arity = 1
    _DATE = "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9] [0-9][0-9]:[0-9][0-9]:[0-9][0-9]"
    # Django stores str(datetime): no fraction, or six digits that are not all zeros.
    _SQLITE = (f"CASE WHEN {{x}} GLOB '{_DATE}' OR ({{x}} GLOB '{_DATE}.{'[0-9]' * 6}' "
               "AND {x} NOT GLOB '*.000000') THEN replace({x}, ' ', 'T') || 'Z' "
               "ELSE CAST({x} AS text) END")
    # In UTC; microseconds only when there are some, as datetime.isoformat writes them.
    _POSTGRESQL = ("to_char({x} AT TIME ZONE 'UTC', CASE WHEN to_char({x}, 'US') = '000000' "
                   "THEN 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"' "
                   "ELSE 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"' END)")

    def _sql(self, compiler, template: str) -> tuple[str, list]:
        sql, params = compiler.compile(self.source_expressions[0])
        return template.replace("{x}", sql), list(params) * template.count("{x}")

    def as_sqlite(self, compiler, connection, **extra):
        return self._sql(compiler, self._SQLITE)

    def as_postgresql(self, compiler, connection, **extra):
        return self._sql(compiler, self._POSTGRESQL)


def uuid_value_text(text: str) -> str:
    """``str(UUID)`` of a stored UUID text ``UuidText`` did not recognise (SQLite: its text in
    braces, which ``UUID`` strips), as Django's converter would read it."""
    return text if len(text) == 36 else str(uuid.UUID(text))


class UuidText(Func):
    """``str(UUID)`` of a UUID column, written by the database. PostgreSQL: the ``uuid``
    type's text is that. SQLite stores Django's ``UUID.hex`` (32 lower-case hex digits), given
    its dashes here; a stored text of another shape comes in braces for ``uuid_value_text``."""

    output_field = TextField()
    arity = 1
    _HEX32 = "[0-9a-f]" * 32
    _SQLITE = (f"CASE WHEN {{x}} GLOB '{_HEX32}' THEN substr({{x}}, 1, 8) || '-' || "
               "substr({x}, 9, 4) || '-' || substr({x}, 13, 4) || '-' || "
               "substr({x}, 17, 4) || '-' || substr({x}, 21) "
               "ELSE '{' || CAST({x} AS text) || '}' END")

    def as_sqlite(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return self._SQLITE.replace("{x}", sql), list(params) * self._SQLITE.count("{x}")

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql})::text", params


DATETIME_TEXT = TextRead(lambda key: DatetimeText(F(key)), None)
JSON_TEXT = TextRead(lambda key: Cast(F(key), TextField()), json_value)
UUID_TEXT = {"postgresql": TextRead(lambda key: UuidText(F(key)), None),
             "sqlite": TextRead(lambda key: UuidText(F(key)), uuid_value_text)}


def is_uuid_text(read: TextRead) -> bool:
    """Whether ``read`` reads a UUID's text (a text equal to ``str`` of the value)."""
    return any(read is uuid_text for uuid_text in UUID_TEXT.values())


def is_uuid(model_field: models.Field) -> bool:
    """Whether the column of ``model_field`` holds a ``UUIDField``'s values (a foreign key:
    its target's), converted by Django's own conversion."""
    target = model_field.target_field if model_field.is_relation else model_field
    return isinstance(target, models.UUIDField) \
        and getattr(type(target), "from_db_value", None) is None


def uuid_read(model_field: models.Field) -> TextRead | None:
    """How a UUID column of ``model_field`` is read as text on this database, or None (not
    a UUID column, or a database whose text of it is not known here)."""
    return UUID_TEXT.get(connection.vendor) if is_uuid(model_field) else None


def uuid_reads(model: type[models.Model], columns: list[str]) -> dict[str, TextRead]:
    """The UUID columns among ``columns`` (attnames of ``model``), with their text reads."""
    reads = {}
    for column in columns:
        read = uuid_read(model._meta.get_field(column))
        if read is not None:
            reads[column] = read
    return reads


def decoder(model_field: models.Field, iso_datetime: bool) -> TextRead | None:
    """How a column of ``model_field`` is read as text, or None when it is read through
    Django's converters. ``iso_datetime``: the document writes the datetime as DRF's ISO
    text in UTC."""
    # A subclass converting values its own way keeps its conversion.
    converts = getattr(type(model_field), "from_db_value", None)
    if isinstance(model_field, models.DateTimeField) and converts is None:
        return DATETIME_TEXT if iso_datetime and _reads_text() else None
    if isinstance(model_field, models.JSONField) \
            and converts is models.JSONField.from_db_value and model_field.decoder is None:
        return JSON_TEXT if _reads_text() else None
    return None


def text_expressions(keys: dict[str, TextRead]) -> dict[str, Expression]:
    """The ``.values()`` expressions reading each key (a column or a joined lookup path) as
    text, by row key."""
    return {key + TEXT_SUFFIX: read.expression(key) for key, read in keys.items()}


def decode_rows(rows: list[dict], keys: dict[str, TextRead]) -> None:
    """Put each text column's value under its key, in place."""
    if keys:
        _row_decoder(tuple((key, read.decode) for key, read in keys.items()))(rows)


@functools.lru_cache(maxsize=256)  # a few shapes per resource type and sparse fieldset
def _row_decoder(reads: tuple[tuple[str, Decode | None], ...]) -> Callable[[list[dict]], None]:
    """``decode_rows`` of these (key, decoding) pairs, as one function with a statement per
    key: a page has thousands of rows of some twenty keys, where a loop over the keys per
    row costs more than the decoding itself."""
    lines = ["def decode(rows):", "    for row in rows:"]
    names: dict[str, Decode] = {}
    for index, (key, decode) in enumerate(reads):
        text_key = key + TEXT_SUFFIX
        if decode is None:
            lines.append(f"        row[{key!r}] = row[{text_key!r}]")
            continue
        name = f"decode{index}"
        names[name] = decode
        lines.append(f"        text = row[{text_key!r}]")
        lines.append(f"        row[{key!r}] = text if text is None else {name}(text)")
    namespace: dict[str, Any] = dict(names)
    exec(compile("\n".join(lines), "<read path row decoder>", "exec"), namespace)  # noqa: S102
    return namespace["decode"]
