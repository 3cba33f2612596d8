"""Filters on a table's columns, the API's grammar: ``name``, ``name__in`` (comma list, at most
``MAX_IN_VALUES`` items), ``name__gte``, ``name__lte``; values parsed by the column's type
(integer, float, decimal, boolean, date, time, ISO 8601 datetime with an offset, uuid, text).
JSON columns and columns of other types cannot be filtered; booleans take no range. Each
mistake is a 422 at ``/data/attributes/filters/<name>``."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import uuid
from collections.abc import Mapping
from typing import Any

from django.utils import dateparse

from exports.tables.introspection import TableColumn, TableShape, quote_name
from exports.tables.values import try_parse
from syncservice.jsonapi.errors import InvalidAttribute
from syncservice.jsonapi.filters import MAX_IN_VALUES

LOOKUPS = ("in", "gte", "lte")
INT64 = (-(2**63), 2**63 - 1)

_SPACE_OFFSET = re.compile(r" (\d{2}(?::?\d{2})?)$")  # "+02:00" unencoded in a query string
_INTEGER = re.compile(r"[+-]?\d+")
_TRUE, _FALSE = ("true", "1"), ("false", "0")


def parse_value(kind: str, raw: str) -> Any:
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
        value = try_parse(dateparse.parse_date, text)
        if value is None:
            raise ValueError("Enter a date as YYYY-MM-DD.")
        return value
    if kind == "time":
        value = try_parse(dateparse.parse_time, text)
        if value is None or value.tzinfo is not None:
            raise ValueError("Enter a time as HH:MM[:SS[.ffffff]].")
        return value
    if kind == "datetime":
        text = _SPACE_OFFSET.sub(r"+\1", text)
        value = try_parse(dateparse.parse_datetime, text)
        if value is None:
            day = try_parse(dateparse.parse_date, text)
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


def where_clause(connection, shape: TableShape, filters: Mapping[str, str] | None, *,
                 resource: str, project_column: str | None = None,
                 project=None) -> tuple[str, list]:
    """The `` WHERE ...`` of ``filters`` (and of the project, when the resource has a project
    column), with its parameters; an empty clause when there is nothing to filter."""
    clauses: list[str] = []
    params: list[Any] = []
    if project is not None and project_column:
        column = shape.column(project_column)
        value = parse_value(column.kind, str(project.pk))
        target = quote_name(connection, column.name)
        clauses.append(f"{target} = {_placeholder(connection, column)}")
        params.append(_adapt(connection, column, value))
    for name, raw in (filters or {}).items():
        column, lookup = _filter_target(shape, name, resource)
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
                values.append(_adapt(connection, column, parse_value(column.kind, item)))
            except ValueError as exc:
                raise _filter_error(name, f"Invalid value for filter[{name}]: {item!r}: "
                                          f"{exc}") from None
        target = quote_name(connection, column.name)
        placeholder = _placeholder(connection, column)
        if lookup == "in":
            clauses.append(f"{target} IN ({', '.join([placeholder] * len(values))})")
        else:
            operator = {"gte": ">=", "lte": "<="}.get(lookup, "=")
            clauses.append(f"{target} {operator} {placeholder}")
        params.extend(values)
    return (" WHERE " + " AND ".join(clauses) if clauses else ""), params


def _filter_target(shape: TableShape, name: str,
                   resource: str) -> tuple[TableColumn, str | None]:
    column, lookup = shape.column(name), None
    if column is None and "__" in name:
        base, _, suffix = name.rpartition("__")
        if suffix in LOOKUPS:
            column, lookup = shape.column(base), suffix
    if column is None:
        raise _filter_error(name, f"Unknown filter {name!r}; filters: a column of "
                                  f"{resource} ({', '.join(c.name for c in shape.columns)})"
                                  f", with an optional __in, __gte or __lte suffix.")
    if column.kind in ("json", "other"):
        raise _filter_error(name, f"The column {column.name!r} cannot be filtered "
                                  f"({column.kind if column.kind == 'json' else 'its type'}"
                                  f" has no filter).")
    if column.kind == "bool" and lookup in ("gte", "lte"):
        raise _filter_error(name, f"The boolean column {column.name!r} takes no range "
                                  f"filter (__gte, __lte).")
    return column, lookup


def _placeholder(connection, column: TableColumn) -> str:
    # A float parameter is a float8: compare a real column with a real, or 0.1 misses 0.1.
    if connection.vendor == "postgresql" and column.sql_type == "real":
        return "CAST(%s AS real)"
    return "%s"


def _adapt(connection, column: TableColumn, value: Any) -> Any:
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
