"""Flexiroam end to end through the API against a fake of the partner API as the preset
assumes it (not publicly documented; see syncs/providers/flexiroam.py): ``POST
/v1/auth/login`` with the partner username and password returns a bearer ``token`` (a wrong
password gets 401); lists page with ``page``/``limit`` (``data``) and filter on
``updated_from`` (inclusive)."""

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json, instant

SECRETS = {"username": "partner-api", "password": "flexi-s3cr3t-0001"}
SIMS = "/v1/partners/PARTNER-1234/sims"


class FakeFlexiroam(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.sims = [{"iccid": f"8900{i}", "status": "active",
                      "updated_at": f"2026-01-0{i}T00:00:00Z"} for i in range(1, 6)]
        server.expect_request("/v1/auth/login", method="POST").respond_with_handler(self.login)
        server.expect_request("/v1/partners/PARTNER-1234").respond_with_handler(self.partner)
        server.expect_request(SIMS).respond_with_handler(self.list_sims)

    def login(self, request):
        self.seen(request)
        if (request.form.get("username"), request.form.get("password")) != \
                (SECRETS["username"], SECRETS["password"]):
            return as_json({"message": "Invalid credentials"}, 401)
        return as_json({"data": {"token": self.issue_token()}, "expires_in": 3600})

    def denied(self, request):
        return self.bearer_refused(request, as_json({"message": "Unauthenticated."}, 401))

    def partner(self, request):
        self.seen(request)
        return self.denied(request) or as_json({"data": {"partner_id": "PARTNER-1234"}})

    def list_sims(self, request):
        entry, answer = self.data_request(request, self.denied)
        if answer is not None:
            return answer
        args = entry["args"]
        rows = sorted(self.sims, key=lambda s: s["iccid"])
        if args.get("updated_from"):
            since = instant(args["updated_from"])
            rows = [s for s in rows if instant(s["updated_at"]) >= since]
        page, limit = int(args["page"]), int(args["limit"])
        last = max(1, -(-len(rows) // limit))
        return as_json({"data": rows[(page - 1) * limit:page * limit],
                        "meta": {"current_page": page, "last_page": last}})


def test_flexiroam_end_to_end(api, httpserver, run_job):
    fake = FakeFlexiroam(httpserver)
    config = {"partner_id": "PARTNER-1234", "page_size": 2, "base_url": httpserver.url_for("/")}
    connection = connect(api, "flexiroam", config, SECRETS,
                         {**SECRETS, "password": "wrong"},
                         "Flexiroam rejected the partner username and password (401")
    sync = create_sync(api, connection, ["sims"])
    run = throttled_run(api, run_job, fake, sync, SIMS)
    pages = fake.data_requests(SIMS)[1:]
    assert [(p["args"]["page"], p["args"]["limit"]) for p in pages] == \
        [("1", "2"), ("2", "2"), ("3", "2")]
    assert "updated_from" not in pages[0]["args"]
    assert run.summary["entities"]["sims"]["rows_written"] == 5
    assert table_rows(sync, "sims", ["iccid", "status"], order="iccid") == [
        (f"8900{i}", "active") for i in range(1, 6)]

    fake.sims[1].update(status="suspended", updated_at="2026-01-08T00:00:00Z")
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert fake.data_requests(SIMS)[0]["args"]["updated_from"] == "2026-01-05T00:00:00Z"
    assert run.summary["entities"]["sims"]["rows_written"] == 1  # the changed SIM only
    assert table_rows(sync, "sims", ["iccid", "status"], order="iccid") == [
        ("89001", "active"), ("89002", "suspended"), ("89003", "active"), ("89004", "active"),
        ("89005", "active")]
