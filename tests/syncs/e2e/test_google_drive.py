"""Google Drive end to end through the API against fakes of Google's token endpoint
(tests/syncs/fakes/google.py: the service account's JWT signature verified with its public
key; a key file signed by another key is refused, ``invalid_grant``) and of Drive API v3:
``files.list`` with a ``q`` on the folder and ``modifiedTime``, paged by ``pageSize`` and
``nextPageToken``. The config's ``token_url`` points at the fake endpoint (the key file
names Google's, as every key Google issues does)."""

import re

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json, instant
from tests.syncs.fakes.google import FakeGoogleToken, PageTokens, key_file

FILES = "/drive/v3/files"
SCOPE = "https://www.googleapis.com/auth/drive.readonly"
QUERY = re.compile(r"'([\w-]+)' in parents and trashed = false and mimeType != "
                   r"'application/vnd\.google-apps\.folder'(?: and modifiedTime > '([^']+)')?")


class FakeDrive(Fake):
    def __init__(self, server, token: FakeGoogleToken):
        super().__init__(server)
        self.token = token
        self.files = [{"id": f"f{i}", "name": f"report-{i}.csv", "mimeType": "text/csv",
                       "parents": ["root-folder"], "size": str(100 * i),
                       "modifiedTime": f"2026-01-0{i}T10:00:00.000Z"} for i in range(1, 6)]
        self.pages = PageTokens()
        server.expect_request(f"{FILES}/root-folder").respond_with_handler(self.folder)
        server.expect_request(FILES).respond_with_handler(self.list_files)

    def folder(self, request):
        self.seen(request)
        return self.token.denied(request) or as_json({"id": "root-folder", "name": "Exports"})

    def list_files(self, request):
        entry, answer = self.data_request(request, self.token.denied)
        if answer is not None:
            return answer
        args = entry["args"]
        rows = self.pages.following(args)
        if rows is None:
            match = QUERY.fullmatch(args["q"])
            if not match:
                return as_json({"error": {"code": 400, "message": "Invalid Value"}}, 400)
            rows = sorted((f for f in self.files if match.group(1) in f["parents"]),
                          key=lambda f: f["modifiedTime"])
            if match.group(2):
                rows = [f for f in rows
                        if instant(f["modifiedTime"]) > instant(match.group(2))]
        chunk, more = self.pages.page(rows, int(args["pageSize"]))
        return as_json({"kind": "drive#fileList", "files": chunk, **more})


def test_google_drive_end_to_end(api, httpserver, run_job, google_keys):
    pem, other = google_keys
    token = FakeGoogleToken(httpserver, pem, SCOPE, subject=None)
    fake = FakeDrive(httpserver, token)
    config = {"folder_id": "root-folder", "include_subfolders": False, "page_size": 2,
              "base_url": httpserver.url_for("/"), "token_url": httpserver.url_for("/token")}
    connection = connect(api, "google_drive", config, {"service_account_json": key_file(pem)},
                         {"service_account_json": key_file(other)},
                         "Google Drive rejected the service account (400: invalid_grant "
                         "Invalid JWT Signature.)")
    assert token.claims[-1]["aud"] == httpserver.url_for("/token")
    sync = create_sync(api, connection, ["files"])
    run = throttled_run(api, run_job, fake, sync, FILES)
    pages = fake.data_requests(FILES)[1:]
    assert [bool(p["args"].get("pageToken")) for p in pages] == [False, True, True]
    assert pages[0]["args"]["pageSize"] == "2" and "modifiedTime" not in pages[0]["args"]["q"]
    assert run.summary["entities"]["files"]["rows_written"] == 5
    assert table_rows(sync, "files", ["id", "size"]) == [(f"f{i}", str(100 * i))
                                                         for i in range(1, 6)]

    fake.files[0].update(size="111", modifiedTime="2026-01-07T10:00:00.000Z")
    fake.files.append({"id": "f6", "name": "report-6.csv", "mimeType": "text/csv",
                       "parents": ["root-folder"], "size": "600",
                       "modifiedTime": "2026-01-08T10:00:00.000Z"})
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert fake.data_requests(FILES)[0]["args"]["q"].endswith(
        "and modifiedTime > '2026-01-05T10:00:00Z'")
    assert run.summary["entities"]["files"]["rows_read"] == 2
    assert table_rows(sync, "files", ["id", "size"]) == [
        ("f1", "111"), *[(f"f{i}", str(100 * i)) for i in range(2, 7)]]
