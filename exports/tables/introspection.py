"""What a plain SQL table looks like: its columns (name, kind of value, SQL type, decimal
scale) and primary key, read from the database's introspection on each call, so a column
added by a later sync shows up."""

from __future__ import annotations

import re
from dataclasses import dataclass

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


def quote_name(connection, name: str) -> str:
    """``name`` quoted for SQL run with parameters (every statement of a table resource is):
    "%" doubled, as the drivers read "%%" back as "%" once parameters are given."""
    return connection.ops.quote_name(name).replace("%", "%%")


class TableMissing(LookupError):
    pass


def read_shape(connection, table: str, *, resource: str,
               project_column: str | None = None) -> TableShape:
    """The shape of ``table`` on ``connection``; ``TableMissing`` when the table, or its
    project column, does not exist (``resource`` names the resource in the message)."""
    introspection = connection.introspection
    with connection.cursor() as cursor:
        if table not in introspection.table_names(cursor):
            raise TableMissing(f"The table {table!r} of the resource {resource!r} does "
                               f"not exist in the database {connection.alias!r}.")
        description = introspection.get_table_description(cursor, table)
        primary_key = introspection.get_primary_key_columns(cursor, table) or []
    columns = tuple(column_of(info, connection.vendor) for info in description)
    if project_column and project_column not in {c.name for c in columns}:
        raise TableMissing(f"The table {table!r} has no column "
                           f"{project_column!r} (the resource's project column).")
    return TableShape(columns, tuple(primary_key))


def column_of(info, vendor: str) -> TableColumn:
    """A column of a table description, typed by the declared type (PostgreSQL: its OID)."""
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
