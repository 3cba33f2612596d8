"""The loading engine: exact table contents per load mode, transactional checkpoints,
hostile names, and exactly-once across a worker killed mid-load."""

import hashlib
import signal
import threading

import pytest
from django.db import connection as db
from django.db.utils import DatabaseError

from jobs.models import Job
from syncs.loading import TableLoader, column_name, read_checkpoint, take
from syncs.models import Sync, SyncRun, TableBinding
from tests.conftest import body, wait_for


@pytest.fixture
def binding(project, make_sync, connection):
    def make(load_mode, keys=("id",)):
        sync = Sync.objects.get(pk=make_sync(name=f"load {load_mode}")["id"])
        row = sync.table_bindings.get()
        row.load_mode = load_mode
        row.primary_key_columns = list(keys)
        row.save()
        return row

    return make


def rows(binding: TableBinding, columns="id, status"):
    with db.cursor() as cursor:
        cursor.execute(f'SELECT {columns} FROM "{binding.physical_table_name}" ORDER BY id, status')
        return cursor.fetchall()


FIRST = [{"id": 1, "status": "a"}, {"id": 2, "status": "a"}]
SECOND = [{"id": 2, "status": "b"}, {"id": 3, "status": "b"}]  # overlaps on id 2


_tokens = iter(range(1, 10**6))


def loader_for(binding, run_id: str) -> TableLoader:
    """A loader holding the binding's checkpoint with a token newer than every earlier one."""
    return TableLoader(binding, run_id, lease=take(binding, next(_tokens), run_id))


def load(binding, batches, run_id="00000000-0000-0000-0000-00000000000a"):
    loader = loader_for(binding, run_id)
    loader.begin()
    for index, records in enumerate(batches):
        loader.write(records, f"cursor-{index}")
    loader.finish(f"cursor-{len(batches) - 1}")


def test_append_event_keeps_every_record(binding):
    target = binding("append_event")
    load(target, [FIRST])
    load(target, [SECOND])
    assert rows(target) == [(1, "a"), (2, "a"), (2, "b"), (3, "b")]


def test_upsert_merges_on_the_primary_key(binding):
    target = binding("upsert")
    load(target, [FIRST])
    load(target, [SECOND])
    assert rows(target) == [(1, "a"), (2, "b"), (3, "b")]


def test_upsert_last_duplicate_in_a_batch_wins(binding):
    target = binding("upsert")
    load(target, [[{"id": 1, "status": "x"}, {"id": 1, "status": "y"}]])
    assert rows(target) == [(1, "y")]


@pytest.mark.parametrize("first, second", [
    (7, "7"),            # an integer column: "7" is 7
    ("7", 7),            # a text column: 7 is "7"
    ("x", "x"),
    (7, " 7"),           # PostgreSQL's integer input takes " 7" as 7
])
def test_upsert_keys_the_database_holds_equal_are_one_key(binding, first, second):
    """The last record of a batch wins for keys equal as the key column holds them, whatever
    their Python types; different keys stay apart."""
    target = binding("upsert")
    load(target, [[{"id": first, "status": "first"}, {"id": 99, "status": "other"}]])
    load(target, [[{"id": first, "status": "again"}, {"id": second, "status": "last"}]])
    got = rows(target, "CAST(id AS text), status")
    assert sorted(got) == sorted([(str(first).strip(), "last"), ("99", "other")])


def test_upsert_composite_keys_the_database_holds_equal_are_one_key(binding):
    """Two key columns, one of them text: 7 and "7" are one key there, and the last record of
    the batch wins; keys differing in either column stay apart."""
    target = binding("upsert", keys=("id", "part"))
    load(target, [[{"id": 1, "part": "7", "status": "a"}]])
    load(target, [[{"id": 1, "part": "7", "status": "b"}, {"id": 2, "part": 7, "status": "x"},
                   {"id": 1, "part": 7, "status": "c"}, {"id": 1, "part": "8", "status": "y"}]])
    assert sorted(rows(target, "id, part, status")) == [(1, "7", "c"), (1, "8", "y"),
                                                        (2, "7", "x")]


def test_replace_swaps_in_the_new_contents(binding):
    target = binding("replace")
    load(target, [FIRST])
    load(target, [SECOND])
    assert rows(target) == [(2, "b"), (3, "b")]


def test_meta_columns_and_new_columns(binding):
    target = binding("upsert")
    load(target, [FIRST])
    load(target, [[{"id": 4, "status": "c", "extra": {"k": [1, 2]}, "price": 9.5}]])
    with db.cursor() as cursor:
        cursor.execute(f'SELECT extra, price, _record, _run_id, _synced_at FROM '
                       f'"{target.physical_table_name}" WHERE id = 4')
        extra, price, record, run_id, synced_at = cursor.fetchone()
    import json

    assert (json.loads(extra) if isinstance(extra, str) else extra) == {"k": [1, 2]}
    assert price == 9.5 and run_id.endswith("a") and synced_at
    record = json.loads(record) if isinstance(record, str) else record
    assert record == {"id": 4, "status": "c", "extra": {"k": [1, 2]}, "price": 9.5}


@pytest.mark.parametrize("mode", ["append_event", "upsert"])
def test_records_of_varied_shapes_land_in_their_columns(binding, mode):
    """Key order, missing keys, keys first seen as null, keys that share a column, a key
    named like a meta column: each value lands where it belongs, whatever the batch."""
    target = binding(mode)
    run_id = "00000000-0000-0000-0000-0000000000c1"
    loader = loader_for(target, run_id)
    loader.begin()
    loader.write([{"id": 1, "status": "a", "note": None},
                  {"status": "b", "id": 2},                       # other key order
                  {"id": 3, "status": "c", "Colour": "red", "colour": "blue"}], "c1")
    loader.write([{"id": 4, "status": "d", "note": "now text", "_run_id": "forged"},
                  {"id": 5, "status": "e", "qty": 7},             # a new column mid-load
                  {"qty": 8, "id": 6}], "c2")
    loader.finish("c2")
    got = rows(target, "id, status, note, colour, qty, _run_id, _record")
    import json

    assert [row[:5] for row in got] == [
        (1, "a", None, None, None), (2, "b", None, None, None),
        (3, "c", None, "blue", None),                          # the later key wins
        (4, "d", "now text", None, None), (5, "e", None, None, 7), (6, None, None, None, 8)]
    assert {row[5] for row in got} == {run_id}                # never the record's "_run_id"
    record = got[3][6]
    assert (json.loads(record) if isinstance(record, str) else record)["_run_id"] == "forged"
    with db.cursor() as cursor:
        cursor.execute(f'SELECT COUNT(DISTINCT _synced_at), MIN(_synced_at) IS NOT NULL '
                       f'FROM "{target.physical_table_name}"')
        distinct_times, has_time = cursor.fetchone()
    assert has_time and distinct_times == 2                   # one time per batch
    assert read_checkpoint(target) == "c2"


def test_a_failing_batch_rolls_back_with_its_checkpoint(binding, monkeypatch):
    target = binding("upsert")
    loader = loader_for(target, "00000000-0000-0000-0000-00000000000b")
    loader.begin()
    loader.write(FIRST, "c1")
    assert read_checkpoint(target) == "c1"

    def broken(self, cursor_value):
        raise DatabaseError("lost the connection while saving the checkpoint")

    monkeypatch.setattr(type(loader.lease), "advance", broken)
    with pytest.raises(DatabaseError):
        loader.write([{"id": 3, "status": "x"}], "c2")
    monkeypatch.undo()
    assert read_checkpoint(target) == "c1"
    assert rows(target) == [(1, "a"), (2, "a")]  # the batch's rows went with it


def test_hostile_names_are_sanitised_and_quoted(binding):
    target = binding("append_event", keys=())
    hostile = {'id": 1); DROP TABLE accounts_project; --': "x", "id": 7, "status": "ok",
               "Select": 1, "1st": 2, "naïve col": 3}
    load(target, [[hostile]])
    assert rows(target) == [(7, "ok")]
    names = {column_name(k) for k in hostile}
    assert all(n.replace("_", "").isalnum() for n in names)
    with db.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM accounts_project")  # still there
    assert column_name("1st") == "c_1st" and column_name("Select") == "select"


def test_hostile_logical_table_name_becomes_a_safe_identifier(api, make_sync):
    sync = make_sync(table_bindings=[{"entity_key": "orders",
                                      "logical_table_name": 'x"; DROP TABLE y; --'}])
    binding = Sync.objects.get(pk=sync["id"]).table_bindings.get()
    assert binding.physical_table_name.replace("_", "").isalnum()


def checksum(values) -> str:
    return hashlib.sha256(repr(sorted(values)).encode()).hexdigest()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_load_resumes_exactly_once(api, make_sync, shop, spawn_worker):
    """A worker is SIGKILLed while a run is between batches; the reaper fails the run, an
    auto-resume attempt continues from the last committed batch, and the table ends with
    every source row exactly once."""
    from tests.syncs.conftest import ORDERS

    shop.gate = threading.Event()
    sync = make_sync()
    # append_event: a duplicate would show as a second row with the same id.
    binding = Sync.objects.get(pk=sync["id"]).table_bindings.get()
    binding.load_mode = "append_event"
    binding.save()
    response = api.send_document("post", f"/api/v1/syncs/{sync['id']}/trigger", "sync-triggers")
    run = SyncRun.objects.get(pk=body(response)["data"]["id"])
    fast = {"JOBS_HEARTBEAT_SECONDS": "0.2", "JOBS_HEARTBEAT_TIMEOUT_SECONDS": "2",
            "JOBS_POLL_SECONDS": "0.1"}
    doomed = spawn_worker(env=fast)
    reached = shop.gate_reached.wait(30)
    if not reached:
        doomed.kill()
        raise AssertionError(doomed.communicate()[0])  # page 1 is committed; page 2 is being served
    doomed.send_signal(signal.SIGKILL)
    doomed.wait(10)
    shop.gate.set()
    shop.gate = None
    rescuer = spawn_worker(env=fast)
    resumed = wait_for(lambda: SyncRun.objects.filter(previous_attempt_run_id=run.pk,
                                                      status="succeeded").first(), timeout=60)
    run.refresh_from_db()
    assert (run.status, run.result_reason_code) == ("failed", "heartbeat_timeout")
    assert resumed.triggered_by == "auto_resume"
    loaded = rows(binding, "id, total")
    assert len(loaded) == len(ORDERS)
    assert checksum(loaded) == checksum([(o["id"], o["total"]) for o in ORDERS])
    rescuer.send_signal(signal.SIGTERM)
    assert rescuer.wait(30) == 0
    assert not Job.objects.filter(status="running").exists()


def test_upsert_of_an_unchanged_record_writes_nothing(binding):
    """A record sent again unchanged leaves its row as it was (its ``_run_id`` and
    ``_synced_at`` say when its content last changed; on PostgreSQL not even a new row version
    or a row lock); a changed record under the same key is written."""
    target = binding("upsert")
    first = [{"id": 1, "status": "a", "tags": ["x"]}, {"id": 2, "status": "a"}]
    load(target, [first], run_id="00000000-0000-0000-0000-0000000000e1")
    columns = "id, status, _run_id, _synced_at"
    if db.vendor == "postgresql":
        columns += ", ctid::text, xmin::text, xmax::text"
    before = rows(target, columns)
    load(target, [[dict(first[0]), {"id": 2, "status": "b"}, {"id": 3, "status": "c"}]],
         run_id="00000000-0000-0000-0000-0000000000e2")
    after = rows(target, columns)
    assert after[0] == before[0]                      # unchanged: the very same row version
    assert after[0][2].endswith("e1")
    if db.vendor == "postgresql":
        assert after[0][6] == "0"                    # never locked by the second load
    assert after[1][:3] == (2, "b", "00000000-0000-0000-0000-0000000000e2")
    assert after[1][3] > before[1][3]
    assert after[2][:3] == (3, "c", "00000000-0000-0000-0000-0000000000e2")


def test_upsert_unchanged_last_duplicate_still_wins(binding):
    """A batch repeating a key: its last record wins even when it is the stored one (the
    unchanged filter applies after the batch's own deduplication)."""
    target = binding("upsert")
    load(target, [[{"id": 1, "status": "a"}]])
    load(target, [[{"id": 1, "status": "b"}, {"id": 1, "status": "a"}]])
    assert rows(target) == [(1, "a")]
    load(target, [[{"id": 1, "status": "a"}, {"id": 1, "status": "b"}]])
    assert rows(target) == [(1, "b")]


def test_unchanged_records_after_a_batch_of_new_ones_are_not_rewritten(binding):
    """Within one load, after batches of new keys only (PostgreSQL then stops probing for
    unchanged records before the INSERT), an unchanged record still gets no new row version,
    and a changed one is written."""
    target = binding("upsert")
    load(target, [[{"id": 1, "status": "a"}]], run_id="00000000-0000-0000-0000-0000000000e1")
    columns = "id, status, _run_id" + (", ctid::text, xmin::text"
                                        if db.vendor == "postgresql" else "")
    before = rows(target, columns)
    load(target, [[{"id": 2, "status": "b"}], [{"id": 3, "status": "c"}],
                  [{"id": 1, "status": "a"}, {"id": 3, "status": "d"}]],
         run_id="00000000-0000-0000-0000-0000000000e2")
    after = rows(target, columns)
    assert after[0] == before[0]
    assert [row[:3] for row in after[1:]] == [
        (2, "b", "00000000-0000-0000-0000-0000000000e2"),
        (3, "d", "00000000-0000-0000-0000-0000000000e2")]
