"""Gorgias end to end through the API against its fake (tests/syncs/fakes/gorgias.py): HTTP
Basic with the email and API key (a wrong key refused), tickets paged newest first by
meta.next_cursor, a 429 with Retry-After honoured, then an incremental run. Gorgias has no
modified-since filter: the second run asks the same newest-first order and stops paging at
the checkpoint (asserted: one page, ``order_by=updated_datetime:desc``)."""

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.gorgias import GORGIAS_KEY, GORGIAS_USER, FakeGorgias


def test_gorgias_end_to_end(api, httpserver, run_job):
    fake = FakeGorgias(httpserver)
    config = {"subdomain": "acme", "base_url": httpserver.url_for("/api"), "page_size": 2}
    connection = connect(api, "gorgias", config,
                         {"username": GORGIAS_USER, "api_key": GORGIAS_KEY},
                         {"username": GORGIAS_USER, "api_key": "gorgias-wrong-key"},
                         "Gorgias rejected the email and API key (401)")
    sync = create_sync(api, connection, ["tickets"])
    run = throttled_run(api, run_job, fake, sync, "/api/tickets")
    pages = fake.data_requests("/api/tickets")[1:]
    assert len(pages) == 3 and all(p["args"]["limit"] == "2" for p in pages)
    assert [bool(p["args"].get("cursor")) for p in pages] == [False, True, True]
    assert run.summary["entities"]["tickets"]["cursor"] == "2026-03-05T09:30:00.123456+00:00"
    assert table_rows(sync, "tickets", ["id", "status"]) == [
        (700 + i, "open") for i in range(1, 6)]

    fake.tickets[1].update(status="closed", updated_datetime="2026-03-09T00:00:00+00:00")
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    (page,) = fake.data_requests("/api/tickets")  # stopped at the checkpoint
    assert page["args"] == {"limit": "2", "order_by": "updated_datetime:desc"}
    assert run.summary["entities"]["tickets"]["rows_read"] == 1
    assert table_rows(sync, "tickets", ["id", "status"]) == [
        (701, "open"), (702, "closed"), (703, "open"), (704, "open"), (705, "open")]
