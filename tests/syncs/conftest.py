"""A local JSON API (pytest-httpserver) that the http_api connector reads in these tests."""

import json
import threading

import pytest
from werkzeug import Response

ORDERS = [{"id": i, "total": i * 10.5, "status": "paid" if i % 2 else "open",
           "updated_at": f"2026-01-{i:02d}T00:00:00Z", "tags": ["t"]} for i in range(1, 8)]
CUSTOMERS = [{"id": f"c{i}", "name": f"Customer {i}",
              "updated_at": f"2026-02-{i:02d}T00:00:00Z"} for i in range(1, 4)]


class FakeShop:
    """Serves /orders (page_number pagination, cursor param updated_since) and /customers."""

    def __init__(self, server):
        self.server = server
        self.requests: list[dict] = []
        self.fail_status: int | None = None
        self.gate: threading.Event | None = None   # blocks page 2 of orders until set
        self.gate_reached = threading.Event()
        self.page_delay = 0.0
        server.expect_request("/orders").respond_with_handler(self.orders)
        server.expect_request("/customers").respond_with_handler(self.customers)
        server.expect_request("/ping").respond_with_handler(self.ping)

    def wait_page_one_committed(self, sync_id, timeout: float = 10.0) -> None:
        """``gate_reached`` says page 2 is being served; the source is read ahead of the
        loader (syncs.pipeline), so page 1 may still be being written: wait for its
        checkpoint."""
        from syncs.models import SyncState
        from tests.conftest import wait_for

        cursor = ORDERS[2]["updated_at"]
        wait_for(lambda: cursor in SyncState.objects.filter(sync_id=sync_id).values_list(
            "cursor", flat=True), timeout=timeout)

    def ping(self, request):
        if request.headers.get("Authorization") != "Bearer good-token":
            return Response("no", status=401)
        return Response("{}", content_type="application/json")

    def _page(self, request, rows):
        args = request.args
        self.requests.append({"path": request.path, **args.to_dict()})
        if self.fail_status:
            return Response("boom", status=self.fail_status)
        if request.headers.get("Authorization") != "Bearer good-token":
            return Response("no", status=401)
        since = args.get("updated_since")
        until = args.get("updated_until")
        selected = [r for r in rows if (not since or r["updated_at"] > since)
                    and (not until or r["updated_at"] <= until)]
        page, size = int(args.get("page", 1)), int(args.get("per_page", 3))
        if page == 2 and self.gate is not None:
            self.gate_reached.set()
            self.gate.wait(10)
        if self.page_delay:
            import time

            time.sleep(self.page_delay)
        chunk = selected[(page - 1) * size: page * size]
        return Response(json.dumps({"data": chunk}), content_type="application/json")

    def orders(self, request):
        return self._page(request, ORDERS)

    def customers(self, request):
        return self._page(request, CUSTOMERS)

    def order_requests(self):
        return [r for r in self.requests if r["path"] == "/orders"]


@pytest.fixture
def shop(httpserver, settings):
    return FakeShop(httpserver)


@pytest.fixture
def shop_config(httpserver):
    return {
        "base_url": httpserver.url_for("/"),
        "auth": {"type": "bearer"},
        "pagination": {"type": "page_number", "page_size": 3},
        "check_path": "/ping",
        "max_retries": 0,
        "streams": [
            {"name": "orders", "path": "/orders", "record_selector": "$.data",
             "primary_key": ["id"], "cursor_field": "updated_at",
             "cursor_param": "updated_since", "cursor_end_param": "updated_until"},
            {"name": "customers", "path": "/customers", "record_selector": "$.data",
             "primary_key": ["id"], "cursor_field": "updated_at",
             "cursor_param": "updated_since"},
        ],
    }


@pytest.fixture
def connection(api, shop, shop_config):
    from tests.conftest import body

    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "http_api", "name": "shop", "config": shop_config,
        "secrets": {"token": "good-token"}})
    assert response.status_code == 201, response.content
    return body(response)["data"]


@pytest.fixture
def make_sync(api, connection):
    from tests.conftest import body

    def make(**attributes):
        attributes = {"name": "Shop orders", "entities": ["orders"], "status": "active",
                      **attributes}
        document = {"data": {"type": "syncs", "attributes": attributes, "relationships": {
            "connection": {"data": {"type": "connections", "id": connection["id"]}}}}}
        import orjson

        response = api.post("/api/v1/syncs", data=orjson.dumps(document),
                            content_type="application/vnd.api+json")
        assert response.status_code == 201, response.content
        return body(response)["data"]

    return make
