"""Dropbox API v2: the files of a folder.

The app's refresh token (app key and secret) is exchanged at ``token_url`` (default
``{base_url}/oauth2/token``); team apps act as ``team_member_id``
(``Dropbox-API-Select-User``). ``POST /2/files/list_folder`` (``path``, ``recursive``,
``limit``, ``include_deleted``) then ``POST /2/files/list_folder/continue`` with the returned
``cursor`` while ``has_more``. File entries (``.tag`` = file) are kept when
``server_modified`` is after the checkpoint, which is saved once the listing is done.
Deletions are not flagged: Dropbox's deleted entries carry no ``id`` to match a row with.
File contents and tabular streams are not read by this connector.
"""

from __future__ import annotations

from typing import Any

from syncs.connectors.saas.base import SaasSource
from syncs.connectors.sources import register_source


class DropboxSource(SaasSource):
    provider = "dropbox"
    service = "Dropbox"
    credential_noun = "the access token"
    credential_hint = "check the app key and secret and the refresh token"

    def engine_config(self, settings: dict) -> dict:
        base = settings.get("base_url") or "https://api.dropboxapi.com"
        headers = {"Dropbox-API-Select-User": settings["team_member_id"]} \
            if settings.get("team_member_id") else {}
        streams = [
            self.stream("files", path="2/files/list_folder", method="POST",
                        json={"path": settings["path"], "recursive": settings["recursive"],
                              "limit": settings["page_size"], "include_deleted": False},
                        record_selector="entries", order="unordered", client_filter=True,
                        start_date=settings.get("start_date"),
                        pagination={"type": "cursor", "cursor_path": "cursor",
                                    "cursor_param": "cursor", "cursor_in": "body",
                                    "has_more_path": "has_more",
                                    "continue_path": "2/files/list_folder/continue"}),
            self.unsupported("file_contents", "file contents go to object storage, which this "
                                              "connector does not write yet."),
        ]
        return {
            "base_url": base,
            "headers": headers,
            "auth": {"type": "oauth2", "grant_type": "refresh_token",
                     "token_url": settings.get("token_url")
                     or f"{base.rstrip('/')}/oauth2/token",
                     "fields": {"client_id": "app_key", "client_secret": "app_secret",
                                "refresh_token": "refresh_token"}},
            "check": {"path": "2/users/get_current_account", "method": "POST"},
            "max_retries": 5,
            "streams": streams,
        }

    def after_page(self, stream: dict, records: list[dict], document: Any,
                   values: dict) -> list[dict]:
        return [entry for entry in records if entry.get(".tag") == "file"]


@register_source("dropbox")
def dropbox_source(config: dict, secrets: dict) -> DropboxSource:
    return DropboxSource(config, secrets)
