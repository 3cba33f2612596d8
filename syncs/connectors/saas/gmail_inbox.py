"""Gmail API v1: the messages of one mailbox.

``GET /gmail/v1/users/{user}/messages?q=<query> after:<epoch s>&labelIds=&maxResults=
&pageToken=`` lists ids (newest first, ``nextPageToken``); each message is then read with
``users.messages.get?format=<message_format>``: headers From/To/Cc/Subject/Date become columns,
text and HTML bodies are decoded, ``internalDate`` (epoch ms) is the cursor, checkpointed once
the listing is done. ``labels`` lists the mailbox's labels; ``threads`` reads the threads of
the messages read. Attachments (object storage) are not read by this connector.
"""

from __future__ import annotations

import base64
from typing import Any

from syncs.connectors.saas._google import GoogleSource
from syncs.connectors.sources import register_source

HEADERS = ("From", "To", "Cc", "Subject", "Date", "Message-ID")


def _decode(data: str | None) -> str | None:
    if not data:
        return None
    try:
        return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode("utf-8", "replace")
    except ValueError:
        return None


def _bodies(part: dict, found: dict) -> dict:
    mime = part.get("mimeType", "")
    if mime in ("text/plain", "text/html") and not part.get("filename"):
        key = "body_text" if mime == "text/plain" else "body_html"
        found.setdefault(key, _decode((part.get("body") or {}).get("data")))
    for child in part.get("parts") or []:
        _bodies(child, found)
    return found


def shape_message(message: dict) -> dict:
    payload = message.get("payload") or {}
    headers = {h.get("name"): h.get("value") for h in payload.get("headers") or []}
    row = {k: v for k, v in message.items() if k != "payload"}
    if "internalDate" in row:
        row["internalDate"] = int(row["internalDate"])
    row["headers"] = {k: headers[k] for k in HEADERS if k in headers}
    for name in ("From", "To", "Subject", "Date"):
        row[name.lower()] = headers.get(name)
    row.update(_bodies(payload, {}))
    return row


class GmailInboxSource(GoogleSource):
    provider = "gmail_inbox"
    service = "Gmail"
    scope = "https://www.googleapis.com/auth/gmail.readonly"

    def subject(self) -> str | None:
        return self.settings["user_email"]

    def engine_config(self, settings: dict) -> dict:
        user = "users/{user_email}"
        streams = [
            self.stream("messages", path=f"gmail/v1/{user}/messages", record_selector="messages",
                        params={"q": "{query}", "maxResults": settings["page_size"],
                                "includeSpamTrash": str(settings["include_spam_trash"]).lower(),
                                **({"labelIds": settings["label_ids"]}
                                   if settings.get("label_ids") else {})},
                        cursor_params={"q": "{query} after:{cursor}"},
                        window_params={"q": "{query} after:{start} before:{end}"},
                        cursor_format="epoch_s", start_date=settings.get("start_date"),
                        order="unordered", client_filter=True, fetch_messages=True),
            self.stream("labels", path=f"gmail/v1/{user}/labels", record_selector="labels"),
            self.stream("threads", path=f"gmail/v1/{user}/threads/{{thread_id}}",
                        params={"format": "metadata"}, drop=["messages"],
                        parent={"stream": "messages", "vars": {"thread_id": "threadId"}}),
            self.unsupported("attachments", "attachments go to object storage, which this "
                                            "connector does not write yet."),
        ]
        return {
            "base_url": settings.get("base_url") or "https://gmail.googleapis.com",
            "auth": self.google_auth(),
            "pagination": {"type": "cursor", "cursor_path": "nextPageToken",
                           "cursor_param": "pageToken"},
            "check": {"path": f"gmail/v1/{user}/profile"},
            "max_retries": 5,
            "streams": streams,
        }

    def after_page(self, stream: dict, records: list[dict], document: Any,
                   values: dict) -> list[dict]:
        if not stream.get("fetch_messages"):
            return records
        rows = []
        for stub in records:
            url = self.url(f"gmail/v1/users/{self.settings['user_email']}/messages/"
                           f"{stub['id']}")
            message = self.get(url, {"format": self.settings["message_format"]}).json()
            rows.append(shape_message(message))
        return rows


@register_source("gmail_inbox")
def gmail_inbox_source(config: dict, secrets: dict) -> GmailInboxSource:
    return GmailInboxSource(config, secrets)
