"""NetSuite end to end through the API against a fake of SuiteQL over REST web services.

The fake verifies each request's OAuth 1.0a signature (Token-Based Authentication:
HMAC-SHA256 over the RFC 5849 signature base string, keyed by the consumer and token
secrets, ``realm`` = the account id), so a wrong token secret is refused with NetSuite's 401.
``POST /services/rest/query/v1/suiteql?limit=&offset=`` answers ``items``/``hasMore``;
the query's ``lastmodifieddate > TO_TIMESTAMP(...)`` condition filters the records."""

import base64
import hashlib
import hmac
import re
from urllib.parse import quote, unquote

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json

SECRETS = {"consumer_key": "ck-0001", "consumer_secret": "cs-s3cr3t-0001",
           "token_id": "ti-0001", "token_secret": "ts-s3cr3t-0001"}
PATH = "/services/rest/query/v1/suiteql"


def percent(value: str) -> str:
    return quote(value, safe="~-._")


class FakeNetSuite(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.transactions = [{"id": str(i), "tranid": f"SO{i}", "links": [],
                              "stamp": f"2026-01-05 10:00:0{i}"} for i in range(1, 6)]
        server.expect_request(PATH, method="POST").respond_with_handler(self.suiteql)

    def signed(self, request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("OAuth "):
            return False
        fields = {k: unquote(v) for k, v in re.findall(r'(\w+)="([^"]*)"', header)}
        if fields.get("realm") != "1234567" or \
                fields.get("oauth_signature_method") != "HMAC-SHA256" or \
                fields.get("oauth_consumer_key") != SECRETS["consumer_key"] or \
                fields.get("oauth_token") != SECRETS["token_id"]:
            return False
        params = [(k, v) for k, v in request.args.items(multi=True)] + [
            (k, v) for k, v in fields.items() if k not in ("realm", "oauth_signature")]
        normalized = "&".join(f"{k}={v}" for k, v in sorted(
            (percent(k), percent(v)) for k, v in params))
        base_url = f"{request.scheme}://{request.host.lower()}{request.path}"
        base = "&".join([request.method, percent(base_url), percent(normalized)])
        key = f"{percent(SECRETS['consumer_secret'])}&{percent(SECRETS['token_secret'])}"
        expected = base64.b64encode(hmac.new(key.encode(), base.encode(),
                                             hashlib.sha256).digest()).decode()
        return hmac.compare_digest(expected, fields.get("oauth_signature", ""))

    def suiteql(self, request):
        entry = self.seen(request)
        entry["json"] = request.get_json()
        if not self.signed(request):
            return as_json({"type": "https://www.rfc-editor.org/rfc/rfc9110.html#section-15.5.2",
                            "title": "Unauthorized", "status": 401, "o:errorDetails": [
                                {"detail": "Invalid login attempt.",
                                 "o:errorCode": "INVALID_LOGIN"}]}, 401)
        if request.headers.get("Prefer") != "transient":
            return as_json({"title": "Prefer: transient is required", "status": 400}, 400)
        query = entry["json"]["q"]
        if query == "SELECT id FROM subsidiary":
            return as_json({"items": [{"id": "1"}], "hasMore": False, "offset": 0, "count": 1})
        if (answer := self.throttled()) is not None:
            return answer
        match = re.fullmatch(
            r"SELECT r\.\*, TO_CHAR\(r\.lastmodifieddate, 'YYYY-MM-DD HH24:MI:SS'\) AS "
            r"lastmodified_at FROM transaction r( WHERE r\.lastmodifieddate > TO_TIMESTAMP\("
            r"'([\d :-]+)', 'YYYY-MM-DD HH24:MI:SS'\))? ORDER BY r\.lastmodifieddate, r\.id",
            query)
        if not match:
            return as_json({"title": f"Invalid search query: {query}", "status": 400}, 400)
        rows = sorted(self.transactions, key=lambda t: (t["stamp"], int(t["id"])))
        if match.group(2):
            rows = [t for t in rows if t["stamp"] > match.group(2)]
        offset, limit = int(entry["args"]["offset"]), int(entry["args"]["limit"])
        chunk = [{"id": t["id"], "tranid": t["tranid"], "links": t["links"],
                  "lastmodifieddate": t["stamp"][:10], "lastmodified_at": t["stamp"]}
                 for t in rows[offset:offset + limit]]
        return as_json({"links": [], "count": len(chunk), "hasMore": offset + limit < len(rows),
                        "offset": offset, "totalResults": len(rows), "items": chunk})


def test_netsuite_end_to_end(api, httpserver, run_job):
    fake = FakeNetSuite(httpserver)
    config = {"account_id": "1234567", "page_size": 2, "base_url": httpserver.url_for("/")}
    connection = connect(api, "netsuite", config, SECRETS,
                         {**SECRETS, "token_secret": "ts-wrong"},
                         "NetSuite rejected the token-based authentication credentials (401)")
    sync = create_sync(api, connection, ["transaction"])
    run = throttled_run(api, run_job, fake, sync, PATH)
    pages = [r for r in fake.data_requests(PATH) if "transaction" in r["json"]["q"]][1:]
    assert [(p["args"]["offset"], p["args"]["limit"]) for p in pages] == \
        [("0", "2"), ("2", "2"), ("4", "2")]
    assert run.summary["entities"]["transaction"]["rows_written"] == 5
    assert table_rows(sync, "transaction", ["id", "tranid", "lastmodifieddate"]) == [
        (str(i), f"SO{i}", f"2026-01-05 10:00:0{i}") for i in range(1, 6)]

    fake.transactions[0].update(tranid="SO1-edited", stamp="2026-01-06 09:00:00")
    fake.transactions.append({"id": "6", "tranid": "SO6", "links": [],
                              "stamp": "2026-01-06 10:00:00"})
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert "WHERE r.lastmodifieddate > TO_TIMESTAMP('2026-01-05 10:00:05', " \
           "'YYYY-MM-DD HH24:MI:SS')" in fake.data_requests(PATH)[0]["json"]["q"]
    assert run.summary["entities"]["transaction"]["rows_read"] == 2
    assert table_rows(sync, "transaction", ["id", "tranid"]) == [
        ("1", "SO1-edited"), ("2", "SO2"), ("3", "SO3"), ("4", "SO4"), ("5", "SO5"),
        ("6", "SO6")]
