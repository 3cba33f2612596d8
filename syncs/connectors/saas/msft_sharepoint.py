"""SharePoint Online through Microsoft Graph v1.0.

Client credentials at ``{authority_url}/{tenant_id}/oauth2/v2.0/token`` (scope
``https://graph.microsoft.com/.default``). The site is resolved from its URL (``GET
/sites/{hostname}:/{path}``), the document library by name (``/sites/{id}/drives``). Library
items come from the delta query on the drive root (``/drives/{id}/root/delta``, the only delta
SharePoint offers), following ``@odata.nextLink``, kept when under ``folder_path`` (and its
subfolders when ``include_subfolders``) and modified after the checkpoint; deleted items are
flagged ``deleted``. Lists and list items (``expand=fields``) are filtered on
``lastModifiedDateTime`` after the checkpoint. Checkpoints are saved once a read is done.
File contents and tabular streams are not read by this connector.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote, urlsplit

from syncs.connectors.http_api import SourceError
from syncs.connectors.saas.base import SaasSource
from syncs.connectors.sources import Batch, register_source


class SharePointSource(SaasSource):
    provider = "msft_sharepoint"
    service = "Microsoft Graph"
    credential_noun = "the app's credentials"
    credential_hint = ("check the tenant id, the app registration's client id and secret, and "
                       "its Sites.Read.All (or Sites.Selected) permission")

    def engine_config(self, settings: dict) -> dict:
        authority = settings["authority_url"].rstrip("/")
        self._site: str | None = None
        self._drive: str | None = None
        top = settings["page_size"]
        streams = [
            self.stream("drives", path="sites/{site_id}/drives", record_selector="value"),
            self.stream("drive_items", path="drives/{drive_id}/root/delta",
                        record_selector="value", params={"$top": top}, order="unordered",
                        client_filter=True, start_date=settings.get("start_date")),
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
        return {
            "base_url": settings.get("base_url") or "https://graph.microsoft.com/v1.0",
            "auth": {"type": "oauth2", "grant_type": "client_credentials",
                     "token_url": f"{authority}/{settings['tenant_id']}/oauth2/v2.0/token",
                     "scope": "https://graph.microsoft.com/.default"},
            "pagination": {"type": "next_url", "next_url_path": "@odata.nextLink"},
            "max_retries": 5,
            "streams": streams,
        }

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
            relative = parent.split("root:", 1)[1] if "root:" in parent else ""
            inside = relative == folder or (
                self.settings.get("include_subfolders") and
                (relative + "/").startswith(folder + "/"))
            if item.get("root") or not inside:
                continue
            rows.append({**item, "path": f"{relative}/{item.get('name')}",
                         "deleted": "deleted" in item})
        return rows


@register_source("msft_sharepoint")
def msft_sharepoint_source(config: dict, secrets: dict) -> SharePointSource:
    return SharePointSource(config, secrets)
