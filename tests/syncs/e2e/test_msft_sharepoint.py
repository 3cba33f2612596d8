"""SharePoint (Microsoft Graph) end to end through the API against its fake
(tests/syncs/fakes/graph.py): client credentials with scope
``https://graph.microsoft.com/.default`` at ``{authority}/{tenant}/oauth2/v2.0/token`` (a
wrong secret gets AADSTS ``invalid_client``), the site resolved by path, the library by
name, the folder by path to its id, then the drive root's delta paged by ``$top`` and
``@odata.nextLink``.

The fake's delta is Graph's: items name their parent by id, never by path. The first run reads
the whole delta and checkpoints its ``@odata.deltaLink`` with the folders under the target; the
next runs call that link and read only the changes: an item in a nested subfolder is kept
(even listed before its folder), an item outside the folder is not, a folder moved in brings
what it holds, a folder moved out flags its rows, a deletion flags its row; a run without
changes writes nothing, and a delta link Graph answers 410 Gone starts over with a full
delta."""

import pytest

from syncs.connectors.http_api import SourceError
from syncs.connectors.sources import open_source
from tests.syncs.e2e.harness import (
    check_status,
    connect,
    create_connection,
    create_sync,
    read_all,
    run_sync,
    table_rows,
    throttled_run,
)
from tests.syncs.fakes.graph import (
    DELTA,
    GRAPH_SECRETS,
    TENANT,
    FakeGraph,
    file_item,
    folder_item,
)

EXPORTS = "/Shared/Exports"


def rows(sync):
    return [(id_, etag, path, bool(deleted)) for id_, etag, path, deleted in
            table_rows(sync, "drive_items", ["id", "etag", "path", "deleted"])]


def checkpoint(fake, token, folders):
    return {"delta_link": fake.delta_link(token, 2), "folder_id": "f-exports",
            "include_subfolders": True, "folders": folders}


def config_for(httpserver, **extra):
    base = httpserver.url_for("/").rstrip("/")
    return {"tenant_id": TENANT, "site_url": "https://contoso.sharepoint.com/sites/Finance",
            "folder_path": EXPORTS, "page_size": 2, "base_url": base, "authority_url": base,
            **extra}


def test_msft_sharepoint_end_to_end(api, httpserver, run_job):
    fake = FakeGraph(httpserver)
    fake.add(folder_item("f-old", "Old", "f-private"))   # /Private/Old/q9.xlsx
    fake.add(file_item(9, 2, parent="f-old"))
    fake.add(file_item(8, 2, parent="f-private"))        # /Private/q8.xlsx
    connection = connect(api, "msft_sharepoint", config_for(httpserver), GRAPH_SECRETS,
                         {**GRAPH_SECRETS, "client_secret": "wrong"},
                         "Microsoft Graph rejected the OAuth credentials (401: invalid_client")
    sync = create_sync(api, connection, ["drive_items"])
    run = throttled_run(api, run_job, fake, sync, DELTA)
    assert fake.data_requests("/drives/d1/root:")[-1]["path"] == f"/drives/d1/root:{EXPORTS}"
    pages = fake.data_requests(DELTA)[1:]  # after the 429
    assert len(pages) == 6 and "token" not in pages[0]["args"]  # 11 items, 2 a page
    assert all("$skiptoken" in p["args"] for p in pages[1:])
    assert all(p["args"]["$top"] == "2" for p in pages)
    # Only the files under /Shared/Exports: not the root, the folders above, nor /Private.
    assert run.summary["entities"]["drive_items"]["rows_written"] == 4
    assert run.summary["entities"]["drive_items"]["cursor"] == checkpoint(fake, "t1", {})
    assert rows(sync) == [(f"i{i}", f"v1-{i}", f"{EXPORTS}/q{i}.xlsx", False)
                          for i in range(1, 5)]

    # The second run calls the saved delta link and reads only what changed.
    fake.change("i2", eTag="v2-2", lastModifiedDateTime="2026-01-06T00:00:00Z")
    fake.delete("i3")
    fake.add(file_item(6, 8, parent="f-2026"))      # listed before its new folder
    fake.add(folder_item("f-2026", "2026", "f-exports", 8))
    fake.add(file_item(5, 7))
    fake.add(file_item(7, 8, parent="f-private"))   # outside the folder
    fake.move("f-old", "f-exports")                 # the delta reports it, not q9 in it
    fake.move("i8", "f-2026")                       # a file moved in
    fake.move("i4", "f-private")                    # a file moved out
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    pages = fake.data_requests(DELTA)
    assert pages[0]["args"]["token"] == "t1"
    assert len(pages) == 5  # 9 changes, 2 a page
    # The folders that came into the target are listed: q9 is only found that way.
    assert sorted(r["path"] for r in fake.data_requests("/children")) == [
        "/drives/d1/items/f-2026/children", "/drives/d1/items/f-old/children"]
    assert run.summary["entities"]["drive_items"]["rows_read"] == 8
    assert run.summary["entities"]["drive_items"]["cursor"] == checkpoint(fake, "t2", {
        "f-old": ["f-exports", "Old"], "f-2026": ["f-exports", "2026"]})
    assert rows(sync) == [
        ("f-2026", None, f"{EXPORTS}/2026", False), ("f-old", None, f"{EXPORTS}/Old", False),
        ("i1", "v1-1", f"{EXPORTS}/q1.xlsx", False), ("i2", "v2-2", f"{EXPORTS}/q2.xlsx", False),
        ("i3", None, None, True),
        ("i4", "v1-4", f"{EXPORTS}/q4.xlsx", False),  # moved out: kept as last read
        ("i5", "v1-5", f"{EXPORTS}/q5.xlsx", False),
        ("i6", "v1-6", f"{EXPORTS}/2026/q6.xlsx", False),
        ("i8", "v1-8", f"{EXPORTS}/2026/q8.xlsx", False),
        ("i9", "v1-9", f"{EXPORTS}/Old/q9.xlsx", False)]

    # A folder moved out flags its rows and those of what it holds; a file changed in a
    # nested folder that did not change is placed by the folders saved with the checkpoint.
    fake.move("f-old", "f-private")
    fake.change("i8", eTag="v2-8")
    fake.delete("i6")
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert [p["args"].get("token") for p in fake.data_requests(DELTA)] == ["t2", None]
    assert [r["path"] for r in fake.data_requests("/children")] == [
        "/drives/d1/items/f-old/children"]
    assert run.summary["entities"]["drive_items"]["rows_read"] == 4
    assert run.summary["entities"]["drive_items"]["cursor"] == checkpoint(fake, "t3", {
        "f-2026": ["f-exports", "2026"]})
    assert [r for r in rows(sync) if r[0] in ("f-old", "i6", "i8", "i9")] == [
        ("f-old", None, None, True), ("i6", None, None, True),
        ("i8", "v2-8", f"{EXPORTS}/2026/q8.xlsx", False), ("i9", "v1-9", None, True)]

    # Nothing changed: one request with the new link, nothing written.
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert [p["args"].get("token") for p in fake.data_requests(DELTA)] == ["t3"]
    assert fake.data_requests("/children") == []
    assert run.summary["entities"]["drive_items"]["rows_written"] == 0
    assert run.summary["entities"]["drive_items"]["cursor"] == checkpoint(fake, "t4", {
        "f-2026": ["f-exports", "2026"]})

    # The saved link expired (410 Gone, resync required): a full delta, every live item under
    # the folder written again, the folders found again from it.
    fake.expire()
    fake.change("i1", eTag="v2-1", lastModifiedDateTime="2026-01-08T00:00:00Z")
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    first, *full = fake.data_requests(DELTA)
    assert first["args"]["token"] == "t4"
    assert "token" not in full[0]["args"] and len(full) == 7  # 13 live items
    assert run.summary["entities"]["drive_items"]["rows_written"] == 5
    assert run.summary["entities"]["drive_items"]["cursor"] == checkpoint(fake, "t5", {
        "f-2026": ["f-exports", "2026"]})
    assert [r[:2] for r in rows(sync)] == [
        ("f-2026", None), ("f-old", None), ("i1", "v2-1"), ("i2", "v2-2"), ("i3", None),
        ("i4", "v1-4"), ("i5", "v1-5"), ("i6", None), ("i8", "v2-8"), ("i9", "v1-9")]

    fake.requests.clear()
    run_sync(api, run_job, sync)
    assert [p["args"].get("token") for p in fake.data_requests(DELTA)] == ["t5"]


def test_msft_sharepoint_check_finds_the_library_and_folder_it_names(api, httpserver):
    fake = FakeGraph(httpserver)
    for extra, error in [({"folder_path": "/Shared/Missing"},
                          "The library 'Documents' has no folder '/Shared/Missing' (404)"),
                         ({"drive_name": "Nope"},
                          "The site has no document library named 'Nope'")]:
        connection = create_connection(api, "msft_sharepoint", config_for(httpserver, **extra),
                                       GRAPH_SECRETS, name=str(extra))
        assert check_status(api, connection) == ("failed", f"{error}."), extra
    asked = len(fake.data_requests("/drives/d1/root:"))
    # Named neither: the site is checked, not the default library (lists may be all it reads).
    config = {k: v for k, v in config_for(httpserver).items() if k != "folder_path"}
    connection = create_connection(api, "msft_sharepoint", config, GRAPH_SECRETS, name="lists")
    assert check_status(api, connection) == ("ok", "")
    assert len(fake.data_requests("/drives/d1/root:")) == asked


def test_msft_sharepoint_checkpoints_other_than_its_own_read_the_whole_delta(httpserver):
    fake = FakeGraph(httpserver)
    base = httpserver.url_for("/").rstrip("/")
    source = open_source("msft_sharepoint", config_for(
        httpserver, start_date="2026-01-03T00:00:00Z"), GRAPH_SECRETS)

    # A first run: from start_date on (inclusive); the checkpoint moves with the last batch.
    batches = list(source.read("drive_items"))
    assert [r["id"] for b in batches for r in b.records] == ["i3", "i4"]
    assert [b.cursor for b in batches] == [None] * (len(batches) - 1) + [
        checkpoint(fake, "t1", {})]

    # An older version's checkpoint (an instant): the whole delta, the items past it.
    records, cursor = read_all(source, "drive_items", cursor="2026-01-02T00:00:00Z")
    assert [r["id"] for r in records] == ["i3", "i4"]
    assert cursor == checkpoint(fake, "t2", {})

    # An older version's bare delta link (no folders saved with it): the whole delta.
    records, cursor = read_all(source, "drive_items", cursor=fake.delta_link("t2", 2))
    assert [r["id"] for r in records] == ["i1", "i2", "i3", "i4"]
    assert cursor == checkpoint(fake, "t3", {})

    # A link of another library (drive_name changed) or of another folder (folder_path
    # changed): the whole delta, every item.
    for other in ({**checkpoint(fake, "t1", {}), "delta_link": f"{base}/drives/d0/root/delta"
                   "?token=t1"}, {**checkpoint(fake, "t1", {}), "folder_id": "f-private"}):
        fake.requests.clear()
        records, cursor = read_all(source, "drive_items", cursor=other)
        assert [r["id"] for r in records] == ["i1", "i2", "i3", "i4"]
        assert all("token" not in r["args"] for r in fake.data_requests(DELTA))


def test_msft_sharepoint_without_subfolders_or_at_the_root(httpserver):
    fake = FakeGraph(httpserver)
    fake.add(folder_item("f-2026", "2026", "f-exports"))
    fake.add(file_item(5, 5, parent="f-2026"))
    flat = open_source("msft_sharepoint", config_for(httpserver, include_subfolders=False),
                       GRAPH_SECRETS)
    records, cursor = read_all(flat, "drive_items")
    assert [(r["id"], r["path"]) for r in records] == [
        ("i1", f"{EXPORTS}/q1.xlsx"), ("i2", f"{EXPORTS}/q2.xlsx"),
        ("i3", f"{EXPORTS}/q3.xlsx"), ("i4", f"{EXPORTS}/q4.xlsx"),
        ("f-2026", f"{EXPORTS}/2026")]
    assert cursor["folders"] == {} and cursor["include_subfolders"] is False

    everything = open_source("msft_sharepoint", config_for(httpserver, folder_path="/"),
                             GRAPH_SECRETS)
    records, cursor = read_all(everything, "drive_items")
    assert [(r["id"], r["path"]) for r in records] == [
        ("f-shared", "/Shared"), ("f-exports", EXPORTS), ("f-private", "/Private"),
        *[(f"i{i}", f"{EXPORTS}/q{i}.xlsx") for i in range(1, 5)],
        ("f-2026", f"{EXPORTS}/2026"), ("i5", f"{EXPORTS}/2026/q5.xlsx")]
    assert cursor["folder_id"] == "root"

    missing = open_source("msft_sharepoint", config_for(httpserver, folder_path="/Nope"),
                          GRAPH_SECRETS)
    with pytest.raises(SourceError, match="The library 'Documents' has no folder '/Nope'"):
        read_all(missing, "drive_items")


def last_rows(records):
    """Each item's last row of a read (a later row of the same id replaces an earlier one)."""
    return {r["id"]: (r.get("eTag"), r["path"], r["deleted"]) for r in records}


def test_msft_sharepoint_items_listed_before_the_move_of_their_folder(httpserver):
    fake = FakeGraph(httpserver)
    fake.add(file_item(6, 6, parent="f-sub"))       # each file before its folder in the feed
    fake.add(folder_item("f-sub", "Sub", "f-exports"))
    fake.add(file_item(7, 6, parent="f-x"))
    fake.add(folder_item("f-x", "X", "f-y"))
    fake.add(folder_item("f-y", "Y", "f-private"))  # /Private/Y/X/q7.xlsx
    source = open_source("msft_sharepoint", config_for(httpserver), GRAPH_SECRETS)
    records, cursor = read_all(source, "drive_items")
    assert last_rows(records) == {
        **{f"i{i}": (f"v1-{i}", f"{EXPORTS}/q{i}.xlsx", False) for i in range(1, 5)},
        "i6": ("v1-6", f"{EXPORTS}/Sub/q6.xlsx", False),
        "f-sub": (None, f"{EXPORTS}/Sub", False)}
    assert cursor["folders"] == {"f-sub": ["f-exports", "Sub"]}

    # q6 changed, then its folder moved out: the delta gives q6 first, placed by where its
    # folder was; the listing of the folder moved out flags it after.
    fake.change("i6", eTag="v2-6")
    fake.move("f-sub", "f-private")
    records, cursor = read_all(source, "drive_items", cursor=cursor)
    assert last_rows(records) == {"i6": ("v2-6", None, True), "f-sub": (None, None, True)}
    assert cursor["folders"] == {}

    # Moved back, and q7 changed in a folder whose parent moved in after it: the delta gives
    # q7 before Y (and never X); the listing of Y places both.
    fake.change("i6", eTag="v3-6")
    fake.move("f-sub", "f-exports")
    fake.change("i7", eTag="v2-7")
    fake.move("f-y", "f-exports")
    records, cursor = read_all(source, "drive_items", cursor=cursor)
    assert last_rows(records) == {
        "i6": ("v3-6", f"{EXPORTS}/Sub/q6.xlsx", False),
        "f-sub": (None, f"{EXPORTS}/Sub", False), "f-y": (None, f"{EXPORTS}/Y", False),
        "f-x": (None, f"{EXPORTS}/Y/X", False), "i7": ("v2-7", f"{EXPORTS}/Y/X/q7.xlsx", False)}
    assert cursor["folders"] == {"f-sub": ["f-exports", "Sub"], "f-x": ["f-y", "X"],
                                 "f-y": ["f-exports", "Y"]}
