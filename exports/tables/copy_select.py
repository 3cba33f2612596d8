"""The fast paths' COPY statements (PostgreSQL): a resource's SELECT whose expressions format
each value as its format's Python writer would, wrapped in ``COPY ... TO STDOUT``:

- csv: ``COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)``, each value as ``CsvWriter`` writes it
  (``sql_format.sql_csv``), read as ``CsvLines``;
- jsonl, json: ``COPY (SELECT '{"id":' || ... || '}')``, one JSON object's text per row built
  of each value's JSON text as ``JsonLinesWriter`` writes it (``sql_format.sql_json``), read as
  ``JsonLines`` (the JSON array writer joins them). COPY's CSV format with a quote and a
  delimiter that JSON text never holds raw (control characters are escaped in it) sends each
  object as it is: the text format would double every backslash, to be undone by the client;
- parquet: the CSV COPY of each cell's text as ``ParquetWriter`` stores it, parsed into Arrow
  tables by ``pyarrow.csv`` (``ArrowRows``).

The outputs equal the Python path's value for value (JSON texts may differ in spacing and in
the digits of numbers inside JSON objects; see ``exports.tables.sql_format``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from exports.lines import JsonLines
from exports.tables.csv_lines import CsvLines
from exports.tables.introspection import TableColumn
from exports.tables.sql_format import sql_csv, sql_dry_cell, sql_json

COPY_FORMATS = frozenset({"csv", "jsonl", "json", "parquet"})
# JSON text never holds these two bytes raw, so COPY never quotes a JSON row.
_JSON_ROWS = "FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01'"


@dataclass(frozen=True)
class CopyColumn:
    """A column of the fast path's SELECT: ``sql`` is a column reference of kind ``column``,
    or, without ``column``, an expression whose value is JSON already (an embedded include)."""

    name: str
    sql: str
    column: TableColumn | None = None


def expressions(format_name: str, columns: Sequence[CopyColumn],
                dry: bool = False) -> list[str]:
    """The SELECT expressions (no "%" in them) of ``columns`` for ``format_name``: for jsonl
    and json, one, the row's JSON object. ``dry``: blank values left out (``exports.dry``;
    the caller leaves out the columns)."""
    if format_name in ("jsonl", "json"):
        return [json_object(columns, dry)]
    parquet = format_name == "parquet"
    values = []
    for column in columns:
        if column.column is None:  # an embedded include's JSON (null when absent)
            value = f"({column.sql})::text"
            values.append(f"NULLIF({value}, '[]')" if dry else value)
            continue
        value = sql_csv(column.column, column.sql, parquet)
        values.append(sql_dry_cell(column.column, column.sql, value) if dry else value)
    if format_name == "csv" and len(values) == 1:
        # csv.writer writes a row of one empty field as "" (an empty line would be no row);
        # COPY writes an empty string, unlike a NULL, as "" too.
        values = [f"COALESCE({values[0]}, '')"]
    return values


def json_object(columns: Sequence[CopyColumn], dry: bool = False) -> str:
    """The text of the JSON object of ``columns`` (a text expression, never NULL); ``dry``:
    without the members whose value is blank."""
    members = []
    for index, column in enumerate(columns):
        # Each member starts with "," (dry: cut from the first one present; else the first
        # one starts with "{" instead)
        key = ("," if dry or index else "{") + orjson.dumps(column.name).decode() + ":"
        # (in the SQL literal: quotes doubled; "%" as a JSON escape, the SQL holds none)
        key = "'" + key.replace("'", "''").replace("%", "\\u0025") + "'"
        if column.column is not None:
            value = sql_json(column.column, column.sql, dry)
        elif dry:  # an embedded include: null when absent, [] when empty
            value = f"NULLIF(({column.sql})::text, '[]')"
        else:
            value = f"COALESCE(({column.sql})::text, 'null')"
        # (dry: a NULL value makes the member NULL, then '')
        members.append(f"COALESCE({key} || {value}, '')" if dry else f"{key} || {value}")
    if not members:
        return "'{}'"
    if dry:
        return f"('{{' || substr({' || '.join(members)}, 2) || '}}')"
    return f"({' || '.join(members)} || '}}')"


def copy_statement(format_name: str, select: str) -> str:
    """``select``: the SELECT of ``expressions(format_name, ...)`` in row order."""
    if format_name in ("jsonl", "json"):
        return f"COPY ({select}) TO STDOUT WITH ({_JSON_ROWS})"
    return f"COPY ({select}) TO STDOUT WITH (FORMAT csv)"


def decoder(format_name: str, names: Sequence[str]) -> Callable:
    if format_name in ("jsonl", "json"):
        return JsonLines.from_copy
    if format_name == "csv":
        return CsvLines.from_copy
    if format_name == "parquet":
        from exports.arrow_rows import csv_decoder

        return csv_decoder(names)
    raise ValueError(f"No COPY fast path for the {format_name} format.")
