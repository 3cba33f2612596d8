"""Starlink Enterprise API end to end through the API against a fake: OAuth 2 client
credentials at ``token_url`` (a wrong secret gets ``invalid_client``), account lists paged
with ``page`` (from 0) and ``limit`` inside ``content`` (``results``, ``isLastPage``).

Incremental: does not apply to the account lists (the API documents no modified-since
filter and the catalog gives them no cursor), so the second run reads the list again in full
(asserted: from page 0) and the table holds each service line once, with its new values."""

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json

SECRETS = {"client_id": "starlink-sa", "client_secret": "starlink-s3cr3t-0001"}
LINES = "/v1/account/ACC-1234567-12345-12/service-lines"


class FakeStarlink(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.lines = [{"serviceLineNumber": f"SL-{i}", "nickname": f"Site {i}",
                       "active": True} for i in range(1, 6)]
        server.expect_request("/auth/connect/token", method="POST") \
            .respond_with_handler(self.token)
        server.expect_request(LINES).respond_with_handler(self.list_lines)

    def token(self, request):
        return self.form_grant(request, {"grant_type": "client_credentials", **SECRETS},
                               as_json({"error": "invalid_client"}, 400))

    def list_lines(self, request):
        entry = self.seen(request)
        if (answer := self.throttled()) is not None:
            return answer
        if (answer := self.bearer_refused(request, as_json(
                {"errors": [{"errorMessage": "Unauthorized"}]}, 401))) is not None:
            return answer
        page, limit = int(entry["args"].get("page", 0)), int(entry["args"]["limit"])
        chunk = self.lines[page * limit:(page + 1) * limit]
        return as_json({"content": {"pageIndex": page, "limit": limit,
                                    "totalCount": len(self.lines), "results": chunk,
                                    "isLastPage": (page + 1) * limit >= len(self.lines)},
                        "errors": [], "warnings": [], "isValid": True})


def test_starlink_end_to_end(api, httpserver, run_job):
    fake = FakeStarlink(httpserver)
    config = {"account_number": "ACC-1234567-12345-12", "page_size": 2,
              "base_url": httpserver.url_for("/"),
              "token_url": httpserver.url_for("/auth/connect/token")}
    connection = connect(api, "starlink", config, SECRETS,
                         {**SECRETS, "client_secret": "wrong"},
                         "Starlink rejected the OAuth credentials (400: invalid_client")
    sync = create_sync(api, connection, ["service_lines"])
    run = throttled_run(api, run_job, fake, sync, LINES)
    pages = fake.data_requests(LINES)[1:]
    assert [(p["args"]["page"], p["args"]["limit"]) for p in pages] == \
        [("0", "2"), ("1", "2"), ("2", "2")]
    assert run.summary["entities"]["service_lines"]["rows_written"] == 5
    assert table_rows(sync, "service_lines", ["servicelinenumber", "nickname"],
                      order="servicelinenumber") == [(f"SL-{i}", f"Site {i}")
                                                     for i in range(1, 6)]

    fake.lines[0]["nickname"] = "Site 1 (moved)"
    fake.lines.append({"serviceLineNumber": "SL-6", "nickname": "Site 6", "active": True})
    fake.requests.clear()
    run_sync(api, run_job, sync)
    assert fake.data_requests(LINES)[0]["args"]["page"] == "0"
    assert table_rows(sync, "service_lines", ["servicelinenumber", "nickname"],
                      order="servicelinenumber") == [
        ("SL-1", "Site 1 (moved)"), *[(f"SL-{i}", f"Site {i}") for i in range(2, 7)]]
