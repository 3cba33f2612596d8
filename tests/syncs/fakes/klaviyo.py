"""Klaviyo JSON:API: Klaviyo-API-Key header, revision header, links.next cursor pages,
filter=greater-than(updated,...)."""

from __future__ import annotations

import re
from urllib.parse import urlencode

from tests.syncs.fakes.base import Fake, as_json, instant

KLAVIYO_KEY = "pk_s3cr3tklaviyokey0123456789abcdef"


class FakeKlaviyo(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.profiles = [{"type": "profile", "id": f"01P{i}",
                          "attributes": {"email": f"p{i}@example.com", "first_name": f"P{i}",
                                         "created": "2025-12-01T00:00:00+00:00",
                                         "updated": f"2026-02-0{i}T08:00:00+00:00"},
                          "relationships": {"lists": {"links": {"self": "x"}}},
                          "links": {"self": f"https://a.klaviyo.com/api/profiles/01P{i}/"}}
                         for i in range(1, 6)]
        self.metrics = [{"type": "metric", "id": "M1", "attributes": {
            "name": "Placed Order", "created": "2025-01-01T00:00:00+00:00",
            "updated": "2025-01-01T00:00:00+00:00", "integration": {"name": "Shopify"}}}]
        server.expect_request("/api/accounts/").respond_with_handler(self.accounts)
        server.expect_request("/api/profiles/").respond_with_handler(self.list_profiles)
        server.expect_request("/api/metrics/").respond_with_handler(self.list_metrics)

    def check_headers(self, request):
        if request.headers.get("Authorization") != f"Klaviyo-API-Key {KLAVIYO_KEY}":
            return as_json({"errors": [{"status": 401, "code": "not_authenticated",
                                        "title": "Authentication credentials were not "
                                                 "provided.", "detail": "Missing or invalid "
                                                                         "private key."}]}, 401)
        if not request.headers.get("revision"):
            return as_json({"errors": [{"status": 400, "detail": "revision header missing"}]},
                           400)
        return None

    def accounts(self, request):
        self.seen(request)
        if (answer := self.check_headers(request)) is not None:
            return answer
        return as_json({"data": [{"type": "account", "id": "ACC1", "attributes": {}}]})

    def _page(self, request, rows, path):
        entry, answer = self.data_request(request, self.check_headers)
        if answer is not None:
            return answer
        args = entry["args"]
        selected = list(rows)
        match = re.fullmatch(r"greater-than\(updated,(.+)\)", args.get("filter", ""))
        if args.get("filter") and not match:
            return as_json({"errors": [{"status": 400, "detail": "bad filter"}]}, 400)
        if match:
            selected = [r for r in selected
                        if instant(r["attributes"]["updated"]) > instant(match.group(1))]
        if args.get("sort") == "updated":
            selected.sort(key=lambda r: r["attributes"]["updated"])
        size = int(args.get("page[size]", 20))
        offset = int(args.get("page[cursor]", "0"))
        chunk = selected[offset:offset + size]
        nxt = None
        if offset + size < len(selected):
            query = {k: v for k, v in args.items() if k != "page[cursor]"}
            query["page[cursor]"] = str(offset + size)
            nxt = self.server.url_for(path) + "?" + urlencode(query)
        return as_json({"data": chunk, "links": {"self": self.server.url_for(path),
                                                 "next": nxt, "prev": None}})

    def list_profiles(self, request):
        return self._page(request, self.profiles, "/api/profiles/")

    def list_metrics(self, request):
        return self._page(request, self.metrics, "/api/metrics/")
