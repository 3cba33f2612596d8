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

COPY fast path (PostgreSQL): ``copy_batches`` streams ``COPY (SELECT ...) TO STDOUT`` for csv,
jsonl, json and parquet (``exports.tables.copy_select``); the SELECT formats every value the way
the format's writer writes the Python path's value: CSV byte for byte (``\\r\\n`` line ends
included; the rare known differences are listed in ``exports.tables.sql_format``), JSON and
Parquet value for value. ``csv_batches`` / ``copy_csv`` are its CSV lines.

The fast path reads on a connection of its own (a COPY holds its connection until it ends,
and the export job writes its progress between batches), so it sees committed rows only;
inside a transaction it reads that transaction's connection (``exports.copy_stream``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import IO

from django.db import connections

from exports.copy_stream import copy_batches
from exports.dry import dry_columns, keeps_column
from exports.resources import Row
from exports.tables.copy_select import (
    COPY_FORMATS,
    CopyColumn,
    copy_statement,
    decoder,
    expressions,
)
from exports.tables.csv_lines import CsvLines, csv_header
from exports.tables.filters import where_clause
from exports.tables.introspection import (
    TableColumn,
    TableMissing,
    TableShape,
    quote_name,
    read_shape,
)
from exports.tables.sql_format import sql_api
from exports.tables.values import converter
from syncservice.jsonapi.errors import InvalidAttribute


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
        return read_shape(self.connection, self.table, resource=self.name,
                          project_column=self.project_column)

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
        converters = [converter(c, vendor) for c in selected]
        expressions = [self._python_expression(c) for c in selected]
        sql, params = self._select(shape, expressions, project, filters)
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

    # --- the COPY fast path (PostgreSQL) -------------------------------------------------------
    @property
    def supports_copy_csv(self) -> bool:
        return self.connection.vendor == "postgresql"

    def supports_copy(self, format_name: str) -> bool:
        """Whether ``copy_batches`` serves ``format_name`` (every format but xlsx)."""
        return self.supports_copy_csv and format_name in COPY_FORMATS

    def copy_sql(self, project, filters: Mapping[str, str], fields: Sequence[str],
                 format_name: str = "csv", dry: bool = False) -> tuple[str, list]:
        """The COPY statement (with %s parameters) of the fast path of ``format_name``."""
        shape = self.shape()
        selected = self._selected(shape, fields)
        columns = [CopyColumn(c.name, self._quote(c.name), c) for c in selected
                   if not dry or keeps_column(c.name)]
        select, params = self._select(shape, expressions(format_name, columns, dry), project,
                                      filters)
        return copy_statement(format_name, select), params

    def copy_batches(self, project, filters: Mapping[str, str], fields: Sequence[str],
                     includes: Sequence[str], format_name: str,
                     batch_size: int, dry: bool = False) -> Iterator:
        """The rows of ``batch_size`` at a time, encoded for ``format_name`` by one COPY
        (``exports.tables.copy_select``): what the format's writer writes for the same rows of
        ``batches`` (``dry``: of ``exports.dry.dry_row`` of them)."""
        if not self.supports_copy(format_name):
            raise NotImplementedError(f"No COPY fast path for {format_name} here (it needs "
                                      "PostgreSQL, and xlsx has none).")
        sql, params = self.copy_sql(project, filters, fields, format_name, dry)
        names = self.columns(fields, includes)
        return copy_batches(self.using, sql, params, batch_size,
                            decoder(format_name, dry_columns(names) if dry else names))

    def csv_batches(self, project, filters: Mapping[str, str], fields: Sequence[str],
                    batch_size: int) -> Iterator[CsvLines]:
        """The CSV lines (no header) of ``batch_size`` rows at a time: ``bytes(lines)`` is
        what ``CsvWriter.write`` writes for the same rows of ``batches``. One COPY, on a
        connection of its own (so it sees committed rows only) outside a transaction."""
        if not self.supports_copy_csv:
            raise NotImplementedError("The CSV fast path needs PostgreSQL.")
        return self.copy_batches(project, filters, fields, [], "csv", batch_size)

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
        return quote_name(self.connection, name)

    def _selected(self, shape: TableShape, fields: Sequence[str]) -> list[TableColumn]:
        if not fields:
            return list(shape.columns)
        wanted = {"id", *fields}
        return [c for c in shape.columns if c.name in wanted]

    def _select(self, shape: TableShape, expressions: list[str], project,
                filters: Mapping[str, str]) -> tuple[str, list]:
        """The SELECT of ``expressions`` from the project's filtered rows, in key order."""
        where, params = self._where(shape, project, filters)
        return (f"SELECT {', '.join(expressions)} FROM {self._quote(self.table)}{where}"
                f"{self._order_by(shape)}"), params

    def _order_by(self, shape: TableShape) -> str:
        if not shape.primary_key:
            return ""
        return " ORDER BY " + ", ".join(self._quote(name) for name in shape.primary_key)

    def _python_expression(self, column: TableColumn) -> str:
        quoted = self._quote(column.name)
        if self.connection.vendor != "postgresql":
            return quoted
        return sql_api(column, quoted)

    def _where(self, shape: TableShape, project, filters: Mapping[str, str]) -> tuple[str, list]:
        return where_clause(self.connection, shape, filters, resource=self.name,
                            project_column=self.project_column, project=project)
