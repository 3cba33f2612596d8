"""Dropbox end to end through the API against a fake of API v2.

The fake's ``/oauth2/token`` takes the ``refresh_token`` grant with the app key and secret (a
wrong refresh token gets ``invalid_grant``); RPC endpoints take the access token as a Bearer.
``/2/files/list_folder`` answers ``limit`` entries and a ``cursor`` while ``has_more``;
``/2/files/list_folder/continue`` takes that cursor. Dropbox has no modified-since filter, so
the incremental run lists the folder again (asserted: the same request) and keeps only files
whose ``server_modified`` is past the checkpoint."""

import json

from tests.syncs.e2e.harness import connect, create_sync, run_sync, table_rows, throttled_run
from tests.syncs.fakes.base import Fake, as_json

SECRETS = {"app_key": "dbx-app-key", "app_secret": "dbx-app-s3cr3t",
           "refresh_token": "dbx-refresh-s3cr3t"}
LIST = "/2/files/list_folder"


class FakeDropbox(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.entries = [{".tag": "folder", "id": "id:dir", "name": "2026",
                         "path_display": "/Reports/2026"}] + [
            {".tag": "file", "id": f"id:{i}", "name": f"r{i}.csv", "rev": f"0{i}",
             "path_display": f"/Reports/r{i}.csv", "size": 10 * i,
             "server_modified": f"2026-01-0{i}T00:00:00Z"} for i in range(1, 5)]
        self.cursors: dict[str, tuple[int, int]] = {}
        server.expect_request("/oauth2/token", method="POST").respond_with_handler(self.token)
        server.expect_request("/2/users/get_current_account", method="POST") \
            .respond_with_handler(self.account)
        server.expect_request(LIST, method="POST").respond_with_handler(self.list_folder)
        server.expect_request(f"{LIST}/continue", method="POST") \
            .respond_with_handler(self.list_continue)

    def token(self, request):
        return self.form_grant(request, {
            "grant_type": "refresh_token", "refresh_token": SECRETS["refresh_token"],
            "client_id": SECRETS["app_key"], "client_secret": SECRETS["app_secret"]},
            as_json({"error": "invalid_grant", "error_description": "refresh token is "
                                                                   "malformed"}, 400))

    def denied(self, request):
        return self.bearer_refused(request, as_json({
            "error_summary": "invalid_access_token/...",
            "error": {".tag": "invalid_access_token"}}, 401))

    def account(self, request):
        self.seen(request)
        return self.denied(request) or as_json({"account_id": "dbid:1", "email": "a@b.c"})

    def _page(self, offset: int, limit: int):
        chunk = self.entries[offset:offset + limit]
        cursor = f"cursor-{len(self.cursors) + 1}"
        self.cursors[cursor] = (offset + limit, limit)
        return as_json({"entries": chunk, "cursor": cursor,
                        "has_more": offset + limit < len(self.entries)})

    def list_folder(self, request):
        entry = self.seen(request)
        entry["json"] = json.loads(request.data)
        if (answer := self.throttled()) is not None:
            return answer
        if (answer := self.denied(request)) is not None:
            return answer
        if entry["json"]["path"] != "/Reports":
            return as_json({"error_summary": "path/not_found/"}, 409)
        return self._page(0, int(entry["json"]["limit"]))

    def list_continue(self, request):
        entry = self.seen(request)
        entry["json"] = json.loads(request.data)
        if (answer := self.denied(request)) is not None:
            return answer
        offset, limit = self.cursors[entry["json"]["cursor"]]
        return self._page(offset, limit)


def test_dropbox_end_to_end(api, httpserver, run_job):
    fake = FakeDropbox(httpserver)
    config = {"path": "/Reports", "recursive": True, "page_size": 2,
              "base_url": httpserver.url_for("/")}
    connection = connect(api, "dropbox", config, SECRETS,
                         {**SECRETS, "refresh_token": "dbx-wrong"},
                         "Dropbox rejected the OAuth credentials (400: invalid_grant")
    sync = create_sync(api, connection, ["files"])
    run = throttled_run(api, run_job, fake, sync, LIST)
    first, *more = fake.data_requests(LIST)[1:]
    assert first["json"] == {"path": "/Reports", "recursive": True, "limit": 2,
                             "include_deleted": False}
    assert [m["json"] for m in more] == [{"cursor": "cursor-1"}, {"cursor": "cursor-2"}]
    assert run.summary["entities"]["files"]["rows_written"] == 4  # the folder is no file
    assert table_rows(sync, "files", ["id", "rev"]) == [(f"id:{i}", f"0{i}")
                                                        for i in range(1, 5)]

    fake.entries[2].update(rev="0b", server_modified="2026-01-06T00:00:00Z")
    fake.entries.append({".tag": "file", "id": "id:5", "name": "r5.csv", "rev": "05",
                         "path_display": "/Reports/r5.csv", "size": 50,
                         "server_modified": "2026-01-07T00:00:00Z"})
    fake.requests.clear()
    run = run_sync(api, run_job, sync)
    assert fake.data_requests(LIST)[0]["json"] == first["json"]
    assert run.summary["entities"]["files"]["rows_written"] == 2
    assert table_rows(sync, "files", ["id", "rev"]) == [
        ("id:1", "01"), ("id:2", "0b"), ("id:3", "03"), ("id:4", "04"), ("id:5", "05")]
