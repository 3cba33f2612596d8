"""Dropbox: files of a folder through the Dropbox API v2.

``POST /2/files/list_folder`` (``path``, ``recursive``, ``limit`` up to 2000) and
``/2/files/list_folder/continue`` with the returned cursor; entries carry ``id``
(``id:...``), ``path_display``, ``rev``, ``size``, ``content_hash``, ``client_modified`` and
``server_modified``. Files are downloaded from the content host (``POST
https://content.dropboxapi.com/2/files/download`` with ``Dropbox-API-Arg``). Auth: a
long-lived refresh token of the app (app key/secret) exchanged at ``/oauth2/token``; team apps
act as a member through ``Dropbox-API-Select-User``. ``files`` is the metadata table,
``file_contents`` the blobs, and each configured stream is a dynamic entity.

``DropboxSource`` reads it (Dropbox API v2: the files of a folder).

The app's refresh token (app key and secret) is exchanged at ``token_url`` (default
``{base_url}/oauth2/token``); team apps act as ``team_member_id``
(``Dropbox-API-Select-User``). A first run lists the folder: ``POST /2/files/list_folder``
(``path``, ``recursive``, ``limit``, ``include_deleted``) then ``POST
/2/files/list_folder/continue`` with the returned ``cursor`` while ``has_more``, keeping the
files (``.tag`` = file) modified on the server at or after ``start_date``. The last cursor of
a run is its checkpoint: the next run continues from it and reads only the changes since. A
cursor Dropbox refuses with ``reset`` (409) starts over with a full listing, every file
written again. Changing ``path`` or ``recursive`` needs a full refresh run: a cursor keeps
listing the folder it was made for.

Deletions are not flagged: ``files`` is upserted on ``id`` and Dropbox's deleted entries
(``.tag`` = deleted) carry no ``id`` to match a row with, only a path, so they are skipped as
before and the rows of deleted files stay. File contents and tabular streams are not read by
this connector.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from syncs.connectors.http_api import SourceError, parse_instant
from syncs.providers import schemas as js
from syncs.providers._saas import ChangeFeed, CursorExpired, SaasSource
from syncs.providers.base import define_provider
from syncs.providers.resources import blobs, incremental

if TYPE_CHECKING:
    import httpx

CONTINUE = "2/files/list_folder/continue"

CONFIG_SCHEMA = js.obj({
    "path": js.string("Folder read: \"\" is the root, otherwise a path like /Reports.",
                      pattern=r"^(|/.*[^/])$", default=""),
    "recursive": js.boolean("Walk subfolders.", default=True),
    "team_member_id": js.string("Team member acted as (team apps; dbmid:...).", minLength=1),
    "streams": js.file_streams("/Reports/*.csv"),
    "base_url": js.base_url("https://api.dropboxapi.com"),
    "content_url": js.http_url("Override of the content host.",
                               default="https://content.dropboxapi.com"),
    "token_url": js.token_url(description="OAuth token endpoint of the refresh-token grant "
                                       "(default {base_url}/oauth2/token)."),
    "page_size": js.page_size(2000, 2000, "limit of list_folder requests."),
    "start_date": js.start_date("Only files modified on the server at or after this instant on "
                                "the first run; null reads every file."),
}, title="Dropbox connection", examples=[{"path": "/Reports", "recursive": True}])

SECRETS_SCHEMA = js.obj({
    "app_key": js.secret("App key of the Dropbox app."),
    "app_secret": js.secret("App secret of the Dropbox app."),
    "refresh_token": js.secret("Refresh token (offline access) granted to the app."),
}, required=["app_key", "app_secret", "refresh_token"], title="Dropbox secrets",
    examples=[{"app_key": "example-key", "app_secret": "example-secret",
               "refresh_token": "example-refresh-token"}])

RESOURCES = [
    incremental("files", "Files", "/2/files/list_folder", "Files under the folder: id, name, "
                "path, rev, size, content_hash, client_modified, server_modified; rows of "
                "deleted files stay.", cursor="server_modified", size="s"),
    blobs("file_contents", "File contents", "/2/files/download", "The content of each file "
          "changed in the run.", parent="files", storage_description="One blob per file in "
          "object storage, keyed by file id and replaced when its rev changes.",
          config_schema=js.obj({
              "max_file_size_mb": {"type": "integer", "minimum": 1, "default": 512,
                                   "description": "Larger files are skipped."},
          })),
]


class DropboxSource(SaasSource, provider="dropbox", service="Dropbox",
                    credential_noun="the access token",
                    credential_hint="check the app key and secret and the refresh token"):
    def engine_config(self, settings: dict) -> dict:
        base = settings.get("base_url") or "https://api.dropboxapi.com"
        headers = {"Dropbox-API-Select-User": settings["team_member_id"]} \
            if settings.get("team_member_id") else {}
        streams = [
            # Read by ``listing_pages``: its checkpoint is Dropbox's cursor.
            self.stream("files", path="2/files/list_folder", method="POST",
                        json={"path": settings["path"], "recursive": settings["recursive"],
                              "limit": settings["page_size"], "include_deleted": False},
                        record_selector="entries"),
            self.unsupported("file_contents", "file contents go to object storage, which this "
                                              "connector does not write yet."),
        ]
        return self.engine(base,
                           {"type": "oauth2", "grant_type": "refresh_token",
                            "token_url": settings.get("token_url")
                            or f"{base.rstrip('/')}/oauth2/token",
                            "fields": {"client_id": "app_key", "client_secret": "app_secret",
                                       "refresh_token": "refresh_token"}}, streams,
                           headers=headers,
                           check={"path": "2/users/get_current_account", "method": "POST"})

    def change_feed(self, entity: str) -> ChangeFeed | None:
        return ChangeFeed(self.listing_pages, self.resumes) if entity == "files" else None

    @staticmethod
    def resumes(cursor: Any) -> bool:
        """``cursor`` is a list_folder cursor (older checkpoints were instants)."""
        return isinstance(cursor, str) and parse_instant(cursor) is None

    def listing_pages(self, cursor: str | None) -> Iterator[tuple[list[dict], str]]:
        """The folder's listing continued from ``cursor`` (None: listed from the start): each
        page's files, with the cursor after it."""
        stream = self.streams["files"]
        if cursor is None:
            path, body = stream["path"], stream["json"]
        else:
            path, body = CONTINUE, {"cursor": cursor}
        while True:
            document = self.request("POST", self.url(path), json=body).json()
            cursor = document.get("cursor")
            if not cursor:
                raise SourceError("Dropbox answered a folder listing without a cursor.")
            yield self.after_page(stream, document.get("entries") or [], document, {}), cursor
            if not document.get("has_more"):
                return
            path, body = CONTINUE, {"cursor": cursor}

    def error_for(self, response: httpx.Response) -> SourceError:
        if response.status_code == 409 and response.request.url.path.endswith(CONTINUE):
            try:
                tag = (response.json().get("error") or {}).get(".tag")
            except (ValueError, AttributeError):
                tag = None
            if tag == "reset":
                return CursorExpired("Dropbox reset the saved listing cursor (409 reset)",
                                     status=409)
        return super().error_for(response)

    def after_page(self, stream: dict, records: list[dict], document: Any,
                   values: dict) -> list[dict]:
        return [entry for entry in records if entry.get(".tag") == "file"]


SPEC = define_provider("dropbox", "Dropbox",
    "Files of a Dropbox folder: metadata, contents and tabular streams.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES, dynamic_resources=True)
