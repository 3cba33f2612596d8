"""SharePoint (Microsoft Graph) end to end through the API against its fake
(tests/syncs/fakes/graph.py): client credentials with scope
``https://graph.microsoft.com/.default`` at ``{authority}/{tenant}/oauth2/v2.0/token`` (a
wrong secret gets AADSTS ``invalid_client``), the site resolved by path, the library by
name, then the drive root's delta paged by ``$top`` and ``@odata.nextLink``.

The first run reads the whole delta and checkpoints its ``@odata.deltaLink``; the next run
calls that link and reads only the changes (a deleted item flags its row), a run without
changes writes nothing, and a delta link Graph answers 410 Gone starts over with a full
delta."""

from syncs.connectors.sources import open_source
from tests.syncs.e2e.harness import (
    connect,
    create_sync,
    read_all,
    run_sync,
    table_rows,
    throttled_run,
)
from tests.syncs.fakes.graph import DELTA, GRAPH_SECRETS, TENANT, FakeGraph, file_item


def rows(sync):
    return [(id_, etag, bool(deleted)) for id_, etag, deleted in
            table_rows(sync, "drive_items", ["id", "etag", "deleted"])]


def test_msft_sharepoint_end_to_end(api, httpserver, run_job):
    fake = FakeGraph(httpserver)
    base = httpserver.url_for("/").rstrip("/")
    config = {"tenant_id": TENANT, "site_url": "https://contoso.sharepoint.com/sites/Finance",
              "folder_path": "/Shared/Exports", "page_size": 2, "base_url": base,
              "authority_url": base}
    connection = connect(api, "msft_sharepoint", config, GRAPH_SECRETS,
                         {**GRAPH_SECRETS, "client_secret": "wrong"},
                         "Microsoft Graph rejected the OAuth credentials (401: invalid_client")
    sync = create_sync(api, connection, ["drive_items"])
    run = throttled_run(api, run_job, fake, sync, DELTA)
    pages = fake.data_requests(DELTA)[1:]  # after the 429
    assert len(pages) == 3 and "token" not in pages[0]["args"]
    assert all("$skiptoken" in p["args"] for p in pages[1:])
    assert all(p["args"]["$top"] == "2" for p in pages)
    assert run.summary["entities"]["drive_items"]["rows_written"] == 4  # the root is skipped
    assert run.summary["entities"]["drive_items"]["cursor"] == fake.delta_link("t1", 2)
    assert table_rows(sync, "drive_items", ["id", "etag", "path"]) == [
        (f"i{i}", f"v1-{i}", f"/Shared/Exports/q{i}.xlsx") for i in range(1, 5)]

    # The second run calls the saved delta link and reads only what changed.
    fake.change("i2", eTag="v2-2", lastModifiedDateTime="2026-01-06T00:00:00Z")
    fake.delete("i3")
    fake.add(file_item(5, 7))
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    pages = fake.data_requests(DELTA)
    assert pages[0]["args"]["token"] == "t1"
    assert len(pages) == 2 and "$skiptoken" in pages[1]["args"]  # 3 changes, 2 a page
    assert run.summary["entities"]["drive_items"]["rows_read"] == 3
    assert run.summary["entities"]["drive_items"]["cursor"] == fake.delta_link("t2", 2)
    assert rows(sync) == [("i1", "v1-1", False), ("i2", "v2-2", False), ("i3", None, True),
                          ("i4", "v1-4", False), ("i5", "v1-5", False)]

    # Nothing changed: one request with the new link, nothing written.
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert [p["args"].get("token") for p in fake.data_requests(DELTA)] == ["t2"]
    assert run.summary["entities"]["drive_items"]["rows_written"] == 0
    assert run.summary["entities"]["drive_items"]["cursor"] == fake.delta_link("t3", 2)

    # The saved link expired (410 Gone, resync required): a full delta, every live item.
    fake.expire()
    fake.change("i1", eTag="v2-1", lastModifiedDateTime="2026-01-08T00:00:00Z")
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    first, *full = fake.data_requests(DELTA)
    assert first["args"]["token"] == "t3"
    assert "token" not in full[0]["args"] and len(full) == 3
    assert run.summary["entities"]["drive_items"]["rows_written"] == 4
    assert run.summary["entities"]["drive_items"]["cursor"] == fake.delta_link("t4", 2)
    assert rows(sync) == [("i1", "v2-1", False), ("i2", "v2-2", False), ("i3", None, True),
                          ("i4", "v1-4", False), ("i5", "v1-5", False)]

    fake.requests.clear()
    run_sync(api, run_job, sync)
    assert [p["args"].get("token") for p in fake.data_requests(DELTA)] == ["t4"]


def test_msft_sharepoint_checkpoints_other_than_a_delta_link_read_the_whole_delta(httpserver):
    fake = FakeGraph(httpserver)
    base = httpserver.url_for("/").rstrip("/")
    config = {"tenant_id": TENANT, "site_url": "https://contoso.sharepoint.com/sites/Finance",
              "folder_path": "/Shared/Exports", "page_size": 2, "base_url": base,
              "authority_url": base, "start_date": "2026-01-03T00:00:00Z"}
    source = open_source("msft_sharepoint", config, GRAPH_SECRETS)

    # A first run: from start_date on (inclusive); the checkpoint moves with the last batch.
    batches = list(source.read("drive_items"))
    assert [r["id"] for b in batches for r in b.records] == ["i3", "i4"]
    assert [b.cursor for b in batches] == [None] * (len(batches) - 1) + [
        fake.delta_link("t1", 2)]

    # An older version's checkpoint (an instant): the whole delta, the items past it.
    records, cursor = read_all(source, "drive_items", cursor="2026-01-02T00:00:00Z")
    assert [r["id"] for r in records] == ["i3", "i4"]
    assert cursor == fake.delta_link("t2", 2)

    # A link of another library (drive_name changed): the whole delta, every item.
    other = f"{base}/drives/d0/root/delta?token=t1"
    records, cursor = read_all(source, "drive_items", cursor=other)
    assert [r["id"] for r in records] == ["i1", "i2", "i3", "i4"]
    assert all("token" not in r["args"] for r in fake.data_requests(DELTA))
    assert cursor == fake.delta_link("t3", 2)
