"""Reading a source ahead of the loader (syncs.pipeline): order, merged writes, a bounded
read-ahead, a source error mid-read and a run cancelled mid-read — the reader on its own, then
through the real run path (a job run inline, a worker process) on the test database."""

import json
import threading
import time

import pytest
from werkzeug import Response

from jobs.models import Job
from syncs.connectors import Batch
from syncs.loading import read_checkpoint
from syncs.models import Sync, SyncRun
from syncs.pipeline import ReadAhead, read_ahead
from syncs.services import cancel_run
from syncs.signals import batch_staged
from tests.conftest import body, wait_for


def readers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sync-read-ahead"]


class Pages:
    """A source's batches, with what the reader has pulled so far; ``blocked`` holds the
    reader on a page (a slow API) until it is set."""

    def __init__(self, count: int, size: int, *, fail_at: int | None = None,
                 cursors: bool = True) -> None:
        self.count, self.size, self.fail_at, self.cursors = count, size, fail_at, cursors
        self.pulled = 0
        self.closed = threading.Event()
        self.blocked: threading.Event | None = None
        self.block_at: int | None = None
        self.reached_block = threading.Event()

    def __iter__(self):
        try:
            for page in range(self.count):
                if page == self.block_at and self.blocked is not None:
                    self.reached_block.set()
                    self.blocked.wait(10)
                if page == self.fail_at:
                    raise ConnectionError(f"page {page} failed")
                self.pulled += 1
                records = [{"id": page * self.size + i} for i in range(self.size)]
                yield Batch(records=records, cursor=f"c{page:03d}" if self.cursors else None)
        finally:
            self.closed.set()


def test_batches_come_in_order_merged_up_to_the_bound():
    pages = Pages(10, 3)
    with ReadAhead(pages, max_rows=9) as batches:
        wait_for(lambda: pages.pulled == 4)  # 9 rows ahead, then the reader waits
        got = list(batches)
    assert [r["id"] for b in got for r in b.records] == list(range(30))
    assert all(len(b.records) <= 9 for b in got)
    assert len(got) < 10  # batches read ahead were merged into fewer writes
    assert got[-1].cursor == "c009"
    assert [b.cursor for b in got] == sorted(b.cursor for b in got)
    assert pages.closed.is_set()


def test_a_batch_without_a_cursor_is_not_merged_with_ones_that_have_one():
    with_cursor, without = Pages(2, 2), Pages(2, 2, cursors=False)

    def source():
        yield from with_cursor
        yield from without

    with ReadAhead(source(), max_rows=100) as batches:
        wait_for(lambda: without.closed.is_set())
        got = list(batches)
    assert [(len(b.records), b.cursor) for b in got] == [(4, "c001"), (4, None)]


def test_the_read_ahead_is_bounded_in_rows():
    pages = Pages(1000, 100)
    with ReadAhead(pages, max_rows=250) as batches:
        iterator = iter(batches)
        first = next(iterator)
        wait_for(lambda: pages.pulled >= 4)
        time.sleep(0.3)  # the reader would go on here if it were not bounded
        # Ahead of the run: queued until the bound is reached (so at most one batch past
        # it), and the batch the reader holds, waiting for room.
        ahead = pages.pulled * 100 - len(first.records)
        assert ahead <= 250 + 100 + 100, pages.pulled
        pulled = pages.pulled
        time.sleep(0.3)
        assert pages.pulled == pulled
    assert pages.closed.is_set()
    assert pages.pulled < 10
    assert readers() == []


def test_a_source_error_reaches_the_run_after_the_batches_read_before_it():
    pages = Pages(5, 2, fail_at=3)
    got = []
    with pytest.raises(ConnectionError, match="page 3 failed"):
        with ReadAhead(pages, max_rows=2) as batches:
            for batch in batches:
                got.append(batch.cursor)
    assert got == ["c000", "c001", "c002"]
    assert readers() == []


def test_a_run_that_stops_stops_the_reader_on_the_page_it_is_on():
    pages = Pages(100, 1)
    pages.blocked, pages.block_at = threading.Event(), 2
    with pytest.raises(RuntimeError, match="stopped"):
        with ReadAhead(pages, max_rows=5) as batches:
            for _ in batches:
                pages.reached_block.wait(10)
                threading.Timer(0.2, pages.blocked.set).start()  # the page comes, later
                raise RuntimeError("the run stopped")
    assert pages.closed.wait(10)
    assert pages.pulled <= 3  # the page it was on, nothing after
    assert readers() == []


def test_waiting_for_a_slow_source_calls_on_wait_which_may_stop_the_run(monkeypatch):
    monkeypatch.setattr("syncs.pipeline.WAIT_SECONDS", 0.05)
    pages = Pages(3, 1)
    pages.blocked, pages.block_at = threading.Event(), 1
    calls = []

    def on_wait():
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt("cancelled")

    with pytest.raises(KeyboardInterrupt):
        with ReadAhead(pages, max_rows=5, on_wait=on_wait) as batches:
            for _ in batches:
                pass
    pages.blocked.set()
    assert pages.closed.wait(10)
    assert len(calls) == 3


@pytest.mark.django_db
def test_inside_a_callers_transaction_batches_are_read_inline():
    pages = Pages(3, 2)
    with read_ahead(pages, using=["default"]) as batches:
        assert batches is pages
        assert [b.cursor for b in batches] == ["c000", "c001", "c002"]


# --- through the run path ---------------------------------------------------------------------

class PagedApi:
    """``/items``: RECORDS items, PAGE per page (``page``), ``updated_since`` respected; page
    ``fail_page`` answers 500; page ``gate_page`` waits for ``gate``."""

    RECORDS, PAGE = 20, 4

    def __init__(self, server) -> None:
        self.fail_page: int | None = None
        self.gate: threading.Event | None = None
        self.gate_page = 0
        self.gate_reached = threading.Event()
        self.pages: list[int] = []
        server.expect_request("/items").respond_with_handler(self.items)

    @staticmethod
    def updated(i: int) -> str:
        return f"2026-03-01T00:00:{i:02d}Z"

    def items(self, request):
        page = int(request.args.get("page", 1))
        self.pages.append(page)
        if page == self.fail_page:
            return Response("boom", status=500)
        if page == self.gate_page and self.gate is not None:
            self.gate_reached.set()
            self.gate.wait(30)
        since = request.args.get("updated_since")
        ids = [i for i in range(1, self.RECORDS + 1) if not since or self.updated(i) > since]
        chunk = ids[(page - 1) * self.PAGE: page * self.PAGE]
        data = [{"id": i, "updated_at": self.updated(i), "tags": [i]} for i in chunk]
        return Response(json.dumps({"data": data}), content_type="application/json")


@pytest.fixture
def paged(api, httpserver):
    source = PagedApi(httpserver)
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "http_api", "name": "paged", "secrets": {},
        "config": {"base_url": httpserver.url_for("/"), "auth": {"type": "none"},
                   "pagination": {"type": "page_number", "page_size": PagedApi.PAGE},
                   "max_retries": 0,
                   "streams": [{"name": "items", "path": "/items", "record_selector": "$.data",
                                "primary_key": ["id"], "cursor_field": "updated_at",
                                "cursor_param": "updated_since"}]}})
    assert response.status_code == 201, response.content
    document = {"data": {"type": "syncs", "attributes": {
        "name": "paged", "entities": ["items"], "status": "active",
        "table_bindings": [{"entity_key": "items", "load_mode": "append_event",
                            "primary_key_columns": ["id"]}]},
        "relationships": {"connection": {"data": {"type": "connections",
                                                   "id": body(response)["data"]["id"]}}}}}
    response = api.post("/api/v1/syncs", data=json.dumps(document),
                        content_type="application/vnd.api+json")
    assert response.status_code == 201, response.content
    return source, Sync.objects.get(pk=body(response)["data"]["id"])


def trigger(api, sync: Sync) -> SyncRun:
    response = api.send_document("post", f"/api/v1/syncs/{sync.pk}/trigger", "sync-triggers")
    assert response.status_code in (200, 201, 202), response.content
    return SyncRun.objects.get(pk=body(response)["data"]["id"])


def table_ids(sync: Sync) -> list[int]:
    from django.conf import settings
    from django.db import connections

    table = sync.table_bindings.get().physical_table_name
    with connections[settings.WAREHOUSE_DATABASE_ALIAS].cursor() as cursor:
        if table not in connections[settings.WAREHOUSE_DATABASE_ALIAS].introspection \
                .table_names(cursor):
            return []  # the first batch is not committed yet
        cursor.execute(f'SELECT id FROM "{table}" ORDER BY id')
        return [int(row[0]) for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
def test_a_run_reads_ahead_and_loads_every_row_once_in_order(api, paged, run_job, settings):
    settings.SYNCS_READ_AHEAD_ROWS = 8  # two pages per write at most
    source, sync = paged
    writes = []  # (rows, a reader thread was reading meanwhile) per write

    def staged(sender, rows, **kwargs):
        writes.append((rows, bool(readers())))

    batch_staged.connect(staged, dispatch_uid="test_pipeline")
    try:
        run = trigger(api, sync)
        run_job(run.job_id)
    finally:
        batch_staged.disconnect(dispatch_uid="test_pipeline")
    run.refresh_from_db()
    assert writes[0][1], "the first write happened while the reader read on"
    assert all(rows <= 8 for rows, _ in writes) and sum(r for r, _ in writes) == 20
    assert run.status == "succeeded", run.error
    assert table_ids(sync) == list(range(1, PagedApi.RECORDS + 1))  # append: once each
    assert run.summary["rows_written"] == PagedApi.RECORDS
    assert read_checkpoint(sync.table_bindings.get()) == PagedApi.updated(PagedApi.RECORDS)
    assert readers() == []
    again = trigger(api, sync)
    run_job(again.job_id)
    again.refresh_from_db()
    assert (again.status, again.summary["rows_read"]) == ("succeeded", 0)


@pytest.mark.django_db(transaction=True)
def test_a_source_error_mid_run_keeps_the_pages_before_it(api, paged, run_job, settings):
    settings.SYNCS_READ_AHEAD_ROWS = 4  # a write per page
    source, sync = paged
    source.fail_page = 3
    run = trigger(api, sync)
    run_job(run.job_id)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "500" in run.summary["entities"]["items"]["error"]
    assert table_ids(sync) == list(range(1, 9))  # pages 1 and 2, committed
    assert read_checkpoint(sync.table_bindings.get()) == PagedApi.updated(8)
    assert readers() == []
    source.fail_page = None  # the next run resumes after page 2
    again = trigger(api, sync)
    run_job(again.job_id)
    assert table_ids(sync) == list(range(1, PagedApi.RECORDS + 1))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_run_cancelled_while_its_source_is_slow_stops_without_waiting(api, paged,
                                                                       spawn_worker):
    source, sync = paged
    source.gate, source.gate_page = threading.Event(), 3
    run = trigger(api, sync)
    worker = spawn_worker("--burst", env={"SYNCS_READ_AHEAD_ROWS": "4"})
    try:
        assert source.gate_reached.wait(30), worker.communicate()[0]
        # Page 3 is asked for while page 1 is written and page 2 waits; both get written.
        wait_for(lambda: len(table_ids(sync)) == 8)
        cancel_run(SyncRun.objects.get(pk=run.pk), reason="test")
        # The page is still being served: the run stops anyway.
        stopped = wait_for(lambda: SyncRun.objects.filter(pk=run.pk, status="cancelled")
                           .first(), timeout=20)
        assert not source.gate.is_set()
    finally:
        source.gate.set()
    assert worker.wait(30) == 0
    assert table_ids(sync) == list(range(1, 9))
    assert read_checkpoint(sync.table_bindings.get()) == PagedApi.updated(8)
    assert stopped.summary["entities"]["items"]["status"] == "cancelled"
    assert max(source.pages) == 3  # nothing read after the page it was on
    assert Job.objects.get(pk=run.job_id).status == "cancelled"
