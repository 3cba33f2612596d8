"""Plain SQL tables (e.g. the warehouse tables the syncs load) as exportable resources.

``TableResource(name, table, using="default", project_column=None)`` implements the
``ExportableResource`` protocol of ``exports.resources`` for a table that has no Django model:

- columns: every column of the table, in table order (introspected on each call, so a column
  added by a later sync shows up); ``fields`` selects columns, and a column named ``id`` is
  always kept, as in the API's sparse fieldsets; ``includes`` are not supported.
- filters: the API's grammar on every column: ``name``, ``name__in`` (comma list, at most
  1000 items), ``name__gte``, ``name__lte``; values are parsed by the column's type (integer,
  float, decimal, boolean, date, time, ISO 8601 datetime with an offset, uuid, text). JSON
  columns and columns of other types cannot be filtered; booleans take no range.
- rows: ordered by the primary key (table order when there is none), streamed: a server-side
  cursor on PostgreSQL (``chunked_cursor``; outside a transaction on a connection of its own,
  see ``TableResource._reader``), ``fetchmany`` on SQLite. Values as the API writes them:
  datetimes ISO 8601 in UTC with ``Z`` (naive ones are UTC, as Django stores them), dates and
  times ISO, uuids and decimals as strings (decimals in plain notation, ``0.0000001``, never
  ``1E-7``), JSON parsed. On PostgreSQL the SELECT itself writes those strings (the text
  Python would write, checked by the tests, at half the cost); on SQLite Python converts.
- project scoping: ``WHERE <project_column> = project.pk`` when ``project_column`` is set.

CSV fast path (PostgreSQL): ``csv_batches`` / ``copy_csv`` stream ``COPY (SELECT ...) TO STDOUT
WITH (FORMAT csv)``; the SELECT formats every value in SQL the way ``CsvWriter`` writes the
Python path's value, so both paths give the same bytes (``\\r\\n`` line ends included). Known
differences, all rare:

- JSON objects/arrays: numbers *inside* them keep the text PostgreSQL stores (``12.50``,
  ``0.0000001``), where the Python path goes through a float (``12.5``, ``1e-7``); integers
  beyond 64 bits make ``orjson`` (the Python path) fail while COPY writes them. Top-level JSON
  numbers, strings, booleans and nulls are identical.
- ``json`` (not ``jsonb``) columns are read as ``jsonb`` on both paths: keys in jsonb order,
  duplicate keys collapsed (the last wins, as ``json.loads`` does).
- A one-column row whose value is ``\\.`` is quoted by COPY (its end-of-data marker).
- Values Python cannot represent: timestamps ``infinity`` give an empty cell, BC dates and
  years beyond 9999 are written by ``to_char`` (``4713-01-01``, ``12000-01-01``) on both paths
  (the driver could not load them); a top-level JSON number beyond the float range fails COPY.
- Floats: the fast path's connection sets ``extra_float_digits = 1`` (shortest round-trip
  output, what Python's ``repr`` prints); the Python path reads floats through the driver's
  text, exact unless the server sets ``extra_float_digits <= 0`` (not the default).

The fast path reads on a connection of its own (a COPY holds its connection until it ends,
and the export job writes its progress between batches), so it sees committed rows only.
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import io
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import IO, Any

import orjson
from django.conf import settings
from django.db import connections
from django.utils import dateparse

from exports.resources import Row
from syncservice.jsonapi.errors import InvalidAttribute
from syncservice.jsonapi.filters import MAX_IN_VALUES

LOOKUPS = ("in", "gte", "lte")
INT64 = (-(2**63), 2**63 - 1)

# PostgreSQL type OIDs → (kind, type name used in SQL).
_PG_TYPES: dict[int, tuple[str, str]] = {
    16: ("bool", "boolean"),
    20: ("int", "bigint"), 21: ("int", "smallint"), 23: ("int", "integer"),
    700: ("float", "real"), 701: ("float", "double precision"),
    1700: ("decimal", "numeric"),
    1082: ("date", "date"), 1083: ("time", "time"),
    1114: ("datetime", "timestamp"), 1184: ("datetime", "timestamptz"),
    2950: ("uuid", "uuid"),
    114: ("json", "json"), 3802: ("json", "jsonb"),
    25: ("text", "text"), 1043: ("text", "varchar"), 1042: ("text", "bpchar"),
    19: ("text", "name"),
}

# SQLite declared types (lower case, without "(...)") → kind; anything else containing "int"
# is an integer (SQLite's own affinity rule).
_SQLITE_TYPES: dict[str, str] = {
    "bool": "bool", "boolean": "bool",
    "real": "float", "float": "float", "double": "float", "double precision": "float",
    "decimal": "decimal", "numeric": "decimal",
    "date": "date", "time": "time", "datetime": "datetime", "timestamp": "datetime",
    "timestamptz": "datetime", "timestamp with time zone": "datetime",
    "uuid": "uuid", "json": "json", "jsonb": "json",
    "text": "text", "varchar": "text", "char": "text", "character": "text",
    "character varying": "text", "varying character": "text", "nchar": "text",
    "nvarchar": "text", "clob": "text", "": "text",
}


@dataclass(frozen=True)
class TableColumn:
    name: str
    kind: str  # int float decimal bool date time datetime uuid json text other
    sql_type: str | None = None  # PostgreSQL: the type as _PG_TYPES names it
    scale: int | None = None  # decimal places, when the type declares them


@dataclass(frozen=True)
class TableShape:
    columns: tuple[TableColumn, ...]
    primary_key: tuple[str, ...]

    def column(self, name: str) -> TableColumn | None:
        for column in self.columns:
            if column.name == name:
                return column
        return None


class TableMissing(LookupError):
    pass


# --- values as the API writes them ----------------------------------------------------------

def _iso_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        if not settings.USE_TZ:
            return value.isoformat()
        value = value.replace(tzinfo=dt.UTC)  # naive values are UTC, as Django stores them
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


_LONG_DIGITS = re.compile(r"\d{19}")


def _parse_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if _LONG_DIGITS.search(value):
            return json.loads(value)  # orjson reads integers beyond 64 bits as floats
        return orjson.loads(value)
    except ValueError:  # orjson.JSONDecodeError too
        return value  # SQLite: a "json" column without a json_valid() check


def _decimal_text(value: Any, scale: int | None = None) -> str:
    if isinstance(value, float):
        value = decimal.Decimal(repr(value))
    elif not isinstance(value, decimal.Decimal):
        value = decimal.Decimal(str(value))
    if scale is not None and value.is_finite():
        value = value.quantize(decimal.Decimal(1).scaleb(-scale))
    return format(value, "f")


def _converter(column: TableColumn, vendor: str) -> Callable[[Any], Any] | None:
    """What turns the driver's value into the API's. On PostgreSQL the SELECT already gives
    the API's text for datetimes, dates, times, uuids and decimals (``_sql_api``)."""
    kind = column.kind
    if vendor == "postgresql":
        return (lambda v: None if v is None else _parse_json(v)) if kind == "json" else None
    if kind == "datetime":
        def convert(v):
            if isinstance(v, str):
                v = _try(dateparse.parse_datetime, v) or v
            return _iso_datetime(v) if isinstance(v, dt.datetime) else v
    elif kind in ("date", "time"):
        parse = dateparse.parse_date if kind == "date" else dateparse.parse_time

        def convert(v):
            if isinstance(v, str):
                v = _try(parse, v) or v
            return v.isoformat() if isinstance(v, (dt.date, dt.time)) else v
    elif kind == "uuid":
        def convert(v):
            try:
                return str(v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)))
            except ValueError:
                return str(v)
    elif kind == "decimal":
        def convert(v):  # SQLite may hand back a float or an int: the declared scale
            try:
                return _decimal_text(v, column.scale)
            except (decimal.InvalidOperation, ValueError):
                return str(v)
    elif kind == "json":
        convert = _parse_json
    elif kind == "bool":  # SQLite: 0/1 unless the declared type is "bool"
        def convert(v):
            return bool(v) if isinstance(v, int) else v
    else:
        return None
    return lambda v: None if v is None else convert(v)


# --- filter values --------------------------------------------------------------------------

_SPACE_OFFSET = re.compile(r" (\d{2}(?::?\d{2})?)$")  # "+02:00" unencoded in a query string
_INTEGER = re.compile(r"[+-]?\d+")
_TRUE, _FALSE = ("true", "1"), ("false", "0")


def _parse_value(kind: str, raw: str) -> Any:
    """The value of a filter on a column of ``kind``; ValueError with a message if malformed."""
    text = raw.strip()
    if kind == "int":
        if not _INTEGER.fullmatch(text):
            raise ValueError("Enter a whole number.")
        value = int(text)
        if not INT64[0] <= value <= INT64[1]:
            raise ValueError("The number is out of range.")
        return value
    if kind in ("float", "decimal"):
        try:
            value = float(text) if kind == "float" else decimal.Decimal(text)
        except (ValueError, decimal.InvalidOperation):
            raise ValueError("Enter a number.") from None
        finite = value.is_finite() if kind == "decimal" else abs(value) != float("inf")
        if not finite or value != value:
            raise ValueError("Enter a finite number.")
        return value
    if kind == "bool":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError("Enter true or false.")
    if kind == "date":
        value = _try(dateparse.parse_date, text)
        if value is None:
            raise ValueError("Enter a date as YYYY-MM-DD.")
        return value
    if kind == "time":
        value = _try(dateparse.parse_time, text)
        if value is None or value.tzinfo is not None:
            raise ValueError("Enter a time as HH:MM[:SS[.ffffff]].")
        return value
    if kind == "datetime":
        text = _SPACE_OFFSET.sub(r"+\1", text)
        value = _try(dateparse.parse_datetime, text)
        if value is None:
            day = _try(dateparse.parse_date, text)
            if day is None:
                raise ValueError("Enter an ISO 8601 date/time, e.g. 2026-01-31T12:00:00Z.")
            value = dt.datetime.combine(day, dt.time())
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)
    if kind == "uuid":
        try:
            return uuid.UUID(text)
        except ValueError:
            raise ValueError("Enter a valid UUID.") from None
    return raw  # text: as given


def _try(parse, text):
    try:
        return parse(text)
    except ValueError:
        return None


# --- SQL formatting for the CSV fast path ---------------------------------------------------
# Each function returns a SQL expression (text, or NULL for an empty cell) that prints what
# CsvWriter prints for the Python path's value of the column. None of them contains "%".

_TS_US = 'YYYY-MM-DD"T"HH24:MI:SS.US'
_BIG = "9007199254740992"  # 2**53: from here on every float8 is an integer
_MAX = "1.7976931348623157e308"  # the largest float8, as a numeric


def _sql_fixed(text: str) -> str:
    """Python's fixed notation of a float printed by PostgreSQL as ``text``."""
    fixed = f"(({text})::numeric)::text"
    return f"(CASE WHEN strpos({fixed}, '.') > 0 THEN {fixed} ELSE {fixed} || '.0' END)"


def _sql_small_float(text: str) -> str:
    """``repr(float(text))`` for PostgreSQL's shortest round-trip float output ``text``."""
    exponent = f"split_part({text}, 'e', 2)::int"
    return (f"(CASE WHEN {text} = 'NaN' THEN 'nan' WHEN {text} = 'Infinity' THEN 'inf' "
            f"WHEN {text} = '-Infinity' THEN '-inf' "
            f"WHEN strpos({text}, 'e') > 0 THEN (CASE WHEN {exponent} BETWEEN -4 AND 15 "
            f"THEN {_sql_fixed(text)} ELSE {text} END) "
            f"WHEN strpos({text}, '.') > 0 THEN {text} ELSE {text} || '.0' END)")


def _sql_big_float(value: str) -> str:
    """``repr(value)`` for a float8 of magnitude >= 2**53 (an integer): PostgreSQL prints its
    exact digits, Python the shortest that round-trip, found here among 15 and 16 digits.
    Written out in full, without subqueries: a subquery in the SELECT list would keep
    PostgreSQL from computing the expressions in parallel workers (only such values run it)."""
    number = f"(({value})::text)::numeric"
    exponent = f"(length(trunc(abs({number}))::text) - 1)"

    def rounded(digits: int) -> str:
        return f"round({number}, {digits - 1} - {exponent})"

    def trips(candidate: str) -> str:  # (a candidate past the largest float8 never does)
        return (f"CASE WHEN abs({candidate}) <= {_MAX} THEN ({candidate})::float8 = {value} "
                "END")

    shortest = (f"(CASE WHEN {trips(rounded(15))} THEN {rounded(15)} "
                f"WHEN {trips(rounded(16))} THEN {rounded(16)} ELSE {number} END)")
    return (f"(CASE WHEN length(trunc(abs({shortest}))::text) < 17 "
            f"THEN trunc({shortest})::text || '.0' "
            f"ELSE regexp_replace(btrim(to_char({shortest}, '9.9999999999999999EEEE')), "
            f"'\\.?0+e', 'e') END)")


def _sql_float(value: str, sql_type: str | None) -> str:
    if sql_type == "real":  # at most 9 digits: Python's repr of the parsed text has the same
        return _sql_small_float(f"({value})::text")
    double = f"({value})::float8"
    # (PostgreSQL sorts NaN above every number, and NaN = NaN)
    return (f"(CASE WHEN abs({double}) >= {_BIG} AND abs({double}) <> 'Infinity'::float8 "
            f"AND {double} <> 'NaN'::float8 THEN {_sql_big_float(double)} "
            f"ELSE {_sql_small_float(f'({double})::text')} END)")


# jsonb::text puts one space after each ":" and ","; orjson writes none. json_strip_nulls
# re-writes JSON compactly (same escapes as jsonb::text) but drops object members that are null,
# so it serves only when the text has no ": null"; else dropping those spaces blindly is right
# unless a string had ", " or ": " in it (then the result no longer equals the value); else a
# regular expression that steps over string literals (about 10 times slower than the others).
_JSON_TOKEN = r"""'("(?:[^"\\]|\\.)*"|[^" ]+) ?'"""


def _sql_json(quoted: str, sql_type: str | None) -> str:
    value = quoted if sql_type == "jsonb" else f"CAST({quoted} AS jsonb)"
    text = f"({value})::text"
    blind = f"replace(replace({text}, ', ', ','), ': ', ':')"
    compact = (f"(CASE WHEN strpos({text}, ': null') = 0 THEN json_strip_nulls(to_json({value}))"
               f"::text WHEN ({blind})::jsonb = {value} THEN {blind} "
               f"ELSE regexp_replace({text}, {_JSON_TOKEN}, '\\1', 'g') END)")
    number = (f"(CASE WHEN strpos({text}, '.') > 0 THEN {_sql_float(text, None)} "
              f"ELSE {text} END)")
    return (f"(CASE jsonb_typeof({value}) WHEN 'object' THEN {compact} "
            f"WHEN 'array' THEN {compact} WHEN 'string' THEN NULLIF({value} #>> '{{}}', '') "
            f"WHEN 'boolean' THEN {text} WHEN 'number' THEN {number} END)")


def _sql_datetime(value: str, pattern: str = _TS_US) -> str:
    # isoformat() leaves out a zero fraction; ".000000" cannot occur elsewhere in the text.
    return f"replace(to_char({value}, '{pattern}'), '.000000', '')"


def _sql_api(column: TableColumn, quoted: str) -> str:
    """The Python path's SELECT expression on PostgreSQL: the API's text for the types whose
    API value is a string (cheaper than converting the driver's objects in Python, and the same
    text), JSON as text (parsed in Python), numbers and booleans as they are."""
    kind = column.kind
    if kind in ("date", "time", "datetime"):
        return _sql_csv(column, quoted)
    if kind in ("uuid", "decimal", "other"):
        return f"CAST({quoted} AS text)"
    if kind == "json":
        return f"CAST(CAST({quoted} AS jsonb) AS text)"
    return quoted


def _sql_csv(column: TableColumn, quoted: str) -> str:
    kind, sql_type = column.kind, column.sql_type
    if kind in ("int", "decimal", "uuid"):
        return quoted  # COPY prints them as Python does (Decimal via format(v, "f"))
    if kind == "bool":
        return f"({quoted})::text"
    if kind == "float":
        return _sql_float(quoted, sql_type)
    if kind == "date":
        return f"to_char({quoted}, 'YYYY-MM-DD')"
    if kind == "time":
        return _sql_datetime(f"(DATE '2000-01-01' + {quoted})", "HH24:MI:SS.US")
    if kind == "datetime":
        # (a fixed offset: no time zone lookup per row)
        utc = (f"({quoted} AT TIME ZONE INTERVAL '+00:00')" if sql_type == "timestamptz"
               else quoted)
        suffix = " || 'Z'" if settings.USE_TZ else ""
        return f"({_sql_datetime(utc)}{suffix})"
    if kind == "json":
        return _sql_json(quoted, sql_type)
    text = quoted if kind == "text" else f"CAST({quoted} AS text)"
    # octet_length, not = '': a blank-padded char(n) of spaces is not empty.
    return f"(CASE WHEN octet_length({text}) > 0 THEN {text} END)"


def csv_header(columns: Sequence[str]) -> bytes:
    """The header line exactly as ``CsvWriter`` writes it."""
    text = io.StringIO(newline="")
    csv.writer(text).writerow(list(columns))
    return text.getvalue().encode("utf-8")


class CsvLines:
    """CSV lines of a batch of rows, as one ``bytes`` (``bytes(lines)``); ``len()`` counts the
    rows and slicing (``lines[:n]``, ``lines[n:]``) cuts between rows, so a file sink can split
    them as it splits a list of rows."""

    __slots__ = ("data", "sizes")

    def __init__(self, data: bytes, sizes: list[int]) -> None:
        self.data = data
        self.sizes = sizes  # of each line in data

    @classmethod
    def from_copy(cls, data: bytes | bytearray, sizes: list[int]) -> CsvLines:
        """COPY's rows, concatenated in ``data`` (each of ``sizes`` bytes, ending with "\\n"),
        with csv.writer's "\\r\\n" line ends."""
        if data.count(b"\n") == len(sizes):  # no line break inside a quoted value
            text = bytes(data.replace(b"\n", b"\r\n"))
        else:
            view, lines, start = memoryview(data), [], 0
            for size in sizes:
                lines.append(view[start:start + size - 1])
                start += size
            text = b"\r\n".join(lines) + b"\r\n"
        return cls(text, [size + 1 for size in sizes])

    def __len__(self) -> int:
        return len(self.sizes)

    def __bytes__(self) -> bytes:
        return self.data

    def __getitem__(self, key: slice) -> CsvLines:
        if not isinstance(key, slice):
            raise TypeError("CsvLines are sliced, not indexed")
        start, stop, step = key.indices(len(self.sizes))
        if step != 1:
            raise ValueError("CsvLines slices take no step")
        if start == 0 and stop >= len(self.sizes):
            return self
        if start >= stop:
            return CsvLines(b"", [])
        begin = sum(self.sizes[:start])
        end = begin + sum(self.sizes[start:stop])
        return CsvLines(self.data[begin:end], self.sizes[start:stop])

    def __repr__(self) -> str:
        return f"<CsvLines: {len(self)} rows, {len(self.data)} bytes>"


# --- the resource -----------------------------------------------------------------------------

class TableResource:
    """An exportable resource backed by a plain SQL table (see the module's docstring)."""

    def __init__(self, name: str, table: str, using: str = "default",
                 project_column: str | None = None) -> None:
        self.name = name
        self.table = table
        self.using = using
        self.project_column = project_column

    def __repr__(self) -> str:
        return f"TableResource({self.name!r}, table={self.table!r}, using={self.using!r})"

    @property
    def connection(self):
        return connections[self.using]

    # --- introspection -----------------------------------------------------------------------
    def shape(self) -> TableShape:
        connection = self.connection
        introspection = connection.introspection
        with connection.cursor() as cursor:
            if self.table not in introspection.table_names(cursor):
                raise TableMissing(f"The table {self.table!r} of the resource {self.name!r} does "
                                   f"not exist in the database {self.using!r}.")
            description = introspection.get_table_description(cursor, self.table)
            primary_key = introspection.get_primary_key_columns(cursor, self.table) or []
        columns = tuple(self._column(info, connection.vendor) for info in description)
        if self.project_column and self.project_column not in {c.name for c in columns}:
            raise TableMissing(f"The table {self.table!r} has no column "
                               f"{self.project_column!r} (the resource's project column).")
        return TableShape(columns, tuple(primary_key))

    @staticmethod
    def _column(info, vendor: str) -> TableColumn:
        if vendor == "postgresql":
            kind, sql_type = _PG_TYPES.get(info.type_code, ("other", None))
            scale = info.scale if kind == "decimal" and (info.scale or 0) >= 0 else None
            return TableColumn(info.name, kind, sql_type, scale)
        declared = str(info.type_code or "").lower().strip()
        base = declared.split("(", 1)[0].strip()
        if getattr(info, "has_json_constraint", False):
            kind = "json"
        elif base in _SQLITE_TYPES:
            kind = _SQLITE_TYPES[base]
        elif "int" in base:
            kind = "int"
        elif "char" in base or "text" in base:
            kind = "text"
        else:
            kind = "other"
        scale = None
        match = re.search(r"\(\s*\d+\s*,\s*(\d+)\s*\)", declared)
        if kind == "decimal" and match:
            scale = int(match.group(1))
        return TableColumn(info.name, kind, base, scale)

    # --- the protocol --------------------------------------------------------------------------
    def validate(self, filters: Mapping[str, str], fields: Sequence[str],
                 includes: Sequence[str]) -> None:
        try:
            shape = self.shape()
        except TableMissing as exc:
            raise InvalidAttribute("resource_type", str(exc)) from None
        names = [c.name for c in shape.columns]
        for index, name in enumerate(fields):
            if name not in names:
                raise InvalidAttribute(
                    "fields", f"Unknown field {name!r} of {self.name}; fields: "
                              f"{', '.join(names)}.", pointer=f"/data/attributes/fields/{index}")
        if includes:
            raise InvalidAttribute(
                "includes", f"{self.name} has no relationships to include: `includes` is not "
                            f"supported for a table export (got {includes[0]!r}).",
                pointer="/data/attributes/includes/0")
        self._where(shape, None, filters)

    def columns(self, fields: Sequence[str], includes: Sequence[str]) -> list[str]:
        return [c.name for c in self._selected(self.shape(), fields)]

    def count(self, project, filters: Mapping[str, str]) -> int:
        shape = self.shape()
        where, params = self._where(shape, project, filters)
        sql = f"SELECT COUNT(*) FROM {self._quote(self.table)}{where}"
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()[0]

    def batches(self, project, filters: Mapping[str, str], fields: Sequence[str],
                includes: Sequence[str], batch_size: int) -> Iterator[list[Row]]:
        """Rows in lists of ``batch_size``, streamed: on PostgreSQL a server-side cursor
        (Django's ``chunked_cursor``), on SQLite ``fetchmany``; see ``_reader``."""
        shape = self.shape()
        selected = self._selected(shape, fields)
        connection = self.connection
        vendor = connection.vendor
        names = [c.name for c in selected]
        converters = [_converter(c, vendor) for c in selected]
        expressions = [self._python_expression(c) for c in selected]
        where, params = self._where(shape, project, filters)
        sql = (f"SELECT {', '.join(expressions)} FROM {self._quote(self.table)}{where}"
               f"{self._order_by(shape)}")
        pairs = list(zip(names, converters, strict=True))
        plain = all(convert is None for convert in converters)
        with self._reader() as reader, reader.chunked_cursor() as cursor:
            cursor.execute(sql, params)
            while True:
                rows = cursor.fetchmany(batch_size)
                if not rows:
                    break
                if plain:
                    yield [dict(zip(names, values, strict=True)) for values in rows]
                else:
                    yield [{name: (convert(v) if convert else v)
                            for (name, convert), v in zip(pairs, values, strict=True)}
                           for values in rows]

    @contextmanager
    def _reader(self):
        """The connection to read rows on. Outside a transaction, on PostgreSQL, one of its
        own in a transaction: there a named cursor streams, where in autocommit mode Django
        makes it ``WITH HOLD`` and the server runs the whole query into a temporary store
        before the first row (seconds, and a temporary file the size of the result, for
        millions of rows). And the export job writes its progress between batches on its
        connection. Inside a transaction (the caller's, e.g. a test's), that transaction's
        connection: it sees the transaction's rows and its named cursors stream already."""
        shared = self.connection
        if shared.vendor != "postgresql" or shared.in_atomic_block:
            yield shared
            return
        own = connections.create_connection(self.using)
        try:
            own.set_autocommit(False)
            yield own
        finally:
            own.close()

    # --- the CSV fast path (PostgreSQL) --------------------------------------------------------
    @property
    def supports_copy_csv(self) -> bool:
        return self.connection.vendor == "postgresql"

    def copy_sql(self, project, filters: Mapping[str, str],
                 fields: Sequence[str]) -> tuple[str, list]:
        """The COPY statement (with %s parameters) of the fast path."""
        shape = self.shape()
        selected = self._selected(shape, fields)
        expressions = [_sql_csv(c, self._quote(c.name)) for c in selected]
        if len(expressions) == 1:
            # csv.writer writes a row of one empty field as "" (an empty line would be no row);
            # COPY writes an empty string, unlike a NULL, as "" too.
            expressions = [f"COALESCE({expressions[0]}, '')"]
        where, params = self._where(shape, project, filters)
        select = (f"SELECT {', '.join(expressions)} FROM {self._quote(self.table)}{where}"
                  f"{self._order_by(shape)}")
        return f"COPY ({select}) TO STDOUT WITH (FORMAT csv)", params

    def csv_batches(self, project, filters: Mapping[str, str], fields: Sequence[str],
                    batch_size: int) -> Iterator[CsvLines]:
        """The CSV lines (no header) of ``batch_size`` rows at a time: ``bytes(lines)`` is
        what ``CsvWriter.write`` writes for the same rows of ``batches``. One COPY, on a
        connection of its own (so it sees committed rows only)."""
        if not self.supports_copy_csv:
            raise NotImplementedError("The CSV fast path needs PostgreSQL.")
        sql, params = self.copy_sql(project, filters, fields)
        connection = connections.create_connection(self.using)
        try:
            with connection.cursor() as cursor:
                # JIT would spend seconds compiling the formatting expressions of a big scan.
                cursor.execute("SET jit = off")
                cursor.execute("SET extra_float_digits = 1")
                # The formatting expressions cost far more than the planner's default
                # estimate: let it use parallel workers (within the server's
                # max_parallel_workers_per_gather) for any table big enough for them; Gather
                # Merge keeps the order.
                cursor.execute("SET parallel_setup_cost = 0")
                cursor.execute("SET parallel_tuple_cost = 0")
                # The driver's own cursor: Django's debug wrapper takes no COPY parameters.
                with cursor.cursor.copy(sql, params) as copy:
                    # Copied into one buffer at once: holding thousands of the driver's row
                    # buffers costs about 1 µs of CPU per row more.
                    data, sizes = bytearray(), []
                    for row in copy:  # one row per message, ending with "\n"
                        data += row
                        sizes.append(len(row))
                        if len(sizes) >= batch_size:
                            yield CsvLines.from_copy(data, sizes)
                            data, sizes = bytearray(), []
                    if sizes:
                        yield CsvLines.from_copy(data, sizes)
        finally:
            connection.close()

    def copy_csv(self, project, filters: Mapping[str, str], fields: Sequence[str],
                 stream: IO[bytes], batch_size: int = 2000) -> int:
        """Write the whole CSV file (header and rows) to ``stream``; returns the row count."""
        stream.write(csv_header(self.columns(fields, [])))
        written = 0
        for lines in self.csv_batches(project, filters, fields, batch_size):
            stream.write(bytes(lines))
            written += len(lines)
        return written

    # --- SQL -----------------------------------------------------------------------------------
    def _quote(self, name: str) -> str:
        return self.connection.ops.quote_name(name)

    def _selected(self, shape: TableShape, fields: Sequence[str]) -> list[TableColumn]:
        if not fields:
            return list(shape.columns)
        wanted = {"id", *fields}
        return [c for c in shape.columns if c.name in wanted]

    def _order_by(self, shape: TableShape) -> str:
        if not shape.primary_key:
            return ""
        return " ORDER BY " + ", ".join(self._quote(name) for name in shape.primary_key)

    def _python_expression(self, column: TableColumn) -> str:
        quoted = self._quote(column.name)
        if self.connection.vendor != "postgresql":
            return quoted
        return _sql_api(column, quoted)

    def _where(self, shape: TableShape, project, filters: Mapping[str, str]) -> tuple[str, list]:
        clauses: list[str] = []
        params: list[Any] = []
        if project is not None and self.project_column:
            column = shape.column(self.project_column)
            value = _parse_value(column.kind, str(project.pk))
            clauses.append(f"{self._quote(column.name)} = {self._placeholder(column)}")
            params.append(self._adapt(column, value))
        for name, raw in (filters or {}).items():
            column, lookup = self._filter_target(shape, name)
            raw = str(raw)
            if raw.strip() == "":
                raise _filter_error(name, f"`filter[{name}]` needs a value.")
            items = raw.split(",") if lookup == "in" else [raw]
            if len(items) > MAX_IN_VALUES:
                raise _filter_error(name, f"`filter[{name}]` takes at most {MAX_IN_VALUES} "
                                          f"values, not {len(items)}.")
            if any(not item.strip() for item in items):
                raise _filter_error(name, f"`filter[{name}]` has an empty item.")
            values = []
            for item in items:
                try:
                    values.append(self._adapt(column, _parse_value(column.kind, item)))
                except ValueError as exc:
                    raise _filter_error(name, f"Invalid value for filter[{name}]: {item!r}: "
                                              f"{exc}") from None
            target = self._quote(column.name)
            placeholder = self._placeholder(column)
            if lookup == "in":
                clauses.append(f"{target} IN ({', '.join([placeholder] * len(values))})")
            else:
                operator = {"gte": ">=", "lte": "<="}.get(lookup, "=")
                clauses.append(f"{target} {operator} {placeholder}")
            params.extend(values)
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    def _filter_target(self, shape: TableShape, name: str) -> tuple[TableColumn, str | None]:
        column, lookup = shape.column(name), None
        if column is None and "__" in name:
            base, _, suffix = name.rpartition("__")
            if suffix in LOOKUPS:
                column, lookup = shape.column(base), suffix
        if column is None:
            raise _filter_error(name, f"Unknown filter {name!r}; filters: a column of "
                                      f"{self.name} ({', '.join(c.name for c in shape.columns)})"
                                      f", with an optional __in, __gte or __lte suffix.")
        if column.kind in ("json", "other"):
            raise _filter_error(name, f"The column {column.name!r} cannot be filtered "
                                      f"({column.kind if column.kind == 'json' else 'its type'}"
                                      f" has no filter).")
        if column.kind == "bool" and lookup in ("gte", "lte"):
            raise _filter_error(name, f"The boolean column {column.name!r} takes no range "
                                      f"filter (__gte, __lte).")
        return column, lookup

    def _placeholder(self, column: TableColumn) -> str:
        # A float parameter is a float8: compare a real column with a real, or 0.1 misses 0.1.
        if self.connection.vendor == "postgresql" and column.sql_type == "real":
            return "CAST(%s AS real)"
        return "%s"

    def _adapt(self, column: TableColumn, value: Any) -> Any:
        connection = self.connection
        if connection.vendor == "postgresql":
            if column.sql_type == "timestamp" and isinstance(value, dt.datetime):
                return value.astimezone(dt.UTC).replace(tzinfo=None)
            return value
        ops = connection.ops
        if isinstance(value, dt.datetime):
            return ops.adapt_datetimefield_value(value)
        if isinstance(value, dt.date):
            return ops.adapt_datefield_value(value)
        if isinstance(value, dt.time):
            return ops.adapt_timefield_value(value)
        if isinstance(value, uuid.UUID):
            return str(value)
        if isinstance(value, decimal.Decimal):
            return str(value)
        return value


def _filter_error(name: str, detail: str) -> InvalidAttribute:
    return InvalidAttribute("filters", detail, pointer=f"/data/attributes/filters/{name}")
