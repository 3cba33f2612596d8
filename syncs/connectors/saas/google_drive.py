"""Google Drive API v3: the files of a folder (and its subfolders) or a shared drive.

``GET /drive/v3/files?q='<folder>' in parents and trashed = false and modifiedTime > '<cursor>'
&orderBy=modifiedTime&pageSize=&fields=nextPageToken,files(...)`` following
``nextPageToken``; subfolders are found with a ``mimeType = 'application/vnd.google-apps.folder'``
query and walked when ``include_subfolders``; each file row has its ``path`` in the folder.
The checkpoint (greatest ``modifiedTime``) is saved once the walk is done. ``drives`` lists the
shared drives. File contents and tabular streams (object storage, file parsing) are not read
by this connector.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from syncs.connectors.http_api import format_cursor, later
from syncs.connectors.saas._google import GoogleSource
from syncs.connectors.sources import Batch, register_source

FOLDER = "application/vnd.google-apps.folder"
FILE_FIELDS = ("id,name,mimeType,parents,size,md5Checksum,owners(emailAddress,displayName),"
               "createdTime,modifiedTime,webViewLink,trashed,driveId")


class GoogleDriveSource(GoogleSource):
    provider = "google_drive"
    service = "Google Drive"
    scope = "https://www.googleapis.com/auth/drive.readonly"

    def subject(self) -> str | None:
        return self.settings.get("delegated_user")

    def engine_config(self, settings: dict) -> dict:
        drive = settings.get("shared_drive_id")
        common = {"supportsAllDrives": "true", "includeItemsFromAllDrives": "true",
                  **({"corpora": "drive", "driveId": drive} if drive else {})}
        streams = [
            self.stream("files", path="drive/v3/files", record_selector="files",
                        params={**common, "q": "{q}", "orderBy": "modifiedTime",
                                "pageSize": settings["page_size"],
                                "fields": f"nextPageToken,files({FILE_FIELDS})"},
                        order="unordered"),
            self.stream("drives", path="drive/v3/drives", record_selector="drives",
                        params={"pageSize": 100}),
            self.unsupported("file_contents", "file contents go to object storage, which this "
                                              "connector does not write yet."),
        ]
        return {
            "base_url": settings.get("base_url") or "https://www.googleapis.com",
            "auth": self.google_auth(),
            "pagination": {"type": "cursor", "cursor_path": "nextPageToken",
                           "cursor_param": "pageToken"},
            "check": {"path": f"drive/v3/files/{settings['folder_id']}",
                      "params": {"fields": "id,name", "supportsAllDrives": "true"}},
            "max_retries": 5,
            "streams": streams,
        }

    def _folders(self) -> Iterator[tuple[str, str]]:
        """(folder id, path) of the configured folder and, when asked, its subfolders."""
        pending = [(self.settings["folder_id"], "")]
        stream = self.streams["files"]
        while pending:
            folder, path = pending.pop(0)
            yield folder, path
            if not self.settings.get("include_subfolders"):
                continue
            query = f"'{folder}' in parents and trashed = false and mimeType = '{FOLDER}'"
            for records in self.pages(stream, values=self.placeholders({"q": query})):
                pending.extend((r["id"], f"{path}{r.get('name')}/") for r in records)

    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        if entity != "files":
            yield from super().read(entity, cursor=cursor, window=window,
                                    entity_config=entity_config)
            return
        yield from self.guarded(self._files(cursor, window))

    def _files(self, cursor: Any, window: tuple | None) -> Iterator[Batch]:
        since = window[0] if window else (cursor or self.settings.get("start_date"))
        stream = self.streams["files"]
        reached = cursor
        mime_types = self.settings.get("mime_types") or []
        for folder, path in self._folders():
            query = f"'{folder}' in parents and trashed = false and mimeType != '{FOLDER}'"
            if since:
                operator = ">" if cursor is not None and not window else ">="
                query += f" and modifiedTime {operator} '{format_cursor(since, 'iso8601')}'"
            if window:
                query += f" and modifiedTime < '{format_cursor(window[1], 'iso8601')}'"
            if mime_types:
                query += " and (" + " or ".join(f"mimeType = '{m}'" for m in mime_types) + ")"
            for records in self.pages(stream, values=self.placeholders({"q": query})):
                rows = [{**r, "path": f"{path}{r.get('name')}"} for r in records]
                for row in rows:
                    reached = later(reached, row.get("modifiedTime"))
                if rows:
                    yield Batch(records=rows, cursor=cursor)
        if reached != cursor:
            yield Batch(records=[], cursor=reached)


@register_source("google_drive")
def google_drive_source(config: dict, secrets: dict) -> GoogleDriveSource:
    return GoogleDriveSource(config, secrets)
