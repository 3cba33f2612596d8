"""Microsoft SharePoint Online, through Microsoft Graph (v1.0).

An Entra ID (Azure AD) app registration authenticates with the client credentials flow
(``https://login.microsoftonline.com/{tenant_id}/oauth2/v2.0/token``, scope
``https://graph.microsoft.com/.default``; application permission ``Sites.Read.All`` or
``Sites.Selected``). The site is resolved from its URL (``GET /sites/{hostname}:/sites/{path}``);
document library items are read with the delta query (``/drives/{drive-id}/root/delta``,
``@odata.nextLink``/``@odata.deltaLink``), list items with ``/lists/{list-id}/items?expand=fields``.
``drive_items`` is the file metadata table, ``drive_item_contents`` the blobs in object
storage; each configured stream (files matching globs, parsed as tables) is a dynamic entity.

``SharePointSource`` reads it (SharePoint Online through Microsoft Graph v1.0).

Client credentials at ``{authority_url}/{tenant_id}/oauth2/v2.0/token`` (scope
``https://graph.microsoft.com/.default``). The site is resolved from its URL (``GET
/sites/{hostname}:/{path}``), the document library by name (``/sites/{id}/drives``), the
folder by path to its id (``GET /drives/{id}/root:{folder_path}``; a folder that does not exist
fails the read with a message naming it). Library items come from the delta query on the drive
root (``/drives/{id}/root/delta``, the only delta SharePoint offers), following
``@odata.nextLink``. A first run reads the whole drive, keeping items modified at or after
``start_date``; a delta link Graph answers 410 Gone (expired: "resync required") starts over
with a full delta, every item written again.

Which items are under the folder is told by ids: Graph's delta items never carry
``parentReference.path`` (renaming a folder does not report what it holds, so Graph says to
track items by id), only ``parentReference.id``. An item is kept when its parent is the
folder, or (``include_subfolders``) a folder under it, at any depth. The folders under the
target (id -> parent id and name, one entry per folder) are saved with the checkpoint, beside
the last page's ``@odata.deltaLink``: ``{"delta_link", "folder_id", "include_subfolders",
"folders"}``, so the next run places an item whose folder did not change. Graph does not
promise a parent before its children: an item whose parent is neither under the target nor
met yet waits until the whole delta is read, then is placed (a parent never met is outside).
A row's ``path`` is built from the saved folder names (``/Shared/Exports/2026/q1.xlsx``);
a folder renamed gets its new path, the rows of what it holds keep theirs until they change.

Moves: a folder moved into the target (or created in it) on an incremental run is reported by
the delta alone, not what it holds, so its items are listed (``/drives/{id}/items/{id}/children``,
recursively) and written. A folder moved out has its row, and the rows of what it holds (listed
the same way), flagged ``deleted``: they left the synced folder. A file moved out cannot be
told from a change elsewhere in the library (file ids are not saved): its row stays as last
read until a full refresh run. A checkpoint of an older version (an instant, or a bare delta
link without the folders), of another library (``drive_name`` changed) or of another folder
(``folder_path`` or ``include_subfolders`` changed) reads the whole delta again; rows of the
former folder stay until a full refresh run.

Deletions: ``drive_items`` is upserted on ``id``, so a deleted item (Graph's ``deleted``
facet; the delta gives it its id only) is written as a row flagged ``deleted`` (a soft
delete), not removed. The folder of a deleted item cannot be told, so a deletion is always
kept (an item deleted elsewhere in the library may add a flagged row). Deletions that happen
while a delta link is expired are not seen by the full delta that follows: their rows stay
unflagged until a full refresh run. Lists and list items (``expand=fields``) are filtered on
``lastModifiedDateTime`` after the checkpoint, saved once a read is done. File contents and
tabular streams are not read by this connector.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

from syncs.connectors.http_api import SourceError, fill
from syncs.connectors.sources import Batch
from syncs.providers import schemas as js
from syncs.providers._saas import ChangeFeed, CursorExpired, SaasSource
from syncs.providers.base import define_provider
from syncs.providers.resources import blobs, incremental, snapshot

if TYPE_CHECKING:
    import httpx

CONFIG_SCHEMA = js.obj({
    "tenant_id": js.string("Directory (tenant) id, or the tenant's domain "
                           "(contoso.onmicrosoft.com).", minLength=1),
    "site_url": js.http_url("URL of the SharePoint site, e.g. "
                            "https://contoso.sharepoint.com/sites/Finance."),
    "drive_name": js.string("Document library read.", minLength=1, default="Documents"),
    "folder_path": js.string("Folder of the library read (/ is the library root).",
                             pattern=r"^/", default="/"),
    "include_subfolders": js.boolean("Walk subfolders recursively.", default=True),
    "lists": js.string_list("Display names of the lists whose items are synced (default: every "
                            "non-hidden list)."),
    "streams": js.file_streams("/Reports/*.xlsx"),
    "base_url": js.base_url("https://graph.microsoft.com/v1.0"),
    "authority_url": js.http_url("Override of the identity platform host.",
                                 default="https://login.microsoftonline.com"),
    "page_size": js.page_size(200, 999, "Items per Graph page ($top)."),
    "start_date": js.start_date("Only items modified at or after this instant on the first run; "
                                "null reads everything."),
}, required=["tenant_id", "site_url"], title="SharePoint connection", examples=[{
    "tenant_id": "00000000-0000-0000-0000-000000000000",
    "site_url": "https://contoso.sharepoint.com/sites/Finance",
    "folder_path": "/Shared/Exports",
}])

SECRETS_SCHEMA = js.obj({
    "client_id": js.secret("Application (client) id of the app registration."),
    "client_secret": js.secret("Client secret of the app registration."),
}, required=["client_id", "client_secret"], title="SharePoint secrets",
    examples=[{"client_id": "11111111-1111-1111-1111-111111111111",
               "client_secret": "example-secret"}])

RESOURCES = [
    snapshot("drives", "Document libraries", "/sites/{site-id}/drives", "The site's document "
             "libraries (drives).", default_selected=False),
    incremental("drive_items", "Files", "/drives/{drive-id}/root/delta", "Files and folders of "
                "the library folder: id, name, path, size, MIME type, eTag, createdDateTime, "
                "lastModifiedDateTime, webUrl; deleted items are flagged.",
                cursor="lastModifiedDateTime", size="s"),
    blobs("drive_item_contents", "File contents", "/drives/{drive-id}/items/{item-id}/content",
          "The content of each file changed in the run.", parent="drive_items",
          storage_description="One blob per file in object storage, keyed by item id and "
          "replaced when the file changes.",
          config_schema=js.obj({
              "max_file_size_mb": {"type": "integer", "minimum": 1, "default": 512,
                                   "description": "Larger files are skipped."},
          })),
    incremental("lists", "Lists", "/sites/{site-id}/lists", "The site's lists: display name, "
                "template, columns.", cursor="lastModifiedDateTime", size="xs"),
    incremental("list_items", "List items", "/sites/{site-id}/lists/{list-id}/items?expand=fields",
                "Items of the selected lists with their column values (fields).",
                cursor="lastModifiedDateTime", primary_key=["list_id", "id"], depends_on=["lists"]),
]


class SharePointSource(SaasSource, provider="msft_sharepoint", service="Microsoft Graph",
                       credential_noun="the app's credentials",
                       credential_hint="check the tenant id, the app registration's client id "
                                       "and secret, and its Sites.Read.All (or Sites.Selected) "
                                       "permission"):
    def engine_config(self, settings: dict) -> dict:
        authority = settings["authority_url"].rstrip("/")
        self._site: str | None = None
        self._drive: str | None = None
        self._folder: str | None = None
        top = settings["page_size"]
        streams = [
            self.stream("drives", path="sites/{site_id}/drives", record_selector="value"),
            # Read by ``delta_pages``: its checkpoint is Graph's delta link.
            self.stream("drive_items", path="drives/{drive_id}/root/delta",
                        record_selector="value", params={"$top": top}),
            self.stream("lists", path="sites/{site_id}/lists", record_selector="value",
                        order="unordered", client_filter=True,
                        start_date=settings.get("start_date")),
            self.stream("list_items", path="sites/{site_id}/lists/{list_id}/items",
                        record_selector="value", params={"expand": "fields", "$top": top},
                        order="unordered", client_filter=True,
                        parent={"stream": "lists", "own_cursor": True,
                                "vars": {"list_id": "id"}, "fields": {"list_id": "id"}}),
            self.unsupported("drive_item_contents", "file contents go to object storage, "
                                                    "which this connector does not write yet."),
        ]
        return self.engine("https://graph.microsoft.com/v1.0",
                           {"type": "oauth2", "grant_type": "client_credentials",
                            "token_url": f"{authority}/{settings['tenant_id']}/oauth2/v2.0/token",
                            "scope": "https://graph.microsoft.com/.default"}, streams,
                           pagination={"type": "next_url", "next_url_path": "@odata.nextLink"})

    def site_id(self) -> str:
        if self._site is None:
            parts = urlsplit(self.settings["site_url"])
            path = unquote(parts.path).rstrip("/")
            site = self.get(self.url(f"sites/{parts.hostname}:{path}")).json()
            self._site = site["id"]
        return self._site

    def drive_id(self) -> str:
        if self._drive is None:
            name = self.settings["drive_name"]
            for records in self.pages(self.streams["drives"], values=self.placeholders()):
                found = next((d for d in records if d.get("name") == name), None)
                if found:
                    self._drive = found["id"]
                    break
            else:
                raise SourceError(f"The site has no document library named {name!r}.")
        return self._drive

    def placeholders(self, extra: dict | None = None) -> dict:
        values = super().placeholders(extra)
        if self._site is not None:
            values["site_id"] = self._site
        if self._drive is not None:
            values["drive_id"] = self._drive
        return values

    def __init__(self, config: dict, secrets: dict) -> None:
        super().__init__(config, secrets)
        # A check verifies the library and folder a connection names; one that leaves both
        # to their defaults may read lists only (a site need not have a "Documents").
        self.names_folder = bool({"drive_name", "folder_path"} & set(config or {}))

    def check_request(self) -> None:
        self.site_id()
        if self.names_folder:
            self.folder_id()  # (the library's id first)

    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        def batches() -> Iterator[Batch]:
            self.site_id()
            if entity == "drive_items":
                self.drive_id()
            yield from SaasSource.read(self, entity, cursor=cursor, window=window,
                                       entity_config=entity_config)

        yield from self.guarded(batches())

    def change_feed(self, entity: str) -> ChangeFeed | None:
        return ChangeFeed(self.delta_pages, self.resumes) if entity == "drive_items" else None

    def folder_id(self) -> str:
        """The id of the configured folder (``GET /drives/{id}/root:{folder_path}``): the
        delta feed names parents by id only."""
        if self._folder is None:
            folder = self.settings["folder_path"].rstrip("/")
            path = f"drives/{self.drive_id()}/root" + (f":{quote(folder)}" if folder else "")
            try:
                self._folder = self.get(self.url(path)).json()["id"]
            except SourceError as exc:
                if exc.status != 404:
                    raise
                raise SourceError(f"The library {self.settings['drive_name']!r} has no folder "
                                  f"{self.settings['folder_path']!r} (404).") from None
        return self._folder

    def resumes(self, cursor: Any) -> bool:
        """``cursor`` is a checkpoint of this version for the same library and folder: older
        checkpoints were instants or bare delta links (no folder tree), and a link of another
        library would report that library's changes."""
        if not isinstance(cursor, dict):
            return False
        link = cursor.get("delta_link")
        return isinstance(link, str) and link.startswith(("https://", "http://")) and \
            f"/drives/{self.drive_id()}/" in unquote(link) and \
            cursor.get("folder_id") == self.folder_id() and \
            cursor.get("include_subfolders") == bool(self.settings["include_subfolders"]) and \
            isinstance(cursor.get("folders"), dict)

    def delta_pages(self, checkpoint: dict | None) -> Iterator[tuple[list[dict], Any]]:
        """The drive root's delta from ``checkpoint`` (None: a full delta): each page's rows in
        the folder, with the link after it; then the rows decided once the feed is read
        (children listed before their parent, folders moved in or out) with the checkpoint."""
        stream = self.streams["drive_items"]
        values = self.placeholders()
        scope = FolderScope(self.folder_id(), self.settings["folder_path"].rstrip("/"),
                            subfolders=bool(self.settings["include_subfolders"]),
                            folders=(checkpoint or {}).get("folders"))
        if checkpoint is None:
            link, params = self.url(fill(stream["path"], values)), \
                self.request_params(stream, None, None, values)
        else:
            link, params = checkpoint["delta_link"], None  # a delta link holds its whole query
        delta = None
        for document in self.graph_pages(link, params):
            following = document.get("@odata.nextLink")
            delta = None if following else document.get("@odata.deltaLink")
            if not following and not delta:
                raise SourceError("Microsoft Graph answered a delta page with neither "
                                  "@odata.nextLink nor @odata.deltaLink.")
            yield scope.take(document.get("value") or []), following or delta
        rows = scope.settle()
        for folder_id, inside in scope.relisted(incremental=checkpoint is not None):
            rows.extend(scope.listed(folder_id, inside, self.children(folder_id)))
        yield rows, {"delta_link": delta, "folder_id": scope.target,
                     "include_subfolders": scope.subfolders, "folders": scope.saved()}

    def children(self, folder_id: str) -> Iterator[dict]:
        """The items of a folder and of its subfolders, each folder's before its subfolders'."""
        top = self.settings["page_size"]
        queue = deque([folder_id])
        while queue:
            parent = queue.popleft()
            link = self.url(f"drives/{self.drive_id()}/items/{quote(parent)}/children")
            for document in self.graph_pages(link, {"$top": top}):
                for item in document.get("value") or []:
                    yield item
                    if "folder" in item:
                        queue.append(item["id"])

    def graph_pages(self, link: str, params: dict | None) -> Iterator[dict]:
        """The documents of a Graph collection, following ``@odata.nextLink``."""
        while link:
            document = self.get(link, params).json()
            yield document
            link, params = document.get("@odata.nextLink"), None

    def error_for(self, response: httpx.Response) -> SourceError:
        if response.status_code == 410 and "/root/delta" in response.request.url.path:
            return CursorExpired("Microsoft Graph answered 410 Gone to the delta query "
                                 "(resync required)", status=410)
        return super().error_for(response)

    def after_page(self, stream: dict, records: list[dict], document: Any,
                   values: dict) -> list[dict]:
        if stream["name"] == "lists":
            wanted = set(self.settings.get("lists") or [])
            if wanted:
                return [r for r in records if r.get("displayName") in wanted]
            return [r for r in records if not (r.get("list") or {}).get("hidden")]
        return records


IN, OUT, PENDING = "in", "out", "pending"


def _parent(item: dict) -> str | None:
    return (item.get("parentReference") or {}).get("id")


class FolderScope:
    """Which items of one delta run are under the configured folder, told by ids (Graph's delta
    items carry ``parentReference.id``, never ``parentReference.path``).

    ``folders`` (folder id -> [parent id, name]) holds the folders under the target as last
    read; it is saved with the checkpoint, so an incremental run can place an item whose
    parent did not change. An item whose parent is neither under the target nor met yet in this
    run waits until the feed is read (``settle``): Graph does not promise parents before their
    children, and a folder moved in may come after its children."""

    def __init__(self, target: str, path: str, *, subfolders: bool,
                 folders: dict[str, list[str]] | None) -> None:
        self.target, self.path, self.subfolders = target, path, subfolders
        self.folders = {key: list(value) for key, value in (folders or {}).items()}
        self.before = {key for key in self.folders if self._reaches(key)}
        self.states: dict[str, str] = {}     # ids met in this run
        self.pending: list[dict] = []
        self.moved: dict[str, bool] = {}     # folder id -> moved in (True) or out (False)
        self.final = False                   # the feed is read: an unmet parent is outside

    # --- the delta's items --------------------------------------------------------------------
    def take(self, items: list[dict]) -> list[dict]:
        """The rows of a page's items that are decided now; the others wait for ``settle``."""
        rows = []
        for item in items:
            key = item["id"]
            if "root" in item or key == self.target:
                self.states[key] = IN if key == self.target else OUT
            elif "deleted" in item:
                # Graph gives a deleted item its id only: flag the row of that id, wherever
                # it was (the folder of an item cannot be told once deleted).
                self.folders.pop(key, None)
                self.states[key] = OUT
                rows.append({**item, "path": None, "deleted": True})
            elif (state := self.state_of(_parent(item))) == PENDING:
                self.states[key] = PENDING
                self.pending.append(item)
            else:
                rows.extend(self.place(item, inside=state == IN))
        return rows

    def settle(self) -> list[dict]:
        """The rows of the items that waited, once the whole feed is read: each is placed
        after its parent; a parent never met (and not under the target) is outside."""
        self.final = True
        rows: list[dict] = []
        while self.pending:
            ready = [item for item in self.pending if self.state_of(_parent(item)) != PENDING]
            if not ready:  # a cycle cannot happen in a tree; never loop on a broken one
                ready = self.pending
            done = {item["id"] for item in ready}
            self.pending = [item for item in self.pending if item["id"] not in done]
            for item in ready:
                rows.extend(self.place(item, inside=self.state_of(_parent(item)) == IN))
        return rows

    def state_of(self, parent: str | None) -> str:
        if not self.subfolders:
            return IN if parent == self.target else OUT
        node = parent
        for _ in range(len(self.folders) + 1):
            if node == self.target:
                return IN
            state = self.states.get(node) if node is not None else OUT
            if state in (PENDING, OUT):
                return state
            if node not in self.folders:
                # Neither under the target nor met: it may still come later in this run.
                return OUT if self.final or node != parent else PENDING
            node = self.folders[node][0]
        return OUT

    def place(self, item: dict, *, inside: bool) -> list[dict]:
        key, parent, name = item["id"], _parent(item), item.get("name") or ""
        if inside:
            self.states[key] = IN
            if "folder" in item and self.subfolders:
                self.folders[key] = [parent, name]
                if key not in self.before:
                    self.moved[key] = True
            return [{**item, "path": f"{self.path_of(parent)}/{name}", "deleted": False}]
        self.states[key] = OUT
        if key in self.before and self.folders.pop(key, None) is not None:
            # A folder moved out of the target: its row is flagged, its items with it.
            self.moved[key] = False
            return [{**item, "path": None, "deleted": True}]
        return []

    # --- folders moved in or out --------------------------------------------------------------
    def relisted(self, *, incremental: bool) -> list[tuple[str, bool]]:
        """The folders whose items must be listed: Graph's delta reports a moved folder, not
        what it holds. A full delta lists every item anyway."""
        return list(self.moved.items()) if incremental and self.subfolders else []

    def listed(self, folder: str, inside: bool, items: Iterator[dict]) -> list[dict]:
        """The rows of the items listed under a folder moved in (written) or out (flagged)."""
        rows = []
        state = IN if inside else OUT
        for item in items:
            key = item["id"]
            if self.states.get(key) == state:  # met in the delta (or listed already)
                continue
            # Otherwise not met, or placed wrongly by the delta: an item that came before its
            # folder's move was placed by where the folder was. This row is the later one.
            self.states[key] = state
            if not inside:
                self.folders.pop(key, None)
                rows.append({**item, "path": None, "deleted": True})
                continue
            parent, name = _parent(item), item.get("name") or ""
            if "folder" in item:
                self.folders[key] = [parent, name]
            rows.append({**item, "path": f"{self.path_of(parent)}/{name}", "deleted": False})
        return rows

    # --- paths and the checkpoint -------------------------------------------------------------
    def path_of(self, folder: str | None) -> str:
        names = []
        for _ in range(len(self.folders) + 1):
            if folder == self.target or folder not in self.folders:
                break
            folder, name = self.folders[folder]
            names.append(name)
        return self.path + "".join(f"/{name}" for name in reversed(names))

    def saved(self) -> dict[str, list[str]]:
        """The folders still under the target (the subtrees moved out or deleted dropped)."""
        return {key: value for key, value in self.folders.items() if self._reaches(key)}

    def _reaches(self, folder: str) -> bool:
        node = folder
        for _ in range(len(self.folders) + 1):
            if node == self.target:
                return True
            if node not in self.folders:
                return False
            node = self.folders[node][0]
        return False


SPEC = define_provider("msft_sharepoint", "Microsoft SharePoint",
    "Files and lists of a SharePoint Online site (Microsoft Graph).",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES, dynamic_resources=True)
