"""The generic http_api connector end to end through the API against a fake invoicing API:
OAuth 2 client credentials (a wrong client secret gets ``invalid_client``), invoices paged
by a ``meta.next_cursor`` cursor (``limit`` = page_size), filtered by ``updated_since``."""

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json, instant

SECRETS = {"client_id": "cid-0001", "client_secret": "http-client-s3cr3t"}
INVOICES = "/v1/invoices"


class FakeInvoicing(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.invoices = [{"id": f"in_{i}", "amount": i * 100,
                          "updated_at": f"2026-01-0{i}T00:00:00Z"} for i in range(1, 6)]
        server.expect_request("/oauth/token", method="POST").respond_with_handler(self.token)
        server.expect_request(INVOICES).respond_with_handler(self.list_invoices)

    def token(self, request):
        return self.form_grant(request, {"grant_type": "client_credentials",
                                         "scope": "invoices:read", **SECRETS},
                               as_json({"error": "invalid_client"}, 401))

    def list_invoices(self, request):
        entry = self.seen(request)
        if (answer := self.throttled()) is not None:
            return answer
        if (answer := self.bearer_refused(request, as_json({"error": "invalid_token"},
                                                           401))) is not None:
            return answer
        args = entry["args"]
        rows = sorted(self.invoices, key=lambda r: (r["updated_at"], r["id"]))
        if args.get("updated_since"):
            rows = [r for r in rows if instant(r["updated_at"]) > instant(args["updated_since"])]
        offset, limit = int(args.get("starting_after", 0)), int(args.get("limit", 10))
        more = offset + limit < len(rows)
        return as_json({"data": rows[offset:offset + limit],
                        "meta": {"next_cursor": str(offset + limit) if more else None}})


def test_http_api_end_to_end(api, httpserver, run_job):
    fake = FakeInvoicing(httpserver)
    config = {"base_url": httpserver.url_for("/"), "max_retries": 2,
              "auth": {"type": "oauth2_client_credentials", "scopes": ["invoices:read"],
                       "token_url": httpserver.url_for("/oauth/token")},
              "pagination": {"type": "cursor", "cursor_param": "starting_after",
                             "cursor_path": "$.meta.next_cursor"},
              "streams": [{"name": "invoices", "path": INVOICES, "record_selector": "$.data",
                           "primary_key": ["id"], "cursor_field": "updated_at",
                           "cursor_param": "updated_since", "params": {"limit": 2}}]}
    connection = connect(api, "http_api", config, SECRETS,
                         {**SECRETS, "client_secret": "wrong"},
                         "rejected the OAuth credentials (401: invalid_client)")
    sync = create_sync(api, connection, ["invoices"])
    run = throttled_run(api, run_job, fake, sync, INVOICES)
    pages = fake.data_requests(INVOICES)[1:]
    assert [p["args"].get("starting_after") for p in pages] == [None, "2", "4"]
    assert all(p["args"]["limit"] == "2" for p in pages)
    assert run.summary["entities"]["invoices"]["rows_written"] == 5
    assert table_rows(sync, "invoices", ["id", "amount"]) == [(f"in_{i}", i * 100)
                                                              for i in range(1, 6)]

    fake.invoices[0].update(amount=150, updated_at="2026-01-07T00:00:00Z")
    fake.invoices.append({"id": "in_6", "amount": 600, "updated_at": "2026-01-08T00:00:00Z"})
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert fake.data_requests(INVOICES)[0]["args"]["updated_since"] == "2026-01-05T00:00:00Z"
    assert run.summary["entities"]["invoices"]["rows_read"] == 2
    assert table_rows(sync, "invoices", ["id", "amount"]) == [
        ("in_1", 150), *[(f"in_{i}", i * 100) for i in range(2, 7)]]
