"""Google Drive: files of a folder (or a shared drive), through the Drive API v3.

``files.list`` with ``q="'<folder>' in parents and trashed = false and modifiedTime > '...'"``
(``pageSize`` up to 1000, ``nextPageToken``; ``supportsAllDrives``/``includeItemsFromAllDrives``
with ``corpora=drive`` for shared drives). Subfolders are walked when ``include_subfolders``.
Binary files are downloaded with ``alt=media``; Google Docs, Sheets and Slides are exported
(``files.export``) in ``export_formats``. ``files`` is the metadata table, ``file_contents``
the blobs in object storage; each configured stream (files matching globs, parsed as tables)
is a dynamic entity. Authentication: a service account key (optionally impersonating a
Workspace user through domain-wide delegation) or an OAuth client with a refresh token.

Google Drive API v3: the files of a folder (and its subfolders) or a shared drive.

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
from syncs.connectors.sources import Batch
from syncs.providers import schemas as js
from syncs.providers._google import GoogleSource
from syncs.providers._saas import registered
from syncs.providers.base import define_provider
from syncs.providers.resources import blobs, incremental, snapshot

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"

CONFIG_SCHEMA = js.obj({
    "folder_id": js.string("Id of the folder synced (from its URL: .../folders/<id>); 'root' "
                           "is My Drive.", pattern=r"^[A-Za-z0-9_-]+$"),
    "shared_drive_id": js.string("Id of the shared drive holding the folder, if any.",
                                 pattern=r"^[A-Za-z0-9_-]+$"),
    "include_subfolders": js.boolean("Walk subfolders recursively.", default=True),
    "mime_types": js.string_list("Only files of these MIME types (default all)."),
    "export_formats": js.obj({
        "document": js.enum(["docx", "pdf", "txt", "html", "md"], "Google Docs export format.",
                            default="docx"),
        "spreadsheet": js.enum(["xlsx", "csv", "pdf", "ods"], "Google Sheets export format.",
                               default="xlsx"),
        "presentation": js.enum(["pptx", "pdf"], "Google Slides export format.", default="pdf"),
    }, description="Formats Google Workspace files are exported in.",
        default={"document": "docx", "spreadsheet": "xlsx", "presentation": "pdf"}),
    "delegated_user": js.string("Workspace user impersonated by the service account "
                                "(domain-wide delegation).", format="email"),
    "streams": js.file_streams("reports/*.csv"),
    "base_url": js.base_url("https://www.googleapis.com"),
    "token_url": js.token_url(GOOGLE_TOKEN_URL, "Token endpoint of the service account's JWT "
                              "grant and of the OAuth refresh-token grant (default "
                              f"{GOOGLE_TOKEN_URL}; a service account key's own token_uri is "
                              "used while this keeps the default)."),
    "page_size": js.page_size(1000, 1000),
    "start_date": js.start_date("Only files modified at or after this instant on the first run; "
                                "null reads every file."),
}, required=["folder_id"], title="Google Drive connection",
    examples=[{"folder_id": "1AbCdEfGhIjKlMnOpQrStUvWxYz012345", "include_subfolders": True}])

SECRETS_SCHEMA = js.obj({
    "service_account_json": js.secret("Service account key file (JSON) content."),
    "client_id": js.secret("OAuth client id (instead of a service account)."),
    "client_secret": js.secret("OAuth client secret."),
    "refresh_token": js.secret("OAuth refresh token with the drive.readonly scope."),
}, title="Google Drive secrets",
    **{"if": {"required": ["service_account_json"]},
       "else": {"required": ["client_id", "client_secret", "refresh_token"]}},
    examples=[{"service_account_json": '{"type": "service_account", "project_id": "acme"}'}])

RESOURCES = [
    incremental("files", "Files", "files.list", "Metadata of the folder's files: id, name, path, "
                "MIME type, size, md5Checksum, owners, createdTime, modifiedTime, webViewLink.",
                cursor="modifiedTime", window="P30D", size="s"),
    blobs("file_contents", "File contents", "files.get?alt=media / files.export",
          "The content of each file changed in the run (Workspace files exported in "
          "export_formats).", parent="files", storage_description="One blob per file in object "
          "storage, keyed by file id and replaced when the file changes; the files table "
          "references it.",
          config_schema=js.obj({
              "max_file_size_mb": {"type": "integer", "minimum": 1, "default": 512,
                                   "description": "Larger files are skipped."},
          })),
    snapshot("drives", "Shared drives", "drives.list", "Shared drives visible to the account.",
             default_selected=False),
]

SPEC = define_provider("google_drive", "Google Drive",
    "Files of a Google Drive folder: metadata, contents and tabular streams.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES, dynamic_resources=True)


FOLDER = "application/vnd.google-apps.folder"
FILE_FIELDS = ("id,name,mimeType,parents,size,md5Checksum,owners(emailAddress,displayName),"
               "createdTime,modifiedTime,webViewLink,trashed,driveId")


@registered
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
