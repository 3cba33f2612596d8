"""A table's values as the API writes them: datetimes ISO 8601 in UTC with ``Z`` (naive ones
are UTC, as Django stores them), dates and times ISO, uuids and decimals as strings (decimals
in plain notation, ``0.0000001``, never ``1E-7``), JSON parsed. On PostgreSQL the SELECT
itself writes those strings (``sql_format.sql_api``); on SQLite Python converts them here."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import orjson
from django.conf import settings
from django.utils import dateparse

from exports.tables.introspection import TableColumn


def iso_datetime(value: dt.datetime) -> str:
    if value.tzinfo is None:
        if not settings.USE_TZ:
            return value.isoformat()
        value = value.replace(tzinfo=dt.UTC)  # naive values are UTC, as Django stores them
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


_LONG_DIGITS = re.compile(r"\d{19}")


def parse_json(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    try:
        if _LONG_DIGITS.search(value):
            return json.loads(value)  # orjson reads integers beyond 64 bits as floats
        return orjson.loads(value)
    except ValueError:  # orjson.JSONDecodeError too
        return value  # SQLite: a "json" column without a json_valid() check


def decimal_text(value: Any, scale: int | None = None) -> str:
    if isinstance(value, float):
        value = decimal.Decimal(repr(value))
    elif not isinstance(value, decimal.Decimal):
        value = decimal.Decimal(str(value))
    if scale is not None and value.is_finite():
        value = value.quantize(decimal.Decimal(1).scaleb(-scale))
    return format(value, "f")


def converter(column: TableColumn, vendor: str) -> Callable[[Any], Any] | None:
    """What turns the driver's value into the API's. On PostgreSQL the SELECT already gives
    the API's text for datetimes, dates, times, uuids and decimals (``sql_format.sql_api``)."""
    kind = column.kind
    if vendor == "postgresql":
        return (lambda v: None if v is None else parse_json(v)) if kind == "json" else None
    if kind == "datetime":
        def convert(v):
            if isinstance(v, str):
                v = try_parse(dateparse.parse_datetime, v) or v
            return iso_datetime(v) if isinstance(v, dt.datetime) else v
    elif kind in ("date", "time"):
        parse = dateparse.parse_date if kind == "date" else dateparse.parse_time

        def convert(v):
            if isinstance(v, str):
                v = try_parse(parse, v) or v
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
                return decimal_text(v, column.scale)
            except (decimal.InvalidOperation, ValueError):
                return str(v)
    elif kind == "json":
        convert = parse_json
    elif kind == "bool":  # SQLite: 0/1 unless the declared type is "bool"
        def convert(v):
            return bool(v) if isinstance(v, int) else v
    else:
        return None
    return lambda v: None if v is None else convert(v)


def try_parse(parse, text):
    """``parse(text)``, or None where it raises ValueError."""
    try:
        return parse(text)
    except ValueError:
        return None
