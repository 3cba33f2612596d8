"""Bullhorn end to end through the API against a fake of its login and REST API.

The fake follows Bullhorn's documented login: ``loginInfo?username=`` names the data
center's oauthUrl/restUrl; ``oauth/authorize?action=Login`` with the API user's password
redirects with a ``code`` (a wrong password gets the login page again, no code);
``oauth/token`` exchanges the code (or a refresh token, single-use: each grant returns a new
one) for an access token; ``rest-services/login?access_token=`` returns the ``BhRestToken``
session and its ``restUrl``. ``query/Candidate`` pages with ``start``/``count`` and filters
with ``where=dateLastModified>{epoch ms}``."""

from urllib.parse import urlencode

from werkzeug import Response

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json

CLIENT = {"client_id": "bh-client", "client_secret": "bh-client-s3cr3t"}
PASSWORD = "bh-api-user-s3cr3t"
T = 1767225600000  # 2026-01-01T00:00:00Z in epoch ms


class FakeBullhorn(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.candidates = [{"id": i, "firstName": f"C{i}", "dateLastModified": T + i * 1000}
                           for i in range(1, 6)]
        self.codes: set[str] = set()
        self.refresh_tokens: set[str] = set()
        self.access_tokens: set[str] = set()
        self.sessions: set[str] = set()
        self.issued = 0
        for path, handler in [("/rest-services/loginInfo", self.login_info),
                              ("/oauth/authorize", self.authorize),
                              ("/oauth/token", self.token),
                              ("/rest-services/login", self.login),
                              ("/rest-services/corp1/ping", self.ping),
                              ("/rest-services/corp1/query/Candidate", self.query)]:
            server.expect_request(path).respond_with_handler(handler)

    def base(self) -> str:
        return self.server.url_for("/").rstrip("/")

    def login_info(self, request):
        self.seen(request)
        return as_json({"oauthUrl": f"{self.base()}/oauth",
                        "restUrl": f"{self.base()}/rest-services"})

    def authorize(self, request):
        self.seen(request)
        args = request.args
        if (args.get("client_id"), args.get("username"), args.get("password")) != \
                (CLIENT["client_id"], "acme.api", PASSWORD):
            return Response("<html>Invalid credentials</html>", content_type="text/html")
        self.issued += 1
        code = f"code-{self.issued}"
        self.codes.add(code)
        return Response(status=302, headers={"Location": "https://example.com/cb?" + urlencode(
            {"code": code, "client_id": CLIENT["client_id"]})})

    def token(self, request):
        self.seen(request)
        form = request.form
        grant = form.get("grant_type")
        valid = (form.get("client_id"), form.get("client_secret")) == \
            (CLIENT["client_id"], CLIENT["client_secret"]) and (
                (grant == "authorization_code" and form.get("code") in self.codes) or
                (grant == "refresh_token" and form.get("refresh_token") in self.refresh_tokens))
        if not valid:
            return as_json({"error": "invalid_grant"}, 400)
        self.codes.discard(form.get("code"))
        self.refresh_tokens.discard(form.get("refresh_token"))  # single-use
        self.issued += 1
        access, refresh = f"bh-access-{self.issued}", f"bh-refresh-{self.issued}"
        self.access_tokens.add(access)
        self.refresh_tokens.add(refresh)
        return as_json({"access_token": access, "refresh_token": refresh, "expires_in": 600})

    def login(self, request):
        self.seen(request)
        if request.args.get("access_token") not in self.access_tokens or \
                request.args.get("version") != "2.0":
            return as_json({"errorMessage": "Bad access token"}, 401)
        session = f"bh-rest-{self.issued}"
        self.sessions.add(session)
        return as_json({"BhRestToken": session, "restUrl": f"{self.base()}/rest-services/corp1/"})

    def denied(self, request):
        if request.headers.get("BhRestToken") in self.sessions:
            return None
        return as_json({"errorMessage": "Bad 'BhRestToken' or timed-out."}, 401)

    def ping(self, request):
        self.seen(request)
        return self.denied(request) or as_json({"sessionExpires": T + 600_000})

    def query(self, request):
        entry, answer = self.data_request(request, self.denied)
        if answer is not None:
            return answer
        args = entry["args"]
        where = args["where"]
        rows = sorted(self.candidates, key=lambda c: c["dateLastModified"])
        if where.startswith("dateLastModified>"):
            since = int(where.split(">", 1)[1])
            rows = [c for c in rows if c["dateLastModified"] > since]
        elif where != "id>0":
            return as_json({"errorMessage": f"unexpected where {where}"}, 400)
        start, count = int(args["start"]), int(args["count"])
        chunk = rows[start:start + count]
        return as_json({"total": len(rows), "start": start, "count": len(chunk), "data": chunk})


def test_bullhorn_end_to_end(api, httpserver, run_job):
    fake = FakeBullhorn(httpserver)
    config = {"username": "acme.api", "page_size": 2,
              "login_info_url": httpserver.url_for("/rest-services/loginInfo")}
    connection = connect(api, "bullhorn", config, {**CLIENT, "password": PASSWORD},
                         {**CLIENT, "password": "wrong-password"},
                         "Bullhorn rejected the API user's credentials")
    sync = create_sync(api, connection, ["candidate"])
    run = throttled_run(api, run_job, fake, sync, "/query/Candidate")
    pages = fake.data_requests("/query/Candidate")[1:]
    assert [(p["args"]["start"], p["args"]["count"]) for p in pages] == \
        [("0", "2"), ("2", "2"), ("4", "2")]
    assert pages[0]["args"]["where"] == "id>0"
    assert run.summary["entities"]["candidate"]["rows_written"] == 5
    assert table_rows(sync, "candidate", ["id", "firstname"]) == [
        (i, f"C{i}") for i in range(1, 6)]

    fake.candidates[2].update(firstName="C3-edited", dateLastModified=T + 9000)
    fake.candidates.append({"id": 6, "firstName": "C6", "dateLastModified": T + 10000})
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    # The refresh token the first login stored logs in again: no password login.
    assert fake.data_requests("/oauth/token") and not fake.data_requests("/oauth/authorize")
    assert fake.data_requests("/query/Candidate")[0]["args"]["where"] == \
        f"dateLastModified>{T + 5000}"
    assert run.summary["entities"]["candidate"]["rows_read"] == 2
    assert table_rows(sync, "candidate", ["id", "firstname"]) == [
        (1, "C1"), (2, "C2"), (3, "C3-edited"), (4, "C4"), (5, "C5"), (6, "C6")]
