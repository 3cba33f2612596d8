"""Shopify REST Admin API: X-Shopify-Access-Token, Link-header page_info pages, updated_at_min."""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import urlencode

from tests.syncs.fakes.base import Fake, as_json, instant

SHOPIFY_TOKEN = "shpat_s3cr3t-shopify-token-0001"


class FakeShopify(Fake):
    prefix = "/admin/api/2024-10"

    def __init__(self, server):
        super().__init__(server)
        self.orders = [{"id": 1000 + i, "name": f"#{1000 + i}", "total_price": f"{i}0.00",
                        "updated_at": f"2026-01-0{i}T10:00:00-05:00",
                        "line_items": [{"id": 5000 + i, "sku": f"SKU-{i}"}]}
                       for i in range(1, 6)]
        self.refunds = {1002: [{"id": 9002, "order_id": 1002, "note": "damaged"}]}
        p = self.prefix
        server.expect_request(f"{p}/shop.json").respond_with_handler(self.shop)
        server.expect_request(f"{p}/orders.json").respond_with_handler(self.list_orders)
        server.expect_request(re.compile(rf"^{p}/orders/\d+/refunds\.json$")) \
            .respond_with_handler(self.order_refunds)

    def authorized(self, request) -> bool:
        return request.headers.get("X-Shopify-Access-Token") == SHOPIFY_TOKEN

    def denied(self):
        return as_json({"errors": "[API] Invalid API key or access token (unrecognized login "
                                  "or wrong password)"}, 401)

    def shop(self, request):
        self.seen(request)
        if not self.authorized(request):
            return self.denied()
        return as_json({"shop": {"id": 1, "name": "My Store", "currency": "USD"}})

    def list_orders(self, request):
        entry = self.seen(request)
        if (answer := self.throttled()) is not None:
            return answer
        if not self.authorized(request):
            return self.denied()
        args = entry["args"]
        if "page_info" in args:
            extra = set(args) - {"page_info", "limit", "fields"}
            if extra:  # as Shopify: page_info requests take no other filter
                return as_json({"errors": {"page_info": [f"cannot be combined with {extra}"]}},
                               400)
            state = json.loads(base64.urlsafe_b64decode(args["page_info"]))
        else:
            state = {"min": args.get("updated_at_min"), "max": args.get("updated_at_max"),
                     "status": args.get("status", "open"), "offset": 0}
        limit = int(args.get("limit", 50))
        rows = sorted(self.orders, key=lambda o: instant(o["updated_at"]))
        if state["min"]:
            rows = [o for o in rows if instant(o["updated_at"]) >= instant(state["min"])]
        if state["max"]:
            rows = [o for o in rows if instant(o["updated_at"]) <= instant(state["max"])]
        chunk = rows[state["offset"]:state["offset"] + limit]
        headers = {}
        if state["offset"] + limit < len(rows):
            token = base64.urlsafe_b64encode(json.dumps(
                {**state, "offset": state["offset"] + limit}).encode()).decode()
            url = self.server.url_for(f"{self.prefix}/orders.json") + "?" + urlencode(
                {"limit": limit, "page_info": token})
            headers["Link"] = f'<{url}>; rel="next"'
        return as_json({"orders": chunk}, headers=headers)

    def order_refunds(self, request):
        self.seen(request)
        if not self.authorized(request):
            return self.denied()
        order_id = int(request.path.split("/")[-2])
        return as_json({"refunds": self.refunds.get(order_id, [])})
