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
/sites/{hostname}:/{path}``), the document library by name (``/sites/{id}/drives``). Library
items come from the delta query on the drive root (``/drives/{id}/root/delta``, the only delta
SharePoint offers), following ``@odata.nextLink``; items are kept when under ``folder_path``
(and its subfolders when ``include_subfolders``). The last page's ``@odata.deltaLink`` is the
checkpoint: the next run calls it and reads only the changes since (a first run reads the
whole drive, keeping items modified at or after ``start_date``). A delta link Graph answers
410 Gone (expired: "resync required") starts over with a full delta, every item written
again; so does a link of another library (``drive_name`` changed). Changing ``folder_path``
needs a full refresh run: the delta link only reports items changed since.

Deletions: ``drive_items`` is upserted on ``id``, so a deleted item (Graph's ``deleted``
facet) is written as a row flagged ``deleted`` (a soft delete), not removed. Graph gives
deleted items no path, so a deletion is kept even when the folder of the item cannot be told
(an item deleted elsewhere in the library may add a flagged row). Deletions that happen while
a delta link is expired are not seen by the full delta that follows: their rows stay
unflagged until a full refresh run. Lists and list items (``expand=fields``) are filtered on
``lastModifiedDateTime`` after the checkpoint, saved once a read is done. File contents and
tabular streams are not read by this connector.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

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

    def check_request(self) -> None:
        self.site_id()

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

    def resumes(self, cursor: Any) -> bool:
        """``cursor`` is a delta (or next) link of this library: older checkpoints were
        instants, and a link of another library would report that library's changes."""
        return isinstance(cursor, str) and cursor.startswith(("https://", "http://")) and \
            f"/drives/{self.drive_id()}/" in unquote(cursor)

    def delta_pages(self, link: str | None) -> Iterator[tuple[list[dict], str]]:
        """The drive root's delta from ``link`` (None: a full delta): each page's items in the
        folder, with the link after it (the next page's, then the delta link)."""
        stream = self.streams["drive_items"]
        values = self.placeholders()
        if link is None:
            link = self.url(fill(stream["path"], values))
            params = self.request_params(stream, None, None, values)
        else:
            params = None  # a next or delta link holds its whole query
        while True:
            document = self.get(link, params).json()
            items = self.after_page(stream, document.get("value") or [], document, values)
            following = document.get("@odata.nextLink")
            if following:
                yield items, following
                link, params = following, None
                continue
            delta = document.get("@odata.deltaLink")
            if not delta:
                raise SourceError("Microsoft Graph answered a delta page with neither "
                                  "@odata.nextLink nor @odata.deltaLink.")
            yield items, delta
            return

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
        if stream["name"] != "drive_items":
            return records
        folder = self.settings["folder_path"].rstrip("/")
        rows = []
        for item in records:
            parent = unquote((item.get("parentReference") or {}).get("path") or "")
            if item.get("root"):
                continue
            if "deleted" in item and not parent:
                # Graph gives deleted items no path: flag the row of that id, wherever it was.
                rows.append({**item, "path": None, "deleted": True})
                continue
            relative = parent.split("root:", 1)[1] if "root:" in parent else ""
            inside = relative == folder or (
                self.settings.get("include_subfolders") and
                (relative + "/").startswith(folder + "/"))
            if not inside:
                continue
            rows.append({**item, "path": f"{relative}/{item.get('name')}",
                         "deleted": "deleted" in item})
        return rows


SPEC = define_provider("msft_sharepoint", "Microsoft SharePoint",
    "Files and lists of a SharePoint Online site (Microsoft Graph).",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES, dynamic_resources=True)
