"""Writes records into warehouse tables, exactly once.

Each batch is written in one transaction of the warehouse database together with the entity's
cursor checkpoint (``SyncState``): either both commit or neither, so re-running after a crash
resumes after the last committed batch and never duplicates rows. The checkpoint moves last in
that transaction, through the attempt's lease (syncs.loading.fence): a stale attempt's batch
rolls back whole, and the row lock is held only for the commit.

Load modes: ``append_event`` inserts; ``upsert`` merges on the binding's primary key columns
(INSERT … ON CONFLICT DO UPDATE, on PostgreSQL and SQLite alike), leaving out the records
whose stored row holds the same ``_record`` (no write at all for a record sent again
unchanged); ``replace`` loads into a staging table and swaps it in when the entity finishes.

Schema evolution (README, "Synced tables"): a new field gets a column; a value of a kind its
field's column does not hold goes to a variant column ``<column>__v_<kind>``; nothing loaded
is converted. The DDL runs in the batch's transaction, behind the same fence.
"""

from __future__ import annotations

import functools
import operator
import re
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple

import orjson
from django.db import connections, transaction
from django.utils import timezone

from syncs.loading.fence import CheckpointLease, bound_idle_transaction
from syncs.models import TableBinding
from syncs.signals import batch_staged, rows_loaded

# Every table also keeps the whole record (``_record``), when and by which run it was written.
META_COLUMNS = {"_record": "json", "_synced_at": "timestamp", "_run_id": "text"}
# The same for every row of a batch: on PostgreSQL, given once to the INSERT … SELECT.
BATCH_COLUMNS = ("_synced_at", "_run_id")
_IDENTIFIER = re.compile(r"[^a-z0-9_]+")


@functools.lru_cache(maxsize=4096, typed=True)  # called for every field of every record
def column_name(key: str) -> str:
    name = _IDENTIFIER.sub("_", str(key).lower()).strip("_") or "column"
    if name[0].isdigit():
        name = f"c_{name}"
    return name[:63]


def kind_of(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "bigint"
    if isinstance(value, float):
        return "double"
    if isinstance(value, (dict, list)):
        return "json"
    return "text"


# SQLite keeps any value in any column; its declared type is what readers go by: exports
# (exports.tables) read "json" columns as JSON, "boolean" ones as booleans and "timestamp"
# ones as datetimes, as PostgreSQL's types say (declared "text"/"integer", a nested object
# would be exported as a string and a boolean as 0/1). Neither declared type converts the
# values written here: JSON objects and arrays and ISO datetimes never look like numbers.
SQL_TYPES = {
    "postgresql": {"boolean": "boolean", "bigint": "bigint", "double": "double precision",
                   "json": "jsonb", "text": "text", "timestamp": "timestamptz"},
    "sqlite": {"boolean": "boolean", "bigint": "integer", "double": "real", "json": "json",
               "text": "text", "timestamp": "timestamp"},
}


# The kind of column each declared type holds (``_existing_columns``); a column of another
# type (made by hand, or a key column) takes any value, as before schema evolution.
DECLARED_KINDS = {
    "postgresql": {"boolean": "boolean", "bigint": "bigint", "double precision": "double",
                   "jsonb": "json", "text": "text"},
    "sqlite": {"boolean": "boolean", "integer": "bigint", "real": "double", "json": "json",
               "text": "text"},
}
# The exact Python types a column of each kind takes as they are (None: a null, anywhere).
# Any other value is looked at by ``_misfit``: a subclass, a Decimal or a date in a text
# column, an int in a double one still fit; the rest goes to a variant column.
FITS = {"boolean": frozenset({bool, type(None)}), "bigint": frozenset({int, type(None)}),
        "double": frozenset({float, int, type(None)}),
        "json": frozenset({dict, list, type(None)}), "text": frozenset({str, type(None)})}


def fits(kind: str, column_kind: str | None) -> bool:
    """Whether a value of ``kind`` goes into a column of ``column_kind`` keeping its meaning
    (None: a column that takes anything)."""
    return column_kind is None or kind == column_kind or (kind, column_kind) == ("bigint",
                                                                                 "double")


def variant_name(name: str, kind: str) -> str:
    """The column for the values of ``kind`` of a field whose column holds another kind (as
    dlt names them: ``amount__v_text``), within PostgreSQL's 63 characters."""
    suffix = f"__v_{kind}"
    return name[:63 - len(suffix)] + suffix


class _Misfit(Exception):
    """A record has a value whose variant column does not exist yet: make it, then redo the
    batch (``write``)."""


# Key column types whose equality Python can tell without the database (see _repeated).
_TEXT_TYPES = ("text", "character varying")
_INTEGER_TYPES = ("bigint", "integer", "smallint")


def _repeated(keys: list, key_at: list[tuple[int, bool]]) -> bool:
    """Whether ``keys`` (the key values of a batch's rows, in order: a value per row for one
    key column, else a tuple) hold a key twice as the key columns will hold it, or Python
    cannot tell (a null, a string in an integer column, a boolean, a float): such a batch is
    deduplicated by the database. ``key_at``: (position, column is text) per key column;
    other columns are integers. Looks at the types a column at a time (``map`` in C), not
    per row in Python."""
    if not keys:
        return False
    single = len(key_at) == 1
    columns = [keys] if single else [list(column) for column in zip(*keys, strict=True)]
    normalized = False
    for j, (_, text) in enumerate(key_at):
        types = set(map(type, columns[j]))
        if types <= {int} or (text and types == {str}):
            continue
        if not (text and types == {int, str}):
            return True  # a value whose stored key only the database can tell
        # A text column holds an int as its digits: compare them so.
        columns[j] = [str(v) if type(v) is int else v for v in columns[j]]
        normalized = True
    if normalized:
        keys = columns[0] if single else list(zip(*columns, strict=True))
    return len(set(keys)) != len(keys)


# The exact types a column of each kind (None: a key column, or one of another type) takes
# without ``_misfit`` on the fast path of ``_rows``, and whether each is written as JSON text
# (else as it is). What is not here takes the per-value path, which gives the same row.
_FAST = {
    "text": {str: False}, "bigint": {int: False}, "double": {float: False, int: False},
    "boolean": {bool: False}, "json": {dict: True, list: True},
    None: {str: False, int: False, float: False, bool: False, dict: True, list: True},
}


_SHAPES_PER_BATCH = 32


class _Shape(NamedTuple):
    """How ``_rows`` makes the row of a record of given keys and value types: ``take`` picks
    the row's values from the record's values followed by a None (for the columns it has
    not); then the values at ``json_at`` are written as JSON text, those at ``int_at``
    (SQLite's booleans) as integers."""

    take: Callable[[tuple], tuple]
    json_at: tuple[int, ...]
    int_at: tuple[int, ...]


def _shape(plan: list[tuple[Any, int, frozenset | None]], keys: tuple, types: tuple,
           columns: dict[str, str | None], names: list[str], sqlite: bool) -> _Shape | None:
    """The ``_Shape`` for records of ``keys`` whose values are of ``types``, or None when one
    of the values (even one a later key overrides) needs the per-value path."""
    if len(names) < 2:
        return None  # itemgetter of one index gives a value, not a tuple
    at = {key: i for i, key in enumerate(keys)}
    source = [len(keys)] * len(names)  # the None after the values
    converts: dict[int, bool] = {}  # position -> JSON (True) or int (False)
    for key, index, _ in plan:
        value_type = types[at[key]]
        source[index] = at[key]
        converts.pop(index, None)  # a later key of the same column wins
        if value_type is type(None):
            continue
        fast = _FAST.get(columns[names[index]])
        if fast is None or value_type not in fast:
            return None
        if fast[value_type]:
            converts[index] = True
        elif sqlite and value_type is bool:
            converts[index] = False
    return _Shape(operator.itemgetter(*source),
                  tuple(index for index, json in converts.items() if json),
                  tuple(index for index, json in converts.items() if not json))


class TableLoader:
    """Loads one entity of one run into the binding's table."""

    def __init__(self, binding: TableBinding, run_id: str, *, lease: CheckpointLease,
                 staging: bool | None = None) -> None:
        self.binding = binding
        self.run_id = str(run_id)
        self.lease = lease
        self.using = lease.using
        self.connection = connections[self.using]
        self.vendor = self.connection.vendor
        self.replace = binding.load_mode == TableBinding.LoadMode.REPLACE if staging is None \
            else staging
        self.table = binding.physical_table_name
        self.target = f"{self.table}__staging" if self.replace else self.table
        self.key_columns = [column_name(c) for c in binding.primary_key_columns or []]
        # The target's columns and the kind of value each holds (None: any value).
        self._columns: dict[str, str | None] | None = None
        self._temp_columns: set[str] | None = None  # PostgreSQL: the COPY staging table's
        self._known_keys: set = set()  # record keys that have their column (or are ignored)
        self._key_types: dict[str, str] = {}  # PostgreSQL: the key columns' types
        # PostgreSQL upserts: leave unchanged records out before the INSERT (``_changed``)?
        # Worth its index probe per row only while batches hold unchanged records: on for a
        # loader's first batch, then on after a batch that wrote fewer rows than it sent.
        # Either way an unchanged record gets no new row version (``_on_conflict``).
        self._leave_out_unchanged = True

    # --- schema -------------------------------------------------------------------------------
    def q(self, name: str) -> str:
        return self.connection.ops.quote_name(name)

    def _existing_columns(self, table: str) -> dict[str, str | None] | None:
        """The columns of ``table`` (None if it does not exist) and the kind each holds."""
        with self.connection.cursor() as cursor:
            if table not in self.connection.introspection.table_names(cursor):
                return None
            if self.vendor == "postgresql":
                cursor.execute("SELECT column_name, data_type FROM information_schema.columns "
                               "WHERE table_schema = current_schema() AND table_name = %s "
                               "ORDER BY ordinal_position", [table])
                declared = cursor.fetchall()
            else:
                cursor.execute(f"PRAGMA table_info({self.q(table)})")
                declared = [(row[1], row[2].lower()) for row in cursor.fetchall()]
        kinds = DECLARED_KINDS[self.vendor]
        return {name: None if name in self.key_columns else kinds.get(sql_type)
                for name, sql_type in declared}

    def begin(self) -> None:
        """Prepare the target (for replace: a fresh staging table)."""
        if self.replace:
            with self.connection.cursor() as cursor:
                cursor.execute(f"DROP TABLE IF EXISTS {self.q(self.target)}")
        self._columns = self._existing_columns(self.target)
        self._known_keys = set()

    def _ensure_columns(self, records: Sequence[dict], *, every_value: bool = False) -> None:
        """Create the table, or add the columns the records need: one per new field (of the
        kind of its first value), and a variant column (``variant_name``) for a value whose
        kind its field's column does not hold. Looks only at records with a field it has not
        seen yet, unless ``every_value`` (``_rows`` found a value that fits nowhere)."""
        kinds: dict[str, str] = {}
        known = self._known_keys
        for record in records:
            if not every_value and known.issuperset(record):
                continue  # the usual case: every key has its column already
            for key, value in record.items():
                if key in known and not every_value:
                    continue
                name = column_name(key)
                if name in META_COLUMNS:
                    known.add(key)  # a source field named like ours stays in _record only
                    continue
                kind = kind_of(value)
                if self._columns is not None and name in self._columns:
                    known.add(key)
                    column_kind = self._columns[name]
                elif name in kinds:  # new in this batch; a key column takes any value
                    column_kind = None if name in self.key_columns else kinds[name]
                elif kind:
                    kinds[name] = kind
                    continue
                else:
                    continue  # only nulls so far: no column yet
                if kind and not fits(kind, column_kind):
                    kinds.setdefault(variant_name(name, kind), kind)
        types = SQL_TYPES[self.vendor]
        if self._columns is not None and all(name in self._columns for name in kinds):
            return
        with self.connection.cursor() as cursor:
            # Concurrent tasks (fan-out) may create or widen the same table: serialize the DDL
            # (PostgreSQL: an advisory lock held to the end of this transaction; SQLite: the
            # write transaction already holds the database lock) and look again under it.
            if self.vendor == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [self.target])
            self._columns = self._existing_columns(self.target)
            if self._columns is None:
                columns = {**{k: "text" for k in self.key_columns}, **kinds, **META_COLUMNS}
                ddl = ", ".join(f"{self.q(n)} {types[k]}" for n, k in columns.items())
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.q(self.target)} ({ddl})")
                if self._merges():
                    # Index names are schema-wide on PostgreSQL and survive the replace
                    # swap's rename: make each one unique.
                    index = f"{self.target[:40]}_{uuid.uuid4().hex[:12]}_key"
                    cols = ", ".join(self.q(c) for c in self.key_columns)
                    cursor.execute(f"CREATE UNIQUE INDEX {self.q(index)} "
                                   f"ON {self.q(self.target)} ({cols})")
                self._columns = {n: None if n in self.key_columns else k
                                 for n, k in columns.items()}
                return
            for name, kind in kinds.items():
                if name not in self._columns:
                    cursor.execute(f"ALTER TABLE {self.q(self.target)} ADD COLUMN "
                                   f"{self.q(name)} {types[kind]}")
                    self._columns[name] = kind

    # --- writing ------------------------------------------------------------------------------
    def write(self, records: Sequence[dict], cursor_value: Any) -> int:
        """Write ``records`` and the checkpoint ``cursor_value`` in one transaction (replace:
        the checkpoint moves at the swap; each batch still checks the lease). Raises
        ``StaleAttempt``, with nothing committed, when a newer attempt owns the checkpoint."""
        if self._columns is None:
            self.begin()
        with transaction.atomic(using=self.using):
            bound_idle_transaction(self.using)
            written = 0
            if records:
                self._ensure_columns(records)
                try:
                    written = self._insert(records)
                except _Misfit:  # nothing of the batch was written yet
                    self._ensure_columns(records, every_value=True)
                    written = self._insert(records)
            batch_staged.send(sender=TableLoader, binding=self.binding, run_id=self.run_id,
                              rows=written)
            if self.replace:
                self.lease.confirm()
            else:
                self.lease.advance(cursor_value)
        rows_loaded.send_robust(sender=TableLoader, binding=self.binding, run_id=self.run_id,
                                rows=written)
        return written

    def _rows(self, records: Sequence[dict], names: list[str]) -> Iterator[list]:
        """The values of ``names`` for each record (``BATCH_COLUMNS`` only if in ``names``),
        made one at a time (the COPY sends each as it is made)."""
        now = timezone.now()
        synced_at = now if self.vendor == "postgresql" else now.isoformat()
        position = {name: index for index, name in enumerate(names)}
        batch_values = [(position[name], value) for name, value in
                        (("_synced_at", synced_at), ("_run_id", self.run_id))
                        if name in position]
        record_at = position["_record"]
        sqlite = self.vendor == "sqlite"
        width = len(names)
        dumps = orjson.dumps
        columns = self._columns
        plans: dict[tuple, list[tuple[Any, int, frozenset | None]]] = {}
        # Per key tuple, then per tuple of the values' types: how to make the row with C calls
        # only (``_shape``), or None where a value needs ``_misfit`` or a conversion it has not.
        shapes: dict[tuple, _Shape | None] = {}
        shaping = True
        missing = object()
        for record in records:
            keys = tuple(record)
            plan = plans.get(keys)
            if plan is None:
                # Where each key's value goes, and the types its column takes as they are;
                # a later key of the same column wins.
                plan = plans[keys] = [
                    (key, position[name], FITS.get(columns[name])) for key in keys
                    if (name := column_name(key)) in position and name not in META_COLUMNS]
            shape = None
            if shaping:
                values = tuple(record.values())
                shape_key = (keys, tuple(map(type, values)))
                shape = shapes.get(shape_key, missing)
                if shape is missing:
                    shape = None
                    if len(shapes) < _SHAPES_PER_BATCH:
                        shape = shapes[shape_key] = _shape(plan, keys, shape_key[1], columns,
                                                           names, sqlite)
                    else:
                        # Records whose nullable fields vary make many shapes: past a few,
                        # looking them up costs more than it saves; the rest of the batch
                        # takes the per-value path.
                        shaping = False
            if shape is not None:
                row = list(shape.take(values + (None,)))
                for index in shape.json_at:
                    row[index] = dumps(row[index]).decode()
                for index in shape.int_at:
                    row[index] = int(row[index])
            else:
                row = [None] * width
                for key, index, fit in plan:
                    value = record[key]
                    if fit is not None and type(value) not in fit:
                        index = self._misfit(key, value, index, position)
                    if isinstance(value, (dict, list)):
                        value = dumps(value).decode()
                    elif sqlite and isinstance(value, bool):
                        value = int(value)
                    row[index] = value
            row[record_at] = dumps(record, default=str).decode()
            for index, value in batch_values:
                row[index] = value
            yield row

    def _misfit(self, key: Any, value: Any, index: int, position: dict[str, int]) -> int:
        """Where a value goes whose exact type its column does not take as it is: the column
        itself when its kind still fits (a subclass, a Decimal in a text column), otherwise
        the variant column of its kind. Raises ``_Misfit`` when that column does not exist."""
        name = column_name(key)
        kind = kind_of(value)
        if kind is None or fits(kind, self._columns[name]):
            return index
        variant = variant_name(name, kind)
        if variant not in position:
            raise _Misfit(variant)
        return position[variant]

    def _merges(self) -> bool:
        return bool(self.key_columns) and \
            self.binding.load_mode != TableBinding.LoadMode.APPEND_EVENT

    def _on_conflict(self, names: list[str]) -> str:
        keys = ", ".join(self.q(c) for c in self.key_columns)
        updates = ", ".join(f"{self.q(n)} = excluded.{self.q(n)}" for n in names
                            if n not in self.key_columns)
        # A record sent again unchanged costs no write: every column of a row is made from its
        # ``_record``, so an equal ``_record`` (jsonb equality on PostgreSQL: key order does
        # not matter) means an equal row, and the row keeps its ``_synced_at`` and ``_run_id``
        # (when its content last changed). No new row version, no index entry, no WAL for it.
        distinct = "IS DISTINCT FROM" if self.vendor == "postgresql" else "IS NOT"
        record = self.q("_record")
        return (f" ON CONFLICT ({keys}) DO UPDATE SET {updates}"
                f" WHERE {self.q(self.target)}.{record} {distinct} excluded.{record}")

    def _insert(self, records: Sequence[dict]) -> int:
        names = list(self._columns)
        if self.vendor == "postgresql":
            return self._copy_in(
                self._rows(records, [n for n in names if n not in BATCH_COLUMNS]), names)
        rows = list(self._rows(records, names))
        sql = (f"INSERT INTO {self.q(self.target)} ({', '.join(self.q(n) for n in names)}) "
               f"VALUES ({', '.join(['%s'] * len(names))})")
        if self._merges():
            sql += self._on_conflict(names)
        with self.connection.cursor() as cursor:
            cursor.executemany(sql, rows)
        return len(rows)

    def _copy_in(self, rows: Iterable[list], names: list[str]) -> int:
        """PostgreSQL: COPY the batch (``rows``: ``names`` but ``BATCH_COLUMNS``) into a
        temporary table, then one INSERT … SELECT (with ON CONFLICT for merges; the last
        occurrence of a key in the batch wins) that adds the ``BATCH_COLUMNS``. Returns the
        row count."""
        from psycopg import sql

        batch_values = {"_synced_at": timezone.now(), "_run_id": self.run_id}
        columns = ", ".join(self.q(n) for n in names)
        copied_names = [n for n in names if n not in BATCH_COLUMNS]
        copied = ", ".join(self.q(n) for n in copied_names)
        selected = ", ".join(
            sql.Literal(batch_values[n]).as_string(self.connection.connection)
            if n in BATCH_COLUMNS else self.q(n) for n in names)
        temp = self.q(f"_load_{self.target[:40]}")
        with self.connection.cursor() as cursor:
            if self._temp_columns is None:
                cursor.execute(f"DROP TABLE IF EXISTS {temp}")
                cursor.execute(f"CREATE TEMP TABLE {temp} (LIKE {self.q(self.target)}) "
                               "ON COMMIT DELETE ROWS")
                cursor.execute(f"ALTER TABLE {temp} ADD COLUMN _load_order bigint")
                self._temp_columns = set(names)
            for name in [n for n in names if n not in self._temp_columns]:
                # A column the target gained after the temp table was made (IF NOT EXISTS:
                # another loader on this connection may have made the table anew since).
                cursor.execute(f"ALTER TABLE {temp} ADD COLUMN IF NOT EXISTS {self.q(name)} "
                               f"{self._pg_type(name)}")
                self._temp_columns.add(name)
            merges = self._merges()
            key_at = self._key_positions(copied_names) if merges else None
            keys: list = []  # each row's key (``_repeated``), when Python can compare them
            count = 0
            misfit = None
            with cursor.cursor.copy(f"COPY {temp} ({copied}, _load_order) FROM STDIN") as copy:
                write_row = copy.write_row
                try:
                    if key_at:
                        key_of = operator.itemgetter(*(index for index, _ in key_at))
                        add_key = keys.append
                        for count, row in enumerate(rows, 1):
                            add_key(key_of(row))
                            row.append(count)
                            write_row(row)
                    else:
                        for count, row in enumerate(rows, 1):
                            row.append(count)
                            write_row(row)
                except _Misfit as exc:
                    misfit = exc  # end the COPY cleanly: the transaction stays usable
            if misfit is not None:
                cursor.execute(f"TRUNCATE {temp}")
                raise misfit
            # A key twice in the batch: the last one must win.
            repeated = merges and (key_at is None or _repeated(keys, key_at))
            if merges:
                source = temp  # the usual case: no sort needed
                if repeated:
                    keys = ", ".join(self.q(c) for c in self.key_columns)
                    source = (f"(SELECT DISTINCT ON ({keys}) * FROM {temp} "
                              f"ORDER BY {keys}, _load_order DESC)")
                where = f" WHERE {self._changed()}" if self._leave_out_unchanged else ""
                cursor.execute(f"INSERT INTO {self.q(self.target)} ({columns}) "
                               f"SELECT {selected} FROM {source} AS {self.q('_load')}{where}"
                               + self._on_conflict(names))
                # Rows left out, or met unchanged by ON CONFLICT, are not counted.
                self._leave_out_unchanged = cursor.rowcount < count
            else:
                cursor.execute(f"INSERT INTO {self.q(self.target)} ({columns}) "
                               f"SELECT {selected} FROM {temp} ORDER BY _load_order")
            if len(self.connection.atomic_blocks) > 1:
                # Inside a caller's transaction: the next batch must not see these rows.
                # (Otherwise ON COMMIT DELETE ROWS empties the table at write's commit.)
                cursor.execute(f"TRUNCATE {temp}")
        return count

    def _changed(self) -> str:
        """PostgreSQL: the condition that keeps the batch's rows whose record differs from the
        row stored under their key (or that have none). A record sent again unchanged is
        dropped before the INSERT, so its row is not even locked (ON CONFLICT locks every row
        it meets, which dirties the page and writes WAL). A correlated scalar subquery, not
        NOT EXISTS: it probes the unique key index row by row whatever the batch size, where
        an anti join could be planned as a hash join over the whole table. Read without a lock:
        a row a concurrent writer changes meanwhile is then left with its value, which is as
        if this record had been written just before it."""
        stored = self.q("_stored")
        match = " AND ".join(f"{stored}.{self.q(c)} = {self.q('_load')}.{self.q(c)}"
                             for c in self.key_columns)
        record = self.q("_record")
        return (f"(SELECT {stored}.{record} FROM {self.q(self.target)} AS {stored} "
                f"WHERE {match}) IS DISTINCT FROM {self.q('_load')}.{record}")

    def _key_positions(self, names: list[str]) -> list[tuple[int, bool]] | None:
        """For ``_repeated``: (position in ``names``, column is text) of each key column, or
        None when a key column's type is one Python cannot compare as the database does."""
        positions = []
        for column in self.key_columns:
            if column not in self._key_types:
                self._key_types[column] = self._pg_type(column)
            kind = self._key_types[column]
            if kind not in _TEXT_TYPES and kind not in _INTEGER_TYPES:
                return None  # always deduplicated by the database
            positions.append((names.index(column), kind in _TEXT_TYPES))
        return positions

    def _pg_type(self, name: str) -> str:
        with self.connection.cursor() as cursor:
            cursor.execute("SELECT format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                           "WHERE a.attrelid = %s::regclass AND a.attname = %s",
                           [self.connection.ops.quote_name(self.target), name])
            row = cursor.fetchone()
        return row[0] if row else "text"

    def finish(self, cursor_value: Any) -> None:
        """replace: swap the staging table in, with the checkpoint ``cursor_value``, in one
        transaction."""
        if not self.replace:
            return  # every batch moved it already
        if self._columns is None:  # nothing was read: an empty table replaces the old one
            self.begin()
        self._ensure_columns([])
        with transaction.atomic(using=self.using), self.connection.cursor() as cursor:
            bound_idle_transaction(self.using)
            # The lease first: a stale attempt stops before it takes the table's lock.
            self.lease.advance(cursor_value)
            cursor.execute(f"DROP TABLE IF EXISTS {self.q(self.table)}")
            cursor.execute(f"ALTER TABLE {self.q(self.target)} RENAME TO {self.q(self.table)}")
