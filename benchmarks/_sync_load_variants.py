"""Experimental versions of ``syncs.loading.TableLoader`` methods, switched by flags, to
measure what each proposed change to ``syncs/loading/__init__.py`` would gain. Nothing in
``syncs/`` is modified: ``variant_loader(flags)`` returns a subclass (and, for ``memo``, patches
the module's ``column_name`` in the benchmark's child process only).

``FLAGS`` is ``proposed`` (``benchmarks/_sync_load_proposed.py``: a copy of
``syncs/loading/__init__.py`` with the changes proposed, i.e. ``memo+known+rows+checkpoint+
consts`` as one diff) or a ``+``-joined set (``none``: the loader as it is):

``memo``      ``column_name`` memoized (``functools.lru_cache``): it is called 33 times per
              11-field record (11 in ``_ensure_columns``, 22 in ``_rows``), a regex each time.
``known``     ``_ensure_columns`` skips a record whose keys all have a column already (one
              ``set.issuperset`` per record instead of a ``column_name`` + ``kind_of`` per
              value); only records with a new key are looked at.
``rows``      ``_rows`` maps each record through a plan cached per key tuple (key -> column
              position), converts only dict/list values, and ``_copy_in`` appends the load
              order to the row instead of copying it (``[*row, order]``).
``checkpoint`` ``save_checkpoint`` as one ``UPDATE`` once the row exists, instead of
              ``update_or_create`` (SAVEPOINT, SELECT … FOR UPDATE, UPDATE, RELEASE SAVEPOINT).
``consts``    (PostgreSQL, with ``rows``) ``_synced_at`` and ``_run_id`` are not sent with each
              row through the COPY but given once as parameters of the ``INSERT … SELECT``
              (``_sync_load_proposed.py`` writes them as SQL literals instead: no ``%%``
              escaping needed for a table name holding ``%``).
``notruncate`` no ``TRUNCATE`` of the temp table after each batch when ``write``'s transaction
              is the outermost one (``ON COMMIT DELETE ROWS`` empties it at commit).
``stream``    (PostgreSQL, with ``rows``) the rows are made while the COPY sends them (a
              generator instead of a list), so the server parses the first rows while the client
              still converts the last ones.
``asynccommit`` (PostgreSQL) ``SET LOCAL synchronous_commit = off`` in each batch's
              transaction: the commit does not wait for its WAL flush. Rows and checkpoint stay
              atomic (a crash loses both, the batch is read again); measured to see what the
              per-batch commit wait costs, not proposed blindly.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

import orjson
from django.utils import timezone

import syncs.loading as loading
from syncs.loading import META_COLUMNS, TableLoader, column_name

FLAGS = {"none", "memo", "known", "rows", "checkpoint", "notruncate", "consts", "asynccommit",
         "stream"}
CONSTANT_COLUMNS = ("_synced_at", "_run_id")  # the same in every row of a batch


def variant_loader(flags: str) -> type[TableLoader]:
    if flags == "proposed":
        from benchmarks import _sync_load_proposed

        return _sync_load_proposed.TableLoader
    chosen = set(filter(None, flags.split("+")))
    unknown = chosen - FLAGS
    if unknown:
        raise SystemExit(f"unknown flags: {sorted(unknown)}; known: {sorted(FLAGS)}")
    if "memo" in chosen:
        loading.column_name = functools.lru_cache(maxsize=4096, typed=True)(column_name)
    return type("VariantLoader", (VariantLoader,), {"flags": frozenset(chosen)})


class VariantLoader(TableLoader):
    flags: frozenset = frozenset()

    # --- known ----------------------------------------------------------------------------
    def begin(self) -> None:
        self._known_keys: set = set()  # record keys with a column (or one of ours)
        super().begin()

    def _ensure_columns(self, records: Sequence[dict]) -> None:
        if "known" not in self.flags:
            return super()._ensure_columns(records)
        kinds: dict[str, str] = {}
        known = self._known_keys
        for record in records:
            if known.issuperset(record):
                continue  # every key has its column already: nothing to learn here
            for key, value in record.items():
                if key in known:
                    continue
                name = loading.column_name(key)
                if name in META_COLUMNS or (self._columns is not None
                                            and name in self._columns):
                    known.add(key)  # a source field named like ours stays in _record only
                    continue
                kind = loading.kind_of(value)
                if kind and name not in kinds:
                    kinds[name] = kind
        if self._columns is not None and all(name in self._columns for name in kinds):
            return None
        return self._create_or_widen(kinds)

    def _create_or_widen(self, kinds: dict[str, str]) -> None:
        """The original's DDL part, unchanged."""
        types = loading.SQL_TYPES[self.vendor]
        with self.connection.cursor() as cursor:
            if self.vendor == "postgresql":
                cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [self.target])
            self._columns = self._existing_columns(self.target)
            if self._columns is None:
                columns = {**{k: "text" for k in self.key_columns}, **kinds, **META_COLUMNS}
                ddl = ", ".join(f"{self.q(n)} {types[k]}" for n, k in columns.items())
                cursor.execute(f"CREATE TABLE IF NOT EXISTS {self.q(self.target)} ({ddl})")
                if self._merges():
                    index = f"{self.target[:40]}_{uuid.uuid4().hex[:12]}_key"
                    cols = ", ".join(self.q(c) for c in self.key_columns)
                    cursor.execute(f"CREATE UNIQUE INDEX {self.q(index)} "
                                   f"ON {self.q(self.target)} ({cols})")
                self._columns = dict.fromkeys(columns, "")
                self._json_columns = {n for n, k in columns.items() if k == "json"}
                return
            for name, kind in kinds.items():
                if name not in self._columns:
                    cursor.execute(f"ALTER TABLE {self.q(self.target)} ADD COLUMN "
                                   f"{self.q(name)} {types[kind]}")
                    self._columns[name] = ""
                    if kind == "json":
                        self._json_columns.add(name)

    def _insert(self, records: Sequence[dict]) -> int:
        if "asynccommit" in self.flags and self.vendor == "postgresql":
            with self.connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO off")
        if "stream" in self.flags and self.vendor == "postgresql":
            names = list(self._columns)
            self._copy_in(self._iter_rows(records, names), names)
            return len(records)
        return super()._insert(records)

    # --- rows -----------------------------------------------------------------------------
    def _rows(self, records: Sequence[dict], names: list[str]) -> list[list]:
        if "rows" not in self.flags:
            return super()._rows(records, names)
        return list(self._iter_rows(records, names))

    def _iter_rows(self, records: Sequence[dict], names: list[str]) -> Iterator[list]:
        now = timezone.now()
        synced_at = now if self.vendor == "postgresql" else now.isoformat()
        if "consts" in self.flags and self.vendor == "postgresql":
            names = [n for n in names if n not in CONSTANT_COLUMNS]
        position = {name: index for index, name in enumerate(names)}
        meta = (position["_record"], position.get("_synced_at"), position.get("_run_id"))
        plans: dict[tuple, list[tuple[Any, int]]] = {}
        width = len(names)
        sqlite = self.vendor == "sqlite"
        dumps = orjson.dumps
        for record in records:
            keys = tuple(record)
            plan = plans.get(keys)
            if plan is None:
                # key -> column position; a later key of the same column wins, as before.
                plan = plans[keys] = [
                    (key, position[name]) for key in keys
                    if (name := loading.column_name(key)) not in META_COLUMNS
                    and name in position]
            row = [None] * width
            for key, index in plan:
                value = record[key]
                if isinstance(value, (dict, list)):
                    value = dumps(value).decode()
                elif sqlite and isinstance(value, bool):
                    value = int(value)
                row[index] = value
            row[meta[0]] = dumps(record, default=str).decode()
            if meta[1] is not None:
                row[meta[1]] = synced_at
                row[meta[2]] = self.run_id
            yield row

    def _copy_in(self, rows: Iterable[list], names: list[str]) -> None:
        if not self.flags & {"rows", "notruncate", "consts"}:
            return super()._copy_in(rows, names)
        return self._copy_in_variant(rows, names)

    def _copy_in_variant(self, rows: Iterable[list], names: list[str]) -> None:
        columns = ", ".join(self.q(n) for n in names)
        copied, params = names, None
        if "consts" in self.flags:
            copied = [n for n in names if n not in CONSTANT_COLUMNS]
            params = [timezone.now(), self.run_id]
            # (the same instant for the batch, as _rows gives every row)
        selected = ", ".join("%s" if n in CONSTANT_COLUMNS and params else self.q(n)
                             for n in names)
        temp = self.q(f"_load_{self.target[:40]}")
        with self.connection.cursor() as cursor:
            if self._temp_columns is None:
                cursor.execute(f"DROP TABLE IF EXISTS {temp}")
                cursor.execute(f"CREATE TEMP TABLE {temp} (LIKE {self.q(self.target)}) "
                               "ON COMMIT DELETE ROWS")
                cursor.execute(f"ALTER TABLE {temp} ADD COLUMN _load_order bigint")
                self._temp_columns = set(names)
            for name in [n for n in names if n not in self._temp_columns]:
                cursor.execute(f"ALTER TABLE {temp} ADD COLUMN {self.q(name)} "
                               f"{self._pg_type(name)}")
                self._temp_columns.add(name)
            copy_columns = ", ".join(self.q(n) for n in copied)
            with cursor.cursor.copy(f"COPY {temp} ({copy_columns}, _load_order) FROM STDIN"
                                    ) as copy:
                if "rows" in self.flags:
                    for order, row in enumerate(rows):
                        row.append(order)
                        copy.write_row(row)
                else:
                    for order, row in enumerate(rows):
                        copy.write_row([*row, order])
            if self._merges():
                keys = ", ".join(self.q(c) for c in self.key_columns)
                select = (f"SELECT DISTINCT ON ({keys}) {selected} FROM {temp} "
                          f"ORDER BY {keys}, _load_order DESC")
                cursor.execute(f"INSERT INTO {self.q(self.target)} ({columns}) {select}"
                               + self._on_conflict(names), params)
            else:
                cursor.execute(f"INSERT INTO {self.q(self.target)} ({columns}) "
                               f"SELECT {selected} FROM {temp} ORDER BY _load_order", params)
            if "notruncate" not in self.flags or self.connection.savepoint_ids:
                # Inside a caller's transaction: the commit that empties the table is not ours.
                cursor.execute(f"TRUNCATE {temp}")

    # --- checkpoint -----------------------------------------------------------------------
    def save_checkpoint(self, cursor_value: Any, state_key: str | None = None) -> None:
        if "checkpoint" not in self.flags:
            return super().save_checkpoint(cursor_value, state_key)
        from syncs.models import SyncState

        states = SyncState.objects.using(self.using)
        entity = {"sync_id": self.binding.sync_id,
                  "entity_key": state_key or self.binding.entity_key,
                  "source_instance_key": self.binding.source_instance_key}
        # One UPDATE once the row exists (every batch but the first).
        if not states.filter(**entity).update(cursor=cursor_value, updated_at=timezone.now()):
            states.update_or_create(**entity, defaults={"cursor": cursor_value})
        return None

