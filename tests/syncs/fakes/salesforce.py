"""Salesforce REST API: OAuth refresh-token grant, SOQL query/queryAll with nextRecordsUrl
pages (Sforce-Query-Options batchSize), INVALID_SESSION_ID on a stale token."""

from __future__ import annotations

import re

from tests.syncs.fakes.base import Fake, as_json, instant

SF_CLIENT_SECRET = "sf-client-s3cr3t-0001"
SF_REFRESH = "5Aep861-s3cr3t-refresh"


class FakeSalesforce(Fake):
    api = "/services/data/v61.0"

    def __init__(self, server):
        super().__init__(server)
        self.accounts = [{"Id": f"001A{i}", "Name": f"Acme {i}", "IsDeleted": False,
                          "SystemModstamp": f"2026-01-0{i}T12:00:00.000+0000"}
                         for i in range(1, 6)]
        self.tokens_issued = 0
        self.valid_tokens: set[str] = set()
        self.expire_after_pages: int | None = None
        self.cursors: dict[str, list] = {}
        self.locators = 0
        server.expect_request("/services/oauth2/token", method="POST") \
            .respond_with_handler(self.token)
        server.expect_request(f"{self.api}/").respond_with_handler(self.resources)
        server.expect_request(re.compile(rf"^{self.api}/sobjects/\w+/describe/$")) \
            .respond_with_handler(self.describe)
        server.expect_request(re.compile(rf"^{self.api}/(query|queryAll)/$")) \
            .respond_with_handler(self.query)
        server.expect_request(re.compile(rf"^{self.api}/query/[\w-]+$")) \
            .respond_with_handler(self.query_more)

    def token(self, request):
        self.seen(request)
        form = request.form
        good = (form.get("client_id") == "3MVG9example" and
                form.get("client_secret") == SF_CLIENT_SECRET and (
                    form.get("grant_type") == "refresh_token"
                     and form.get("refresh_token") == SF_REFRESH))
        if not good:
            return as_json({"error": "invalid_grant",
                            "error_description": "expired access/refresh token"}, 400)
        self.tokens_issued += 1
        token = f"00D000000000001!AQ-token-{self.tokens_issued}"
        self.valid_tokens.add(token)
        return as_json({"access_token": token, "instance_url": self.server.url_for("/"),
                        "id": "https://login.salesforce.com/id/00D/005", "token_type": "Bearer",
                        "issued_at": "1767225600000", "signature": "sig"})

    def authorized(self, request):
        header = request.headers.get("Authorization", "")
        if header.removeprefix("Bearer ") in self.valid_tokens:
            return None
        return as_json([{"message": "Session expired or invalid",
                         "errorCode": "INVALID_SESSION_ID"}], 401)

    def resources(self, request):
        self.seen(request)
        return self.authorized(request) or as_json(
            {"sobjects": f"{self.api}/sobjects", "query": f"{self.api}/query"})

    def describe(self, request):
        self.seen(request)
        return self.authorized(request) or as_json({"name": "Account", "fields": [
            {"name": "Id", "type": "id"}, {"name": "Name", "type": "string"},
            {"name": "IsDeleted", "type": "boolean"}, {"name": "Logo__c", "type": "base64"},
            {"name": "SystemModstamp", "type": "datetime"}]})

    def _chunk(self, rows, size):
        chunk, rest = rows[:size], rows[size:]
        document = {"totalSize": len(rows), "done": not rest, "records": [
            {"attributes": {"type": "Account", "url": f"{self.api}/sobjects/Account/{r['Id']}"},
             **r} for r in chunk]}
        if rest:
            self.locators += 1
            locator = f"01gD0000002HU6KIAW-{self.locators * 2000}"
            self.cursors[locator] = rest
            document["nextRecordsUrl"] = f"{self.api}/query/{locator}"
        return document

    def _size(self, request) -> int:
        match = re.search(r"batchSize=(\d+)", request.headers.get("Sforce-Query-Options", ""))
        return int(match.group(1)) if match else 2000

    def _maybe_expire(self):
        if self.expire_after_pages is not None:
            self.expire_after_pages -= 1
            if self.expire_after_pages < 0:
                self.valid_tokens.clear()
                self.expire_after_pages = None

    def query(self, request):
        entry, answer = self.data_request(request, self.authorized)
        if answer is not None:
            return answer
        soql = entry["args"]["q"]
        match = re.fullmatch(r"SELECT (.+) FROM (\w+)( WHERE (.+))? ORDER BY SystemModstamp ASC",
                             soql)
        if not match or match.group(2) != "Account":
            return as_json([{"message": "unexpected query", "errorCode": "MALFORMED_QUERY"}],
                           400)
        fields = [f.strip() for f in match.group(1).split(",")]
        rows = sorted(self.accounts, key=lambda r: r["SystemModstamp"])
        for condition in (match.group(4) or "").split(" AND "):
            found = re.fullmatch(r"SystemModstamp (>|>=|<) (\S+)", condition)
            if found:
                op, value = found.group(1), instant(found.group(2))
                rows = [r for r in rows if {
                    ">": instant(r["SystemModstamp"]) > value,
                    ">=": instant(r["SystemModstamp"]) >= value,
                    "<": instant(r["SystemModstamp"]) < value}[op]]
        rows = [{f: r.get(f) for f in fields} for r in rows]
        self._maybe_expire()
        return as_json(self._chunk(rows, self._size(request)))

    def query_more(self, request):
        self.seen(request)
        if (answer := self.authorized(request)) is not None:
            return answer
        rows = self.cursors.pop(request.path.rsplit("/", 1)[-1])
        return as_json(self._chunk(rows, self._size(request)))
