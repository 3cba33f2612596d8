"""Gmail end to end through the API against fakes of Google's token endpoint
(tests/syncs/fakes/google.py: the service account's JWT, impersonating the mailbox's user,
verified with its public key; a key file signed by another key is refused) and of Gmail API
v1: ``users.messages.list`` (``q`` in Gmail search syntax with ``after:<epoch s>``, newest
first, ``maxResults``/``nextPageToken``) then ``users.messages.get`` per message."""

import base64
import re

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json
from tests.syncs.fakes.google import FakeGoogleToken, PageTokens, key_file

USER = "invoices@example.com"
MESSAGES = f"/gmail/v1/users/{USER}/messages"
SCOPE = "https://www.googleapis.com/auth/gmail.readonly"
T = 1767225600000  # 2026-01-01T00:00:00Z in epoch ms
DAY = 86_400_000


def message(number: int, subject: str, internal: int) -> dict:
    text = base64.urlsafe_b64encode(f"Invoice {number}".encode()).decode().rstrip("=")
    return {"id": f"m{number}", "threadId": f"t{number}", "labelIds": ["INBOX"],
            "snippet": subject, "internalDate": str(internal), "historyId": str(number),
            "payload": {"mimeType": "multipart/mixed", "headers": [
                {"name": "From", "value": "billing@vendor.com"},
                {"name": "Subject", "value": subject}],
                "parts": [{"partId": "0", "mimeType": "text/plain", "body": {"data": text}}]}}


class FakeGmail(Fake):
    def __init__(self, server, token: FakeGoogleToken):
        super().__init__(server)
        self.token = token
        self.messages = [message(i, f"Invoice {i}", T + i * DAY) for i in range(1, 6)]
        self.pages = PageTokens()
        server.expect_request(f"/gmail/v1/users/{USER}/profile").respond_with_handler(
            self.profile)
        server.expect_request(MESSAGES).respond_with_handler(self.list_messages)
        server.expect_request(re.compile(rf"^{MESSAGES}/m\d+$")).respond_with_handler(self.get)

    def profile(self, request):
        self.seen(request)
        return self.token.denied(request) or as_json({"emailAddress": USER})

    def list_messages(self, request):
        entry, answer = self.data_request(request, self.token.denied)
        if answer is not None:
            return answer
        args = entry["args"]
        rows = self.pages.following(args)
        if rows is None:
            match = re.fullmatch(r"has:attachment(?: after:(\d+))?", args["q"])
            if not match:
                return as_json({"error": {"code": 400, "message": "Invalid query"}}, 400)
            rows = sorted(self.messages, key=lambda m: -int(m["internalDate"]))
            if match.group(1):  # after: is in seconds; Gmail compares at that precision
                rows = [m for m in rows if int(m["internalDate"]) >= int(match.group(1)) * 1000]
        chunk, more = self.pages.page(rows, int(args["maxResults"]))
        return as_json({"messages": [{"id": m["id"], "threadId": m["threadId"]} for m in chunk],
                        "resultSizeEstimate": len(rows), **more})

    def get(self, request):
        entry = self.seen(request)
        if (answer := self.token.denied(request)) is not None:
            return answer
        if entry["args"].get("format") != "full":
            return as_json({"error": {"code": 400, "message": "format"}}, 400)
        found = next(m for m in self.messages if m["id"] == request.path.rsplit("/", 1)[1])
        return as_json(found)


def test_gmail_inbox_end_to_end(api, httpserver, run_job, google_keys):
    pem, other = google_keys
    token = FakeGoogleToken(httpserver, pem, SCOPE, subject=USER)
    fake = FakeGmail(httpserver, token)
    config = {"user_email": USER, "query": "has:attachment", "page_size": 2,
              "base_url": httpserver.url_for("/"), "token_url": httpserver.url_for("/token")}
    connection = connect(api, "gmail_inbox", config, {"service_account_json": key_file(pem)},
                         {"service_account_json": key_file(other)},
                         "Gmail rejected the service account (400: invalid_grant "
                         "Invalid JWT Signature.)")
    assert token.claims[-1]["sub"] == USER
    sync = create_sync(api, connection, ["messages"])
    run = throttled_run(api, run_job, fake, sync, MESSAGES)
    listings = [r for r in fake.data_requests(MESSAGES) if r["path"] == MESSAGES][1:]
    assert [bool(p["args"].get("pageToken")) for p in listings] == [False, True, True]
    assert listings[0]["args"]["maxResults"] == "2"
    assert listings[0]["args"]["q"] == "has:attachment"
    assert run.summary["entities"]["messages"]["rows_written"] == 5
    assert table_rows(sync, "messages", ["id", "subject"]) == [
        (f"m{i}", f"Invoice {i}") for i in range(1, 6)]

    fake.messages.append(message(6, "Invoice 6", T + 6 * DAY))
    fake.messages.append(message(7, "Invoice 7", T + 7 * DAY))
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    listing = next(r for r in fake.requests if r["path"] == MESSAGES)
    assert listing["args"]["q"] == f"has:attachment after:{(T + 5 * DAY) // 1000}"
    assert run.summary["entities"]["messages"]["rows_written"] == 2  # m5 is the checkpoint
    assert table_rows(sync, "messages", ["id", "subject"]) == [
        (f"m{i}", f"Invoice {i}") for i in range(1, 8)]
