"""Shopify end to end through the API against its fake (tests/syncs/fakes/shopify.py): the
access token checked (a wrong one refused), orders paged by Link-header page_info, a 429 with
Retry-After honoured, then an incremental run asking ``updated_at_min`` from the checkpoint."""

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.shopify import SHOPIFY_TOKEN, FakeShopify


def test_shopify_end_to_end(api, httpserver, run_job):
    fake = FakeShopify(httpserver)
    config = {"shop_domain": "mystore.myshopify.com", "api_version": "2024-10",
              "base_url": httpserver.url_for("/admin/api/2024-10"), "page_size": 2}
    connection = connect(api, "shopify", config, {"access_token": SHOPIFY_TOKEN},
                         {"access_token": "shpat_wrong-token"},
                         "Shopify rejected the access token (401)")
    sync = create_sync(api, connection, ["orders"])
    run = throttled_run(api, run_job, fake, sync, "/orders.json")
    pages = fake.data_requests("/orders.json")[1:]  # after the 429
    assert len(pages) == 3 and pages[0]["args"]["limit"] == "2"
    assert all("page_info" in p["args"] for p in pages[1:])
    assert run.summary["entities"]["orders"]["rows_written"] == 5
    assert table_rows(sync, "orders", ["id", "name"]) == [
        (1001, "#1001"), (1002, "#1002"), (1003, "#1003"), (1004, "#1004"), (1005, "#1005")]

    fake.orders[1].update(name="#1002-edited", updated_at="2026-01-08T08:00:00-05:00")
    fake.orders.append({"id": 1006, "name": "#1006", "total_price": "60.00",
                        "updated_at": "2026-01-09T09:00:00-05:00", "line_items": []})
    fake.requests.clear()
    run_sync(api, run_job, sync)
    assert fake.data_requests("/orders.json")[0]["args"]["updated_at_min"] == \
        "2026-01-05T15:00:00+00:00"
    assert table_rows(sync, "orders", ["id", "name"]) == [
        (1001, "#1001"), (1002, "#1002-edited"), (1003, "#1003"), (1004, "#1004"),
        (1005, "#1005"), (1006, "#1006")]
