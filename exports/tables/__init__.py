"""Plain SQL tables (e.g. the warehouse tables the syncs load) as exportable resources:
``TableResource`` (``resource``), what it reads of a table (``introspection``), its values as
the API writes them (``values``) or as the SELECT formats them (``sql_format``), its filters
(``filters``), the COPY fast path's statements (``copy_select``) and CSV lines
(``csv_lines``)."""

from exports.tables.csv_lines import CsvLines, csv_header
from exports.tables.filters import LOOKUPS
from exports.tables.introspection import TableColumn, TableMissing, TableShape
from exports.tables.resource import TableResource

__all__ = ["LOOKUPS", "CsvLines", "TableColumn", "TableMissing", "TableResource",
           "TableShape", "csv_header"]
