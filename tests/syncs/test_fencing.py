"""The checkpoint fence: a batch commits only while its attempt owns the checkpoint row and the
checkpoint is where that attempt left it; a stale attempt's batch rolls back whole."""

import pytest
from django.db import connection as db

from syncs.loading import StaleAttempt, TableLoader, read_checkpoint, take
from syncs.models import Sync, SyncRun, SyncState
from syncs.runner import update_run

RUN_A = "00000000-0000-0000-0000-0000000000a1"
RUN_B = "00000000-0000-0000-0000-0000000000b2"


@pytest.fixture
def binding(make_sync):
    def make(load_mode="append_event"):
        row = Sync.objects.get(pk=make_sync(name=f"fence {load_mode}")["id"]).table_bindings.get()
        row.load_mode = load_mode
        row.primary_key_columns = ["id"]
        row.save()
        return row

    return make


def table(binding) -> list[tuple]:
    with db.cursor() as cursor:
        if binding.physical_table_name not in db.introspection.table_names(cursor):
            return []
        cursor.execute(f'SELECT id, status FROM "{binding.physical_table_name}" ORDER BY id')
        return cursor.fetchall()


def batch(ids, status="a"):
    return [{"id": i, "status": status} for i in ids]


@pytest.mark.parametrize("mode", ["append_event", "upsert"])
def test_a_newer_attempt_fences_the_older_ones_batches(binding, mode):
    target = binding(mode)
    stale = TableLoader(target, RUN_A, lease=take(target, 1, RUN_A))
    stale.begin()
    stale.write(batch([1, 2]), "c2")
    fresh = TableLoader(target, RUN_B, lease=take(target, 2, RUN_B))
    assert fresh.lease.cursor == "c2"                     # resumes where A committed
    fresh.begin()
    fresh.write(batch([3, 4], "b"), "c4")
    with pytest.raises(StaleAttempt, match="newer attempt"):
        stale.write(batch([3, 4], "stale"), "c4-old")     # A wakes up with its next batch
    assert table(target) == [(1, "a"), (2, "a"), (3, "b"), (4, "b")]
    assert read_checkpoint(target) == "c4"
    state = SyncState.objects.get(sync_id=target.sync_id, entity_key=target.entity_key)
    assert (state.epoch, str(state.run_id)) == (2, RUN_B)


def test_an_older_token_cannot_take_the_checkpoint_back(binding):
    target = binding()
    take(target, 5, RUN_B)
    with pytest.raises(StaleAttempt):
        take(target, 4, RUN_A)
    take(target, 5, RUN_B)  # the owner may take it again (a task of the same attempt)


def test_the_checkpoint_moves_only_from_where_this_attempt_left_it(binding):
    target = binding()
    loader = TableLoader(target, RUN_A, lease=take(target, 1, RUN_A))
    loader.write(batch([1]), "c1")
    # Something else moved it (it must not happen; the compare-and-set still refuses).
    SyncState.objects.filter(sync_id=target.sync_id).update(cursor="c9")
    with pytest.raises(StaleAttempt):
        loader.write(batch([2]), "c2")
    assert table(target) == [(1, "a")]
    assert read_checkpoint(target) == "c9"


def test_replace_fences_its_staging_batches_and_its_swap(binding):
    target = binding("replace")
    first = TableLoader(target, RUN_A, lease=take(target, 1, RUN_A))
    first.begin()
    first.write(batch([7]), None)
    first.finish("done-1")
    assert table(target) == [(7, "a")]

    stale = TableLoader(target, RUN_A, lease=take(target, 2, RUN_A))
    stale.begin()
    stale.write(batch([8], "stale"), None)
    fresh = TableLoader(target, RUN_B, lease=take(target, 3, RUN_B))
    with pytest.raises(StaleAttempt):
        stale.write(batch([9], "stale"), None)
    with pytest.raises(StaleAttempt):
        stale.finish("done-stale")
    assert table(target) == [(7, "a")]                    # the swap did not happen
    fresh.begin()
    fresh.write(batch([10], "b"), None)
    fresh.finish("done-3")
    assert table(target) == [(10, "b")]
    assert read_checkpoint(target) == "done-3"


def test_a_run_that_is_not_running_refuses_its_attempts_writes(make_sync, api):
    from tests.conftest import body

    sync = make_sync()
    response = api.send_document("post", f"/api/v1/syncs/{sync['id']}/trigger", "sync-triggers")
    run = SyncRun.objects.get(pk=body(response)["data"]["id"])
    SyncRun.objects.filter(pk=run.pk).update(status="failed", summary={"untouched": True})
    with pytest.raises(StaleAttempt, match="failed"):
        update_run(run.pk, lambda r: r.summary.update(rows_read=99))
    run.refresh_from_db()
    assert run.summary == {"untouched": True}
