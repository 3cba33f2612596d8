"""A fake of the Dropbox API v2 folder listing and its OAuth token endpoint.

``/oauth2/token`` takes the ``refresh_token`` grant with the app key and secret (a wrong refresh
token gets ``invalid_grant``); RPC endpoints take the access token as a Bearer. Entries are kept
in a change log (``ChangeLog``): every change (``change``, ``add``, ``delete``) gets the next
sequence number. ``/2/files/list_folder`` lists the live entries, ``limit`` a page, with an
opaque ``cursor`` and ``has_more``; ``/2/files/list_folder/continue`` takes a cursor: one handed
out mid-listing answers the next page, the last one of a listing (``has_more`` false) answers
the entries changed since it was handed out, deleted ones as ``.tag: deleted`` entries (name and
path, no id). ``reset()`` makes every cursor handed out so far answer 409 ``reset``, as Dropbox
does when a cursor can no longer be continued."""

from __future__ import annotations

import json

from tests.syncs.fakes.base import ChangeLog, Fake, as_json

DROPBOX_SECRETS = {"app_key": "dbx-app-key", "app_secret": "dbx-app-s3cr3t",
                   "refresh_token": "dbx-refresh-s3cr3t"}
LIST = "/2/files/list_folder"


def file_entry(i: int, day: int, rev: str = "") -> dict:
    return {".tag": "file", "id": f"id:{i}", "name": f"r{i}.csv", "rev": rev or f"0{i}",
            "path_display": f"/Reports/r{i}.csv", "path_lower": f"/reports/r{i}.csv",
            "size": 10 * i, "server_modified": f"2026-01-{day:02d}T00:00:00Z"}


class FakeDropbox(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.log = ChangeLog()  # path_lower -> entry
        self.add({".tag": "folder", "id": "id:dir", "name": "2026",
                  "path_display": "/Reports/2026", "path_lower": "/reports/2026"})
        for i in range(1, 5):
            self.add(file_entry(i, i))
        # cursor -> (changes after this sequence (None: the live entries), up to this one,
        # the listing's entries, the offset of the next page)
        self.cursors: dict[str, tuple[int | None, int, list[dict], int]] = {}
        self.resets: set[str] = set()
        self.limit = 2000  # a cursor keeps the limit of its listing
        server.expect_request("/oauth2/token", method="POST").respond_with_handler(self.token)
        server.expect_request("/2/users/get_current_account", method="POST") \
            .respond_with_handler(self.account)
        server.expect_request(LIST, method="POST").respond_with_handler(self.list_folder)
        server.expect_request(f"{LIST}/continue", method="POST") \
            .respond_with_handler(self.list_continue)

    # --- the folder's changes -----------------------------------------------------------------
    def _path(self, entry_id: str) -> str:
        return next(p for p, e in self.log.records.items() if e.get("id") == entry_id)

    def add(self, entry: dict) -> None:
        self.log.put(entry["path_lower"], entry)

    def change(self, entry_id: str, **fields) -> None:
        path = self._path(entry_id)
        self.log.put(path, {**self.log.records[path], **fields})

    def delete(self, entry_id: str) -> None:
        path = self._path(entry_id)
        entry = self.log.records[path]
        # Dropbox's DeletedMetadata: a name and paths, no id.
        self.log.put(path, {".tag": "deleted", "name": entry["name"],
                            "path_display": entry["path_display"], "path_lower": path})

    def reset(self) -> None:
        self.resets |= set(self.cursors)

    # --- endpoints ----------------------------------------------------------------------------
    def token(self, request):
        return self.form_grant(request, {
            "grant_type": "refresh_token", "refresh_token": DROPBOX_SECRETS["refresh_token"],
            "client_id": DROPBOX_SECRETS["app_key"],
            "client_secret": DROPBOX_SECRETS["app_secret"]},
            as_json({"error": "invalid_grant", "error_description": "refresh token is "
                                                                   "malformed"}, 400))

    def denied(self, request):
        return self.bearer_refused(request, as_json({
            "error_summary": "invalid_access_token/...",
            "error": {".tag": "invalid_access_token"}}, 401))

    def account(self, request):
        self.seen(request)
        return self.denied(request) or as_json({"account_id": "dbid:1", "email": "a@b.c"})

    def _page(self, since: int | None, upto: int, listed: list[dict], offset: int, limit: int):
        chunk = listed[offset:offset + limit]
        has_more = offset + limit < len(listed)
        cursor = f"cursor-{len(self.cursors) + 1}"
        # Mid-listing: the next page; at the end: the changes after ``upto``.
        self.cursors[cursor] = (since, upto, listed, offset + limit) if has_more else \
            (upto, upto, [], 0)
        return as_json({"entries": chunk, "cursor": cursor, "has_more": has_more})

    def _read(self, request) -> dict:
        entry = self.seen(request)
        entry["json"] = json.loads(request.data)
        return entry

    def list_folder(self, request):
        entry = self._read(request)
        if (answer := self.throttled()) is not None:
            return answer
        if (answer := self.denied(request)) is not None:
            return answer
        if entry["json"]["path"] != "/Reports":
            return as_json({"error_summary": "path/not_found/"}, 409)
        listed = [e for e in self.log.records.values() if e[".tag"] != "deleted"]
        self.limit = int(entry["json"]["limit"])
        return self._page(None, self.log.sequence, listed, 0, self.limit)

    def list_continue(self, request):
        entry = self._read(request)
        if (answer := self.denied(request)) is not None:
            return answer
        cursor = entry["json"]["cursor"]
        if cursor in self.resets:
            return as_json({"error_summary": "reset/..", "error": {".tag": "reset"}}, 409)
        if cursor not in self.cursors:
            return as_json({"error_summary": "other/..", "error": {".tag": "other"}}, 409)
        since, upto, listed, offset = self.cursors[cursor]
        if offset == 0 and not listed:  # the end of a listing: what changed since
            upto = self.log.sequence
            listed = self.log.since(since)
        return self._page(since, upto, listed, offset, self.limit)
