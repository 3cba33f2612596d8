"""Starlink: the Starlink Enterprise (business/reseller) API.

OAuth 2 client credentials (a service account's client id and secret) against Starlink's
token endpoint; resources are scoped to an account number (``ACC-...``) under
``/enterprise/v1/account/{accountNumber}/``: addresses, service lines, user terminals (dishes),
subscriptions (products), and data usage per service line and billing cycle. The Enterprise
API's documentation is only available to customers; entity and field names (camelCase, as the
API returns them) are the most plausible ones and must be confirmed by the connector. The
lists have no modified-since filter, so everything but data usage is re-read in full.

Starlink Enterprise API (``https://web-api.starlink.com/enterprise``).

OAuth 2 client credentials at ``token_url`` (``https://api.starlink.com/auth/connect/token``).
Account resources under ``/v1/account/{account_number}/``: addresses, service lines, user
terminals and subscriptions, paged with ``page`` (from 0) and ``limit``; answers wrap the page
in ``content`` (``results``, ``isLastPage``). Data usage: ``POST
/v1/account/{account_number}/billing-cycles/query`` for the last ``billing_cycles_back``
cycles, flattened to one row per service line and day. Field names follow the customers-only
documentation as best known and must be confirmed.
"""

from __future__ import annotations

from typing import Any

from syncs.providers import schemas as js
from syncs.providers._saas import SaasSource, registered
from syncs.providers.base import define_provider
from syncs.providers.resources import incremental, snapshot

CONFIG_SCHEMA = js.obj({
    "account_number": js.string("Starlink account number.", pattern=r"^ACC-[A-Z0-9-]+$",
                                examples=["ACC-1234567-12345-12"]),
    "base_url": js.base_url("https://web-api.starlink.com/enterprise"),
    "token_url": js.http_url("Override of the OAuth token endpoint.",
                             default="https://api.starlink.com/auth/connect/token"),
    "page_size": js.page_size(100, 100),
    "billing_cycles_back": js.integer("Billing cycles of data usage re-read on each run (usage "
                                      "of the current cycle keeps changing).", minimum=1,
                                      maximum=12, default=2),
}, required=["account_number"], title="Starlink connection",
    examples=[{"account_number": "ACC-1234567-12345-12"}])

SECRETS_SCHEMA = js.obj({
    "client_id": js.secret("Service account client id."),
    "client_secret": js.secret("Service account client secret."),
}, required=["client_id", "client_secret"], title="Starlink secrets",
    examples=[{"client_id": "example-client", "client_secret": "example-secret"}])

RESOURCES = [
    snapshot("addresses", "Addresses", "/account/{accountNumber}/addresses", "Service addresses "
             "registered on the account.", primary_key=["addressReferenceId"]),
    snapshot("service_lines", "Service lines", "/account/{accountNumber}/service-lines",
             "Service lines (a subscription at an address): number, nickname, product, active "
             "flag, start and end dates.", size="s", primary_key=["serviceLineNumber"]),
    snapshot("user_terminals", "User terminals", "/account/{accountNumber}/user-terminals",
             "Starlink kits (dish serial number, kit serial, terminal id) and the service line "
             "each is attached to.", size="s", primary_key=["userTerminalId"]),
    snapshot("subscriptions", "Subscriptions", "/account/{accountNumber}/subscriptions",
             "Subscription products (plans and data blocks) on the account's service lines.",
             primary_key=["subscriptionReferenceId"]),
    incremental("data_usage", "Data usage", "/account/{accountNumber}/billing-cycles/query",
                "Daily priority and standard data usage (GB) of each service line over the last "
                "billing_cycles_back billing cycles.", cursor="date",
                primary_key=["serviceLineNumber", "date"], depends_on=["service_lines"]),
]

SPEC = define_provider("starlink", "Starlink",
    "Service lines, terminals, subscriptions and data usage of a Starlink Enterprise account.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES)


LISTS = {"addresses": "addresses", "service_lines": "service-lines",
         "user_terminals": "user-terminals", "subscriptions": "subscriptions"}


@registered
class StarlinkSource(SaasSource):
    provider = "starlink"
    service = "Starlink"
    credential_noun = "the service account"
    credential_hint = "check the service account's client id and secret"

    def engine_config(self, settings: dict) -> dict:
        account = "v1/account/{account_number}"
        streams = [self.stream(key, path=f"{account}/{path}", record_selector="content.results")
                   for key, path in LISTS.items()]
        streams.append(self.stream(
            "data_usage", path=f"{account}/billing-cycles/query", method="POST",
            json={"previousBillingCycles": settings["billing_cycles_back"],
                  "pageIndex": 0, "pageLimit": settings["page_size"]},
            record_selector="content.results", order="unordered", daily_usage=True,
            pagination={"type": "none"}))
        return {
            "base_url": settings.get("base_url") or "https://web-api.starlink.com/enterprise",
            "auth": {"type": "oauth2", "grant_type": "client_credentials",
                     "token_url": settings["token_url"]},
            "pagination": {"type": "page_number", "start_page": 0, "page_param": "page",
                           "size_param": "limit", "page_size": settings["page_size"],
                           "last_page_path": "content.isLastPage"},
            "check": {"path": f"{account}/service-lines", "params": {"limit": 1}},
            "max_retries": 5,
            "streams": streams,
        }

    def after_page(self, stream: dict, records: list[dict], document: Any,
                   values: dict) -> list[dict]:
        if not stream.get("daily_usage"):
            return records
        rows = []
        for line in records:
            for cycle in line.get("billingCycles") or []:
                for day in cycle.get("dailyDataUsage") or []:
                    rows.append({"serviceLineNumber": line.get("serviceLineNumber"),
                                 "billingCycleStart": cycle.get("startDate"),
                                 "billingCycleEnd": cycle.get("endDate"), **day})
        return rows
