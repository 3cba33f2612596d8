"""Gmail inbox: messages of one mailbox through the Gmail API v1.

``users.messages.list`` (``q`` = Gmail search syntax, ``labelIds``, ``maxResults`` up to 500,
``pageToken``) then ``users.messages.get`` per id (``format=full``: headers, body parts,
``labelIds``, ``snippet``, ``historyId``, ``internalDate`` in epoch milliseconds). Incremental
reads add ``after:<epoch seconds>`` to the query; windows use ``after:``/``before:``.
Attachments are fetched with ``users.messages.attachments.get`` and stored as blobs
(``attachmentId`` changes on every fetch, so they are keyed by message id and MIME part id).
Authentication: a service account with domain-wide delegation impersonating ``user_email``
(Workspace), or an OAuth client with a refresh token granting ``gmail.readonly``.

Gmail API v1: the messages of one mailbox.

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

from syncs.providers import schemas as js
from syncs.providers._google import GoogleSource
from syncs.providers._saas import registered
from syncs.providers.base import define_provider
from syncs.providers.resources import blobs, dependent, incremental, snapshot

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"

CONFIG_SCHEMA = js.obj({
    "user_email": js.string("Mailbox read (the user impersonated with a service account).",
                            format="email"),
    "query": js.string("Gmail search query selecting the messages, e.g. "
                       "\"label:invoices has:attachment\" (empty: every message).", default=""),
    "label_ids": js.string_list("Only messages with all these label ids (INBOX, Label_123...)."),
    "include_spam_trash": js.boolean("Include messages in SPAM and TRASH.", default=False),
    "message_format": js.enum(["full", "metadata", "raw"], "users.messages.get format.",
                              default="full"),
    "base_url": js.base_url("https://gmail.googleapis.com"),
    "token_url": js.token_url(GOOGLE_TOKEN_URL, "Token endpoint of the service account's JWT "
                              "grant and of the OAuth refresh-token grant (default "
                              f"{GOOGLE_TOKEN_URL}; a service account key's own token_uri is "
                              "used while this keeps the default)."),
    "page_size": js.page_size(500, 500, "maxResults of message list requests."),
    "start_date": js.start_date("Messages received at or after this instant on the first run; "
                                "null reads the whole mailbox."),
}, required=["user_email"], title="Gmail connection",
    examples=[{"user_email": "invoices@example.com", "query": "has:attachment"}])

SECRETS_SCHEMA = js.obj({
    "service_account_json": js.secret("Service account key file (JSON) with domain-wide "
                                      "delegation of the gmail.readonly scope."),
    "client_id": js.secret("OAuth client id (instead of a service account)."),
    "client_secret": js.secret("OAuth client secret."),
    "refresh_token": js.secret("OAuth refresh token of the mailbox's user."),
}, title="Gmail secrets",
    **{"if": {"required": ["service_account_json"]},
       "else": {"required": ["client_id", "client_secret", "refresh_token"]}},
    examples=[{"client_id": "123.apps.googleusercontent.com", "client_secret": "example",
               "refresh_token": "1//example"}])

RESOURCES = [
    incremental("messages", "Messages", "users.messages", "Messages: id, threadId, labelIds, "
                "snippet, historyId, internalDate, sizeEstimate, headers (From, To, Subject, "
                "Date) and text/HTML bodies.", cursor="internalDate", window="P7D",
                cursor_format="epoch_ms", size="l"),
    dependent("threads", "Threads", "users.threads", "Threads of the messages read: id, "
              "historyId, snippet, message ids.", parent="messages", default_selected=False),
    snapshot("labels", "Labels", "users.labels", "System and user labels: id, name, type, "
             "visibility."),
    blobs("attachments", "Attachments", "users.messages.attachments", "Attachments of the "
          "messages read: file name, MIME type, size and content.", parent="messages",
          storage_description="One blob per attachment in object storage, keyed by message id "
          "and MIME part id.", primary_key=["message_id", "part_id"],
          config_schema=js.obj({
              "mime_types": js.string_list("Only attachments of these MIME types (default "
                                           "all)."),
              "max_size_mb": {"type": "integer", "minimum": 1, "maximum": 25,
                              "default": 25,
                              "description": "Larger attachments are skipped."},
          })),
]

SPEC = define_provider("gmail_inbox", "Gmail inbox",
    "Messages, threads, labels and attachments of a Gmail or Google Workspace mailbox.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES)


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


@registered
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
