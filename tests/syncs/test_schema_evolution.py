"""Schema evolution of warehouse tables: a field that appears later gets its column; a value
whose kind its field's column does not hold goes to a variant column (``<column>__v_<kind>``)
and the run goes on; values already loaded keep their column and meaning; the checkpoint fence
holds across a schema change."""

import json
from decimal import Decimal

import pytest
from django.db import connection as db

from syncs.loading import StaleAttempt, TableLoader, read_checkpoint, take
from tests.syncs import test_loading

binding = test_loading.binding  # the fixture: a binding of the given load mode and keys
_tokens = iter(range(1, 10**6))
RUN = "00000000-0000-0000-0000-0000000000f1"


def loader_for(binding, token=None, run_id=RUN) -> TableLoader:
    token = next(_tokens) if token is None else token
    loader = TableLoader(binding, run_id, lease=take(binding, token, run_id))
    loader.begin()
    return loader


def load(binding, *batches):
    """One run: each batch in its own transaction with its checkpoint."""
    loader = loader_for(binding)
    for index, records in enumerate(batches):
        loader.write(records, f"c{index}")
    loader.finish(f"c{len(batches) - 1}")


def column_kinds(binding) -> dict[str, str]:
    """Column -> the declared type, as the exports read it."""
    table = binding.physical_table_name
    with db.cursor() as cursor:
        if db.vendor == "postgresql":
            cursor.execute("SELECT column_name, data_type FROM information_schema.columns "
                           "WHERE table_name = %s", [table])
            return dict(cursor.fetchall())
        cursor.execute(f'PRAGMA table_info("{table}")')
        return {row[1]: row[2].lower() for row in cursor.fetchall()}


def rows(binding, columns):
    with db.cursor() as cursor:
        cursor.execute(f'SELECT {columns} FROM "{binding.physical_table_name}" ORDER BY id')
        return [tuple(_plain(v) for v in row) for row in cursor.fetchall()]


def _plain(value):
    """SQLite returns JSON columns as text and booleans as 0/1; PostgreSQL as Python values."""
    if isinstance(value, str) and value[:1] in "[{":
        return json.loads(value)
    return value


TYPES = {"postgresql": {"bigint": "bigint", "double": "double precision", "text": "text",
                        "json": "jsonb", "boolean": "boolean"},
         "sqlite": {"bigint": "integer", "double": "real", "text": "text", "json": "json",
                    "boolean": "boolean"}}


def declared(kind: str) -> str:
    return TYPES[db.vendor][kind]


@pytest.mark.parametrize("mode", ["append_event", "upsert"])
def test_a_field_that_appears_later_becomes_a_column(binding, mode):
    target = binding(mode)
    load(target, [{"id": 1, "status": "a"}], [{"id": 2, "status": "b", "size": 3}])
    assert rows(target, "id, status, size") == [(1, "a", None), (2, "b", 3)]
    load(target, [{"id": 3, "colour": "red"}])                  # a later run
    assert rows(target, "id, size, colour") == [(1, None, None), (2, 3, None),
                                                 (3, None, "red")]
    assert column_kinds(target)["size"] == declared("bigint")
    assert read_checkpoint(target) == "c0"


@pytest.mark.parametrize("mode", ["append_event", "upsert"])
def test_a_value_of_another_kind_goes_to_a_variant_column(binding, mode):
    """number -> string, number -> float, scalar -> object, scalar -> boolean, across batches
    and inside one batch; object -> list stays in its JSON column; an int fits a double
    column. The loaded values keep their column, type and meaning."""
    target = binding(mode)
    load(target,
         [{"id": 1, "qty": 7, "note": "hi", "extra": {"k": 1}, "price": 1.5, "flag": 1}],
         [{"id": 2, "qty": "seven", "note": {"lines": ["a"]}, "extra": [1, 2], "price": 2,
           "flag": True},
          {"id": 3, "qty": 7.5, "note": "plain", "extra": None, "price": 3.25, "flag": 0}])
    kinds = column_kinds(target)
    assert {name: kinds[name] for name in kinds if "__v_" in name} == {
        "qty__v_text": declared("text"), "qty__v_double": declared("double"),
        "note__v_json": declared("json"), "flag__v_boolean": declared("boolean")}
    assert kinds["qty"] == declared("bigint") and kinds["extra"] == declared("json")
    assert kinds["price"] == declared("double")
    got = rows(target, "id, qty, qty__v_text, qty__v_double, note, note__v_json, extra, "
                       "price, flag, flag__v_boolean")
    assert got == [
        (1, 7, None, None, "hi", None, {"k": 1}, 1.5, 1, None),
        (2, None, "seven", None, None, {"lines": ["a"]}, [1, 2], 2.0, None, True),
        (3, None, None, 7.5, "plain", None, None, 3.25, 0, None)]
    with db.cursor() as cursor:  # the loaded integer is still an integer, the text a text
        cursor.execute(f'SELECT qty + 1, note || \'!\' FROM "{target.physical_table_name}" '
                       "WHERE id = 1")
        assert cursor.fetchone() == (8, "hi!")


@pytest.mark.parametrize("mode", ["append_event", "upsert"])
def test_records_of_one_shape_with_values_of_other_kinds_in_one_batch(binding, mode):
    """Records with the same keys whose values change kind from one record to the next, in
    one batch: each value lands as if its record came alone (variant column, JSON column,
    a Decimal in a text column, a later key of the same column winning even when the earlier
    one went to a variant column)."""
    target = binding(mode)
    load(target, [{"id": 1, "qty": 7, "note": "a", "extra": {"k": 1}, "flag": True}],
         [{"id": 2, "qty": "x", "note": "b", "extra": [1], "flag": False},
          {"id": 3, "qty": 8, "note": {"o": 1}, "extra": None, "flag": None, "Note": "later"},
          {"id": 4, "qty": 9, "note": "d", "extra": {"k": 2}, "flag": 1},
          {"id": 5, "qty": 10, "note": Decimal("1.5"), "extra": {"k": 3}, "flag": True},
          {"id": 6, "qty": 9.5, "note": "f", "extra": {"k": 4}, "flag": False},
          {"id": 7, "qty": 11, "note": "g", "extra": [2], "flag": True},
          {"id": 8, "qty": 12, "note": "h", "extra": {"k": 5}, "flag": True, "Extra": None}])
    got = rows(target, "id, qty, qty__v_text, qty__v_double, note, note__v_json, extra, "
                       "flag, flag__v_bigint")
    assert got == [
        (1, 7, None, None, "a", None, {"k": 1}, True, None),
        (2, None, "x", None, "b", None, [1], False, None),
        (3, 8, None, None, "later", {"o": 1}, None, None, None),
        (4, 9, None, None, "d", None, {"k": 2}, None, 1),
        (5, 10, None, None, "1.5", None, {"k": 3}, True, None),
        (6, None, None, 9.5, "f", None, {"k": 4}, False, None),
        (7, 11, None, None, "g", None, [2], True, None),
        (8, 12, None, None, "h", None, None, True, None)]
    flags = [type(row[7]) for row in got]
    boolean = bool if db.vendor == "postgresql" else int  # SQLite has 0 and 1
    assert flags == [boolean, boolean, type(None), type(None), boolean, boolean, boolean,
                     boolean]


def test_a_batch_of_many_shapes_lands_as_one_of_few(binding):
    """Records whose nullable fields vary make a shape each (more than the loader makes per
    batch): every value still lands in its column, variants and JSON included."""
    target = binding("upsert")
    fields = [f"f{i}" for i in range(40)]
    records = [{"id": n, **{f: None if f == fields[n] else n for f in fields},
                "doc": {"n": n}} for n in range(40)]
    records.append({"id": 40, **dict.fromkeys(fields, 1), "doc": [40]})
    records.append({"id": 41, **dict.fromkeys(fields, 2), "f3": "text", "doc": None})
    load(target, records)
    got = rows(target, "id, f0, f3, f3__v_text, f39, doc")
    assert got == ([(0, None, 0, None, 0, {"n": 0}), (1, 1, 1, None, 1, {"n": 1}),
                    (2, 2, 2, None, 2, {"n": 2}), (3, 3, None, None, 3, {"n": 3})]
                   + [(n, n, n, None, None if n == 39 else n, {"n": n}) for n in range(4, 40)]
                   + [(40, 1, 1, None, 1, [40]), (41, 2, None, "text", 2, None)])


def test_a_kind_change_in_a_later_run_and_a_changed_record_moves_column(binding):
    """Across runs (the loader reads the kinds back from the table); an upserted record
    whose field changed kind leaves nothing of its old value in the base column."""
    target = binding("upsert")
    load(target, [{"id": 1, "qty": 7}, {"id": 2, "qty": 8}])
    load(target, [{"id": 1, "qty": "many"}])
    assert rows(target, "id, qty, qty__v_text") == [(1, None, "many"), (2, 8, None)]
    load(target, [{"id": 1, "qty": 9}])
    assert rows(target, "id, qty, qty__v_text") == [(1, 9, None), (2, 8, None)]


def test_the_first_batch_mixing_kinds_makes_both_columns(binding):
    target = binding("append_event")
    load(target, [{"id": 1, "v": 1}, {"id": 2, "v": "x"}, {"id": 3, "v": [1]}])
    assert rows(target, "id, v, v__v_text, v__v_json") == [
        (1, 1, None, None), (2, None, "x", None), (3, None, None, [1])]


def test_key_columns_take_any_value(binding):
    """A key is never split over variants (it would no longer be one key)."""
    target = binding("upsert")
    load(target, [{"id": 1, "status": "a"}, {"id": "1", "status": "b"}])
    assert not [name for name in column_kinds(target) if name.startswith("id__")]
    assert rows(target, "CAST(id AS text), status") == [("1", "b")]


def test_a_stale_attempt_cannot_commit_across_a_schema_change(binding):
    """Attempt A loads, a newer attempt B takes the checkpoint over and makes a variant
    column; A wakes: its batches, whether they need B's new column or one of their own,
    raise StaleAttempt and leave nothing behind (no rows, no column, no checkpoint move)."""
    target = binding("upsert")
    older = loader_for(target, token=10_000)
    older.write([{"id": 1, "qty": 1}], "a1")
    newer = loader_for(target, token=10_001, run_id="00000000-0000-0000-0000-0000000000f2")
    newer.write([{"id": 2, "qty": "two"}], "b1")
    with pytest.raises(StaleAttempt):
        older.write([{"id": 3, "qty": "three"}], "a2")      # into B's variant column
    with pytest.raises(StaleAttempt):
        older.write([{"id": 4, "qty": 4.5, "new": True}], "a3")  # columns of its own
    assert "qty__v_double" not in column_kinds(target) and "new" not in column_kinds(target)
    assert rows(target, "id, qty, qty__v_text") == [(1, 1, None), (2, None, "two")]
    assert read_checkpoint(target) == "b1"
    newer.write([{"id": 5, "qty": 5.5}], "b2")               # B goes on
    newer.finish("b2")
    assert rows(target, "id, qty__v_double") [-1] == (5, 5.5)
    assert read_checkpoint(target) == "b2"


def test_replace_keeps_variants_in_the_new_table(binding):
    target = binding("replace")
    load(target, [{"id": 1, "qty": 1}], [{"id": 2, "qty": "two"}])
    assert rows(target, "id, qty, qty__v_text") == [(1, 1, None), (2, None, "two")]
    load(target, [{"id": 3, "qty": "three"}])                # a fresh table: text first
    assert rows(target, "id, qty") == [(3, "three")]
    assert "qty__v_text" not in column_kinds(target)
