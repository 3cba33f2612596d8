"""Starlink Enterprise API (``https://web-api.starlink.com/enterprise``).

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

from syncs.connectors.saas.base import SaasSource
from syncs.connectors.sources import register_source

LISTS = {"addresses": "addresses", "service_lines": "service-lines",
         "user_terminals": "user-terminals", "subscriptions": "subscriptions"}


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


@register_source("starlink")
def starlink_source(config: dict, secrets: dict) -> StarlinkSource:
    return StarlinkSource(config, secrets)
