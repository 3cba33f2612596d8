"""A fake of Microsoft Graph's SharePoint surface and its identity platform token endpoint: the
client credentials grant, the site by path, the site's drives, an item by path
(``/drives/{id}/root:/{path}``), a folder's children, and the drive root's delta query.

The library starts as ``/Shared/Exports/q1..q4.xlsx`` (files ``i1``..``i4`` in folder
``f-exports``) beside an empty ``/Private`` folder. The delta reads a change log
(``ChangeLog``): every change (``change``, ``add``, ``move``, ``delete``) gets the next
sequence number. A delta without a token enumerates the live items; one with ``token=`` (a
delta link issued earlier) answers only the items changed since, in the order they were first
added (so an item can come before a folder it was moved into). As Graph's delta does, items
name their parent by ``parentReference.id`` and never carry ``parentReference.path`` (a moved
folder is reported, not what it holds), and a deleted item is its id and the ``deleted`` facet
only. Item-by-path and children answers carry the path, as Graph's do. Pages hold ``$top`` items
and carry
``@odata.nextLink`` (``$skiptoken``); the last one the ``@odata.deltaLink`` of the state it
answered (both keep ``$top``). ``expire()`` makes every delta link issued so far answer 410 Gone
(``resyncRequired``)."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlencode

from tests.syncs.fakes.base import ChangeLog, Fake, as_json

GRAPH_SECRETS = {"client_id": "app-0001", "client_secret": "graph-s3cr3t-0001"}
TENANT = "11111111-2222-3333-4444-555555555555"
DELTA = "/drives/d1/root/delta"


def folder_item(key: str, name: str, parent: str, day: int = 1) -> dict:
    return {"id": key, "name": name, "folder": {"childCount": 0},
            "lastModifiedDateTime": f"2026-01-{day:02d}T00:00:00Z",
            "parentReference": {"driveId": "d1", "id": parent}}


def file_item(i: int, day: int, etag: str = "", parent: str = "f-exports") -> dict:
    return {"id": f"i{i}", "name": f"q{i}.xlsx", "eTag": etag or f"v1-{i}",
            "lastModifiedDateTime": f"2026-01-{day:02d}T00:00:00Z",
            "parentReference": {"driveId": "d1", "id": parent}}


class FakeGraph(Fake):
    def __init__(self, server):
        super().__init__(server)
        self.log = ChangeLog()  # item id -> item
        self.add({"id": "root", "name": "root", "root": {}, "folder": {"childCount": 2},
                  "parentReference": {"driveId": "d1"}})
        self.add(folder_item("f-shared", "Shared", "root"))
        self.add(folder_item("f-exports", "Exports", "f-shared"))
        self.add(folder_item("f-private", "Private", "root"))
        for i in range(1, 5):
            self.add(file_item(i, i))
        self.issued: dict[str, int] = {}    # delta token -> the sequence it was issued at
        self.expired: set[str] = set()
        self.rounds: dict[str, tuple[int, list[dict]]] = {}  # $skiptoken -> round
        server.expect_request(f"/{TENANT}/oauth2/v2.0/token", method="POST") \
            .respond_with_handler(self.token)
        server.expect_request("/sites/contoso.sharepoint.com:/sites/Finance") \
            .respond_with_handler(self.site)
        server.expect_request("/sites/site-1/drives").respond_with_handler(self.drives)
        server.expect_request(DELTA).respond_with_handler(self.delta)
        server.expect_request(re.compile(r"^/drives/d1/root(:/.*)?$")) \
            .respond_with_handler(self.by_path)
        server.expect_request(re.compile(r"^/drives/d1/items/[^/]+/children$")) \
            .respond_with_handler(self.children)

    # --- the drive's changes ------------------------------------------------------------------
    def add(self, item: dict) -> None:
        self.log.put(item["id"], item)

    def change(self, item_id: str, **fields) -> None:
        self.log.put(item_id, {**self.log.records[item_id], **fields})

    def move(self, item_id: str, parent: str) -> None:
        self.change(item_id, parentReference={"driveId": "d1", "id": parent})

    def delete(self, item_id: str) -> None:
        # What Graph's delta answers for a deleted item: its id and the deleted facet.
        self.log.put(item_id, {"id": item_id, "deleted": {"state": "deleted"}})

    def live(self) -> list[dict]:
        return [item for item in self.log.records.values() if "deleted" not in item]

    def path_of(self, item_id: str) -> str:
        """``/drive/root:/Shared/Exports`` for folder ``f-exports``, as Graph writes paths."""
        names = []
        while item_id != "root":
            item = self.log.records[item_id]
            names.append(item["name"])
            item_id = item["parentReference"]["id"]
        return "/drive/root:" + "".join(f"/{name}" for name in reversed(names))

    def with_path(self, item: dict) -> dict:
        reference = item["parentReference"]
        return {**item, "parentReference": {**reference,
                                            "path": self.path_of(reference["id"])}}

    def expire(self) -> None:
        self.expired |= set(self.issued)

    def delta_link(self, token: str, top: int) -> str:
        # Graph's links keep the query options of the request they continue ($top).
        return f"{self.server.url_for(DELTA)}?" + urlencode({"$top": top, "token": token})

    # --- endpoints ----------------------------------------------------------------------------
    def token(self, request):
        return self.form_grant(request, {
            "grant_type": "client_credentials", "scope": "https://graph.microsoft.com/.default",
            **GRAPH_SECRETS}, as_json({"error": "invalid_client", "error_description":
                                       "AADSTS7000215: Invalid client secret provided."}, 401))

    def denied(self, request):
        return self.bearer_refused(request, as_json({"error": {
            "code": "InvalidAuthenticationToken", "message": "Access token is empty."}}, 401))

    def site(self, request):
        self.seen(request)
        return self.denied(request) or as_json({"id": "site-1", "name": "Finance"})

    def drives(self, request):
        self.seen(request)
        return self.denied(request) or as_json({"value": [{"id": "d0", "name": "Archive"},
                                                          {"id": "d1", "name": "Documents"}]})

    def by_path(self, request):
        self.seen(request)
        if (answer := self.denied(request)) is not None:
            return answer
        item = self.log.records["root"]
        for name in unquote(request.path).partition(":")[2].strip("/").split("/"):
            if not name:
                continue
            item = next((child for child in self.live() if child["name"] == name and
                         child["parentReference"].get("id") == item["id"]), None)
            if item is None:
                return as_json({"error": {"code": "itemNotFound",
                                          "message": "The resource could not be found."}}, 404)
        return as_json(item if "root" in item else self.with_path(item))

    def children(self, request):
        entry = self.seen(request)
        if (answer := self.denied(request)) is not None:
            return answer
        parent = unquote(request.path).split("/")[4]
        listed = [self.with_path(item) for item in self.live()
                  if (item.get("parentReference") or {}).get("id") == parent]
        top = int(entry["args"].get("$top", 200))
        offset = int(entry["args"].get("$skiptoken", 0))
        document = {"value": listed[offset:offset + top]}
        if offset + top < len(listed):
            document["@odata.nextLink"] = f"{self.server.url_for(request.path)}?" + urlencode(
                {"$top": top, "$skiptoken": offset + top})
        return as_json(document)

    def delta(self, request):
        entry, answer = self.data_request(request, self.denied)
        if answer is not None:
            return answer
        args = entry["args"]
        if "$skiptoken" in args:  # a next link: the same round, further on
            round_key, offset_text = args["$skiptoken"].rsplit("-", 1)
            upto, listed = self.rounds[round_key]
            offset = int(offset_text)
        else:
            token = args.get("token")
            if token in self.expired:
                return as_json({"error": {"code": "resyncRequired", "message": "Resync "
                                          "required. Replace any local items with the "
                                          "server's version (including deletes)."}}, 410)
            if token is not None and token not in self.issued:
                return as_json({"error": {"code": "invalidRequest",
                                          "message": "Invalid delta token."}}, 400)
            upto = self.log.sequence
            listed = self.log.since(self.issued[token]) if token is not None else self.live()
            round_key = f"r{len(self.rounds) + 1}"
            self.rounds[round_key] = (upto, listed)
            offset = 0
        top = int(args.get("$top", 200))
        document = {"value": listed[offset:offset + top]}
        if offset + top < len(listed):
            document["@odata.nextLink"] = f"{self.server.url_for(DELTA)}?" + urlencode(
                {"$top": top, "$skiptoken": f"{round_key}-{offset + top}"})
        else:
            token = f"t{len(self.issued) + 1}"
            self.issued[token] = upto
            document["@odata.deltaLink"] = self.delta_link(token, top)
        return as_json(document)
