"""Klaviyo end to end through the API against its fake (tests/syncs/fakes/klaviyo.py): the
private API key and revision headers checked (a wrong key refused), profiles paged by
links.next cursors, a 429 with Retry-After honoured, then an incremental run asking
``filter=greater-than(updated,<checkpoint>)``."""

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.klaviyo import KLAVIYO_KEY, FakeKlaviyo


def test_klaviyo_end_to_end(api, httpserver, run_job):
    fake = FakeKlaviyo(httpserver)
    config = {"revision": "2024-10-15", "base_url": httpserver.url_for("/"), "page_size": 2}
    connection = connect(api, "klaviyo", config, {"private_api_key": KLAVIYO_KEY},
                         {"private_api_key": "pk_wrong0key000000000000000000000000"},
                         "Klaviyo rejected the private API key (401)")
    sync = create_sync(api, connection, ["profiles"])
    run = throttled_run(api, run_job, fake, sync, "/api/profiles/")
    pages = fake.data_requests("/api/profiles/")[1:]
    assert [p["args"].get("page[cursor]") for p in pages] == [None, "2", "4"]
    assert all(p["args"]["page[size]"] == "2" for p in pages)
    assert run.summary["entities"]["profiles"]["rows_written"] == 5
    assert table_rows(sync, "profiles", ["id", "email"]) == [
        (f"01P{i}", f"p{i}@example.com") for i in range(1, 6)]

    fake.profiles[0]["attributes"].update(email="p1-new@example.com",
                                          updated="2026-02-07T00:00:00+00:00")
    fake.profiles.append({"type": "profile", "id": "01P6", "attributes": {
        "email": "p6@example.com", "updated": "2026-02-08T00:00:00+00:00"}})
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert fake.data_requests("/api/profiles/")[0]["args"]["filter"] == \
        "greater-than(updated,2026-02-05T08:00:00Z)"
    assert run.summary["entities"]["profiles"]["rows_read"] == 2
    assert table_rows(sync, "profiles", ["id", "email"]) == [
        ("01P1", "p1-new@example.com"), *[(f"01P{i}", f"p{i}@example.com") for i in range(2, 7)]]
