"""The fast paths' COPY statements (PostgreSQL): a resource's SELECT whose expressions format
each value as its format's Python writer would, wrapped in ``COPY ... TO STDOUT``:

- csv: ``COPY (SELECT ...) TO STDOUT WITH (FORMAT csv)``, each value as ``CsvWriter`` writes it
  (``sql_format.sql_csv``), read as ``CsvLines``;
- jsonl, json: ``COPY (SELECT row_to_json(r) FROM (SELECT ...) AS r(<names>))``, each value as
  ``JsonLinesWriter`` writes it (``sql_format.sql_json``), read as ``JsonLines`` (the JSON array
  writer joins them);
- parquet: the CSV COPY of each cell's text as ``ParquetWriter`` stores it, parsed into Arrow
  tables by ``pyarrow.csv`` (``ArrowRows``).

The outputs equal the Python path's value for value (JSON texts may differ in spacing and in
the digits of numbers inside JSON objects; see ``exports.tables.sql_format``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from exports.lines import JsonLines
from exports.tables.csv_lines import CsvLines
from exports.tables.introspection import TableColumn
from exports.tables.sql_format import sql_csv, sql_json

COPY_FORMATS = frozenset({"csv", "jsonl", "json", "parquet"})
ROW_ALIAS = '"_export_row"'


@dataclass(frozen=True)
class CopyColumn:
    """A column of the fast path's SELECT: ``sql`` is a column reference of kind ``column``,
    or, without ``column``, an expression whose value is JSON already (an embedded include)."""

    name: str
    sql: str
    column: TableColumn | None = None


def expressions(format_name: str, columns: Sequence[CopyColumn]) -> list[str]:
    """The SELECT expressions (no "%" in them) of ``columns`` for ``format_name``."""
    if format_name in ("jsonl", "json"):
        return [sql_json(c.column, c.sql) if c.column else c.sql for c in columns]
    blank_is_null = format_name == "csv"
    values = [sql_csv(c.column, c.sql, blank_is_null) if c.column else f"({c.sql})::text"
              for c in columns]
    if format_name == "csv" and len(values) == 1:
        # csv.writer writes a row of one empty field as "" (an empty line would be no row);
        # COPY writes an empty string, unlike a NULL, as "" too.
        values = [f"COALESCE({values[0]}, '')"]
    return values


def copy_statement(format_name: str, select: str, names: Sequence[str], quote) -> str:
    """``select``: the SELECT of ``expressions(format_name, ...)`` in row order."""
    if format_name in ("jsonl", "json"):
        aliases = ", ".join(quote(name) for name in names)
        return (f"COPY (SELECT row_to_json({ROW_ALIAS}) FROM ({select}) AS "
                f"{ROW_ALIAS}({aliases})) TO STDOUT")
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
