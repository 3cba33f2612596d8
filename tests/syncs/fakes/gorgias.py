"""Gorgias REST API: HTTP Basic (email, API key), meta.next_cursor pages, order_by."""

from __future__ import annotations

import base64

from tests.syncs.fakes.base import Fake, as_json

GORGIAS_KEY = "gorgias-s3cr3t-api-key-0001"
GORGIAS_USER = "ops@example.com"


class FakeGorgias(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.tickets = [{"id": 700 + i, "subject": f"Where is order {i}?", "status": "open",
                         "channel": "email", "created_datetime": "2026-01-01T00:00:00+00:00",
                         "updated_datetime": f"2026-03-0{i}T09:30:00.123456+00:00"}
                        for i in range(1, 6)]
        self.users = [{"id": 1, "name": "Agent", "email": "agent@example.com"}]
        server.expect_request("/api/account").respond_with_handler(self.account)
        server.expect_request("/api/tickets").respond_with_handler(self.list_tickets)
        server.expect_request("/api/users").respond_with_handler(self.list_users)

    def authorized(self, request):
        expected = "Basic " + base64.b64encode(f"{GORGIAS_USER}:{GORGIAS_KEY}".encode()).decode()
        if request.headers.get("Authorization") == expected:
            return None
        return as_json({"error": {"msg": "Authentication failed"}}, 401)

    def account(self, request):
        self.seen(request)
        return self.authorized(request) or as_json({"domain": "acme", "status": "active"})

    def _list(self, request, rows, uri):
        entry, answer = self.data_request(request, self.authorized)
        if answer is not None:
            return answer
        args = entry["args"]
        order = args.get("order_by", "created_datetime:asc")
        field, direction = order.split(":")
        ordered = sorted(rows, key=lambda r: r.get(field) or "", reverse=direction == "desc")
        limit = int(args.get("limit", 30))
        offset = int(base64.b64decode(args["cursor"]).decode()) if args.get("cursor") else 0
        chunk = ordered[offset:offset + limit]
        nxt = base64.b64encode(str(offset + limit).encode()).decode() \
            if offset + limit < len(ordered) else None
        return as_json({"data": chunk, "object": "list", "uri": uri,
                        "meta": {"prev_cursor": None, "next_cursor": nxt}})

    def list_tickets(self, request):
        return self._list(request, self.tickets, "/api/tickets")

    def list_users(self, request):
        return self._list(request, self.users, "/api/users")
