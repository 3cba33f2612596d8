"""Dropbox end to end through the API against its fake (tests/syncs/fakes/dropbox.py): the
refresh-token grant with the app key and secret (a wrong refresh token gets
``invalid_grant``), ``/2/files/list_folder`` paged by ``limit`` and continued with the
returned ``cursor`` while ``has_more``, a 429 with Retry-After honoured.

The first run lists the folder and checkpoints its last cursor; the next run continues from
it with ``/2/files/list_folder/continue`` and reads only the changes (a deleted file's entry
has no id: its row stays), a run without changes writes nothing, and a cursor Dropbox
answers ``reset`` starts over with a full listing."""

import pytest

from syncs.connectors.http_api import SourceError
from syncs.connectors.sources import open_source
from tests.syncs.e2e.harness import (
    connect,
    create_sync,
    read_all,
    run_sync,
    table_rows,
    throttled_run,
)
from tests.syncs.fakes.dropbox import DROPBOX_SECRETS, LIST, FakeDropbox, file_entry

CONTINUE = f"{LIST}/continue"


def cursors(fake) -> list[str]:
    return [r["json"]["cursor"] for r in fake.data_requests(CONTINUE)]


def test_dropbox_end_to_end(api, httpserver, run_job):
    fake = FakeDropbox(httpserver)
    config = {"path": "/Reports", "recursive": True, "page_size": 2,
              "base_url": httpserver.url_for("/")}
    connection = connect(api, "dropbox", config, DROPBOX_SECRETS,
                         {**DROPBOX_SECRETS, "refresh_token": "dbx-wrong"},
                         "Dropbox rejected the OAuth credentials (400: invalid_grant")
    sync = create_sync(api, connection, ["files"])
    run = throttled_run(api, run_job, fake, sync, LIST)
    listing = [r for r in fake.data_requests(LIST) if r["path"] == LIST][1:]  # after the 429
    assert [r["json"] for r in listing] == [{"path": "/Reports", "recursive": True,
                                             "limit": 2, "include_deleted": False}]
    assert cursors(fake) == ["cursor-1", "cursor-2"]
    assert run.summary["entities"]["files"]["rows_written"] == 4  # the folder is no file
    assert run.summary["entities"]["files"]["cursor"] == "cursor-3"
    assert table_rows(sync, "files", ["id", "rev"]) == [(f"id:{i}", f"0{i}")
                                                        for i in range(1, 5)]

    # The second run continues from the saved cursor and reads only what changed.
    fake.change("id:2", rev="0b", server_modified="2026-01-06T00:00:00Z")
    fake.delete("id:3")
    fake.add(file_entry(5, 7))
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert not [r for r in fake.data_requests(LIST) if r["path"] == LIST]  # no new listing
    assert cursors(fake) == ["cursor-3", "cursor-4"]  # 3 changes, 2 a page
    assert run.summary["entities"]["files"]["rows_read"] == 2  # the deletion has no id
    assert run.summary["entities"]["files"]["cursor"] == "cursor-5"
    assert table_rows(sync, "files", ["id", "rev"]) == [
        ("id:1", "01"), ("id:2", "0b"), ("id:3", "03"), ("id:4", "04"), ("id:5", "05")]

    # Nothing changed: one request with the new cursor, nothing written.
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert cursors(fake) == ["cursor-5"]
    assert run.summary["entities"]["files"]["rows_written"] == 0
    assert run.summary["entities"]["files"]["cursor"] == "cursor-6"

    # The saved cursor was reset: a full listing, every live file.
    fake.reset()
    fake.change("id:1", rev="0a", server_modified="2026-01-08T00:00:00Z")
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert [r["path"] for r in fake.data_requests(LIST)] == [CONTINUE, LIST, CONTINUE,
                                                             CONTINUE]
    assert cursors(fake) == ["cursor-6", "cursor-7", "cursor-8"]
    assert run.summary["entities"]["files"]["rows_written"] == 4
    assert run.summary["entities"]["files"]["cursor"] == "cursor-9"
    assert table_rows(sync, "files", ["id", "rev"]) == [
        ("id:1", "0a"), ("id:2", "0b"), ("id:3", "03"), ("id:4", "04"), ("id:5", "05")]

    fake.requests.clear()
    run_sync(api, run_job, sync)
    assert cursors(fake) == ["cursor-9"]


def test_dropbox_cursor_errors_other_than_reset_fail_the_read(httpserver):
    fake = FakeDropbox(httpserver)
    config = {"path": "/Reports", "page_size": 2, "base_url": httpserver.url_for("/"),
              "start_date": "2026-01-03T00:00:00Z"}
    source = open_source("dropbox", config, DROPBOX_SECRETS)

    # A first run: from start_date on (inclusive); the checkpoint moves with the last batch.
    batches = list(source.read("files"))
    assert [r["id"] for b in batches for r in b.records] == ["id:3", "id:4"]
    assert [b.cursor for b in batches] == [None] * (len(batches) - 1) + ["cursor-3"]

    # A cursor Dropbox does not know is no reset: the read fails, saying what Dropbox said.
    fake.requests.clear()
    with pytest.raises(SourceError, match="409") as failure:
        read_all(source, "files", cursor="cursor-unknown")
    assert "other" in str(failure.value)
    assert not [r for r in fake.data_requests(LIST) if r["path"] == LIST]  # no new listing
