"""Redo end to end through the API against a fake of its merchant API: a bearer API key (a
wrong key gets 401), lists paged with headers (``X-Page-Size`` on the request, the next
marker in ``X-Page-Next``, sent back as ``X-Page-Continue``).

Redo documents no modified-since filter: the incremental run lists the returns again from
the first page (asserted: no ``X-Page-Continue``) and keeps those whose ``updated_at`` is past
the checkpoint."""


from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json

KEY = "redo-s3cr3t-api-key"
STORE = "64f0c0ffee0123456789abcd"
RETURNS = f"/stores/{STORE}/returns"


class FakeRedo(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.returns = [{"id": f"r{i}", "status": "open", "items": [],
                         "updated_at": f"2026-01-0{i}T00:00:00Z"} for i in range(1, 6)]
        server.expect_request(RETURNS).respond_with_handler(self.list_returns)

    def list_returns(self, request):
        entry = self.seen(request)
        if (answer := self.throttled()) is not None:
            return answer
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return as_json({"error": "Unauthorized"}, 401)
        size = int(request.headers.get("X-Page-Size", 100))
        offset = int(request.headers.get("X-Page-Continue", "0"))
        entry["page"] = (offset, size)
        response = as_json({"returns": self.returns[offset:offset + size]})
        if offset + size < len(self.returns):
            response.headers["X-Page-Next"] = str(offset + size)
        return response


def test_redo_end_to_end(api, httpserver, run_job):
    fake = FakeRedo(httpserver)
    config = {"store_id": STORE, "page_size": 2, "base_url": httpserver.url_for("/")}
    connection = connect(api, "redo", config, {"api_key": KEY}, {"api_key": "wrong-key"},
                         "Redo rejected the API key (401)")
    sync = create_sync(api, connection, ["returns"])
    run = throttled_run(api, run_job, fake, sync, RETURNS)
    assert [p["page"] for p in fake.data_requests(RETURNS)[1:]] == [(0, 2), (2, 2), (4, 2)]
    assert run.summary["entities"]["returns"]["rows_written"] == 5
    assert table_rows(sync, "returns", ["id", "status"]) == [(f"r{i}", "open")
                                                             for i in range(1, 6)]

    fake.returns[2].update(status="refunded", updated_at="2026-01-07T00:00:00Z")
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert "X-Page-Continue" not in fake.data_requests(RETURNS)[0]["headers"]
    assert run.summary["entities"]["returns"]["rows_written"] == 1
    assert table_rows(sync, "returns", ["id", "status"]) == [
        ("r1", "open"), ("r2", "open"), ("r3", "refunded"), ("r4", "open"), ("r5", "open")]


