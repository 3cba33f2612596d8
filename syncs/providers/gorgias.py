"""Gorgias: the helpdesk REST API of one Gorgias account.

Host ``https://{subdomain}.gorgias.com/api``, HTTP basic auth with a user's email and API key.
Lists page with cursors (``limit`` up to 100, ``cursor``, ``meta.next_cursor``) and sort with
``order_by`` (``updated_datetime:desc`` for tickets and customers, ``created_datetime`` for
messages and events); there is no modified-since filter, so incremental reads walk the newest
first and stop at the checkpoint, and windows are not available. Rate limit: a leaky bucket
per account (about 2 requests/s for API keys; 429 with ``Retry-after``). Timestamps are
ISO 8601 ``*_datetime`` fields.

Gorgias REST API: ``https://{subdomain}.gorgias.com/api/<resource>``.

HTTP basic auth (the user's email and REST API key). Lists page with cursors (``limit`` up to
100, ``cursor`` = the previous page's ``meta.next_cursor``). There is no modified-since
filter: tickets and customers are listed ``order_by=updated_datetime:desc``, messages and
events ``created_datetime:desc``; a read walks newest first and stops at the first record at
or before the checkpoint, and the new checkpoint is saved once the walk is done (so an
interrupted run never skips older records). Other lists are read in full.
"""

from __future__ import annotations

from syncs.providers import schemas as js
from syncs.providers._saas import SaasSource, first_run_start, registered
from syncs.providers.base import ResourceSpec, define_provider
from syncs.providers.resources import incremental, snapshot

CONFIG_SCHEMA = js.obj({
    "subdomain": js.string("Account subdomain (the <subdomain> of <subdomain>.gorgias.com).",
                           pattern=r"^[a-z0-9][a-z0-9-]*$"),
    "base_url": js.base_url("https://{subdomain}.gorgias.com/api"),
    "page_size": js.page_size(100, 100),
    "start_date": js.start_date(),
}, required=["subdomain"], title="Gorgias connection", examples=[{"subdomain": "acme"}])

SECRETS_SCHEMA = js.obj({
    "username": js.secret("Email of the Gorgias user owning the API key.", format="email"),
    "api_key": js.secret("REST API key (Settings > REST API)."),
}, required=["username", "api_key"], title="Gorgias secrets",
    examples=[{"username": "ops@example.com", "api_key": "example-api-key"}])


def _snapshot(key: str, display: str, path: str, description: str,
              default: bool = True) -> ResourceSpec:
    return snapshot(key, display, path, description, default_selected=default)


RESOURCES = [
    incremental("tickets", "Tickets", "/api/tickets", "Tickets: subject, status, channel, "
                "priority, customer, assignee user and team, tags, created/updated/closed "
                "datetimes.", cursor="updated_datetime", size="l"),
    incremental("messages", "Messages", "/api/messages", "Messages of all tickets: ticket_id, "
                "channel, via, sender, receiver, subject, body_text, from_agent, sent_datetime.",
                cursor="created_datetime", size="xl"),
    incremental("customers", "Customers", "/api/customers", "Customers: email, name, channels, "
                "external_id, integration data (e.g. Shopify customer).",
                cursor="updated_datetime"),
    snapshot("satisfaction_surveys", "Satisfaction surveys", "/api/satisfaction-surveys",
             "CSAT surveys: ticket, customer, score, comment, sent and scored datetimes; re-read "
             "in full since scores arrive later.", size="s", load_mode="upsert"),
    _snapshot("users", "Users", "/api/users", "Agents and admins: name, email, role."),
    _snapshot("teams", "Teams", "/api/teams", "Teams of agents."),
    _snapshot("tags", "Tags", "/api/tags", "Ticket tags with usage counts."),
    _snapshot("macros", "Macros", "/api/macros", "Saved replies and their actions.",
              default=False),
    incremental("events", "Events", "/api/events", "Audit events: type (ticket-updated, ...), "
                "object, user, data.", cursor="created_datetime", size="xl",
                load_mode="append_event", default_selected=False),
]

SPEC = define_provider("gorgias", "Gorgias",
    "Tickets, messages, customers and satisfaction surveys of a Gorgias helpdesk.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES)


NEWEST_FIRST = {"tickets": ("tickets", "updated_datetime"),
                "messages": ("messages", "created_datetime"),
                "customers": ("customers", "updated_datetime"),
                "events": ("events", "created_datetime")}
FULL = {"satisfaction_surveys": "satisfaction-surveys", "users": "users", "teams": "teams",
        "tags": "tags", "macros": "macros"}


@registered
class GorgiasSource(SaasSource):
    provider = "gorgias"
    service = "Gorgias"
    credential_noun = "the email and API key"
    credential_hint = "check the user's email and the REST API key (Settings > REST API)"

    def engine_config(self, settings: dict) -> dict:
        size = settings["page_size"]
        streams = [
            self.stream(key, path=path, record_selector="data", order="desc",
                        params={"limit": size, "order_by": f"{field}:desc"},
                        start_date=first_run_start(settings))
            for key, (path, field) in NEWEST_FIRST.items()
        ] + [
            self.stream(key, path=path, record_selector="data", params={"limit": size})
            for key, path in FULL.items()
        ]
        return {
            "base_url": settings.get("base_url") or
            f"https://{settings['subdomain']}.gorgias.com/api",
            "auth": {"type": "basic", "username_secret": "username",
                     "password_secret": "api_key"},
            "pagination": {"type": "cursor", "cursor_path": "meta.next_cursor",
                           "cursor_param": "cursor"},
            "check": {"path": "account"},
            "max_retries": 6,
            "streams": streams,
        }
