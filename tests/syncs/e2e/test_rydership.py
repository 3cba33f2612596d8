"""RyderShip (Whiplash v2) end to end through the API against a fake: a bearer API token and
the merchant's ``X-Customer-ID`` (a wrong token gets 401), lists answered as JSON arrays
paged with ``page``/``per_page``, filtered with a Ransack ``search`` parameter
(``{"updated_at_gt": ...}``)."""

import json

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json, instant

TOKEN = "rydership-s3cr3t-token"


class FakeRyderShip(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.orders = [{"id": i, "status": "shipped", "updated_at": f"2026-01-0{i}T00:00:00Z"}
                       for i in range(1, 6)]
        server.expect_request("/warehouses").respond_with_handler(self.warehouses)
        server.expect_request("/orders").respond_with_handler(self.list_orders)

    def denied(self, request):
        if request.headers.get("Authorization") == f"Bearer {TOKEN}" and \
                request.headers.get("X-Customer-ID") == "4321":
            return None
        return as_json({"error": "Not authorized"}, 401)

    def warehouses(self, request):
        self.seen(request)
        return self.denied(request) or as_json([{"id": 1, "name": "Main"}])

    def list_orders(self, request):
        entry, answer = self.data_request(request, self.denied)
        if answer is not None:
            return answer
        args = entry["args"]
        rows = sorted(self.orders, key=lambda o: o["id"])
        search = json.loads(args.get("search", "{}"))
        if "updated_at_gt" in search:
            rows = [o for o in rows if instant(o["updated_at"]) >
                    instant(search["updated_at_gt"])]
        page, size = int(args.get("page", 1)), int(args.get("per_page", 50))
        return as_json(rows[(page - 1) * size:page * size])


def test_rydership_end_to_end(api, httpserver, run_job):
    fake = FakeRyderShip(httpserver)
    config = {"customer_id": "4321", "page_size": 2, "base_url": httpserver.url_for("/")}
    connection = connect(api, "rydership", config, {"api_token": TOKEN},
                         {"api_token": "wrong-token"},
                         "RyderShip rejected the API token (401)")
    sync = create_sync(api, connection, ["orders"])
    run = throttled_run(api, run_job, fake, sync, "/orders")
    pages = fake.data_requests("/orders")[1:]
    assert [(p["args"]["page"], p["args"]["per_page"]) for p in pages] == \
        [("1", "2"), ("2", "2"), ("3", "2")]
    assert run.summary["entities"]["orders"]["rows_written"] == 5
    assert table_rows(sync, "orders", ["id", "status"]) == [(i, "shipped") for i in range(1, 6)]

    fake.orders[0].update(status="returned", updated_at="2026-01-07T00:00:00Z")
    fake.orders.append({"id": 6, "status": "new", "updated_at": "2026-01-08T00:00:00Z"})
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert json.loads(fake.data_requests("/orders")[0]["args"]["search"]) == \
        {"updated_at_gt": "2026-01-05T00:00:00Z"}
    assert run.summary["entities"]["orders"]["rows_written"] == 2
    assert table_rows(sync, "orders", ["id", "status"]) == [
        (1, "returned"), (2, "shipped"), (3, "shipped"), (4, "shipped"), (5, "shipped"),
        (6, "new")]
