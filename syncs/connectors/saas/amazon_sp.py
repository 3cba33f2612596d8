"""Amazon Selling Partner API (SP-API).

Login with Amazon: ``POST {token_url}`` ``grant_type=refresh_token`` with the app's LWA client
id/secret and the seller's refresh token; the access token goes in ``x-amz-access-token``
(cached, fetched again once on a 401). Regional host ``https://sellingpartnerapi-{region}
.amazon.com`` (``sandbox.`` in front for the sandbox). Orders v0 (``payload.Orders``,
``LastUpdatedAfter``/``LastUpdatedBefore``, ``payload.NextToken``), order items per order,
Finances v0 (event groups; events flattened to one row per event with its ``event_type``),
FBA inventory summaries per marketplace (``pagination.nextToken``), Reports 2021-06-30
(``nextToken`` pages take no other parameter). 429s without ``Retry-After`` back off
exponentially. Report documents (object storage) are not read by this connector.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from syncs.connectors.saas.base import SaasSource, start_date
from syncs.connectors.sources import Batch, register_source

EARLIEST = "2010-01-01T00:00:00Z"  # getOrders needs a lower bound


class AmazonSpSource(SaasSource):
    provider = "amazon_sp"
    service = "Amazon SP-API"
    credential_noun = "the access token"
    credential_hint = ("check the LWA client id and secret and the seller's refresh token "
                       "(and that the app is authorized for the selling account)")

    def engine_config(self, settings: dict) -> dict:
        region = settings["region"]
        host = f"{'sandbox.' if settings['sandbox'] else ''}sellingpartnerapi-{region}" \
            ".amazon.com"
        since = start_date(settings)
        marketplaces = ",".join(settings["marketplace_ids"])
        size = settings["page_size"]
        next_token = {"type": "cursor", "cursor_path": "payload.NextToken",
                      "cursor_param": "NextToken"}
        streams = [
            self.stream("orders", path="orders/v0/orders", record_selector="payload.Orders",
                        params={"MarketplaceIds": marketplaces, "MaxResultsPerPage": size},
                        cursor_param="LastUpdatedAfter", cursor_end_param="LastUpdatedBefore",
                        cursor_format="iso8601", start_date=since or EARLIEST,
                        order="unordered", pagination=next_token),
            self.stream("order_items", path="orders/v0/orders/{order_id}/orderItems",
                        record_selector="payload.OrderItems", pagination=next_token,
                        parent={"stream": "orders", "vars": {"order_id": "AmazonOrderId"},
                                "fields": {"AmazonOrderId": "AmazonOrderId"}}),
            self.stream("financial_event_groups", path="finances/v0/financialEventGroups",
                        record_selector="payload.FinancialEventGroupList",
                        params={"MaxResultsPerPage": 100},
                        cursor_param="FinancialEventGroupStartedAfter",
                        cursor_format="iso8601", start_date=since, order="unordered",
                        pagination=next_token),
            self.stream("financial_events", path="finances/v0/financialEvents",
                        record_selector="payload.FinancialEvents",
                        params={"MaxResultsPerPage": 100}, cursor_param="PostedAfter",
                        cursor_end_param="PostedBefore", cursor_format="iso8601",
                        start_date=since, order="unordered", client_filter=True,
                        pagination=next_token, flatten_events=True),
            self.stream("fba_inventory", path="fba/inventory/v1/summaries",
                        record_selector="payload.inventorySummaries",
                        params={"details": "true", "granularityType": "Marketplace",
                                "granularityId": "{marketplace}",
                                "marketplaceIds": "{marketplace}"},
                        add={"granularityId": "{marketplace}"},
                        pagination={"type": "cursor", "cursor_path": "pagination.nextToken",
                                    "cursor_param": "nextToken"}),
            self.stream("reports", path="reports/2021-06-30/reports", record_selector="reports",
                        params={"reportTypes": "{report_types}", "marketplaceIds": marketplaces,
                                "pageSize": 100},
                        defaults={"report_types": self.spec.get_resource("reports")
                                  .config_schema["properties"]["report_types"]["default"]},
                        cursor_param="createdSince", cursor_format="iso8601",
                        start_date=since, order="unordered",
                        pagination={"type": "cursor", "cursor_path": "nextToken",
                                    "cursor_param": "nextToken", "cursor_only": True}),
            self.unsupported("report_documents", "report files go to object storage, which "
                                                 "this connector does not write yet."),
        ]
        return {
            "base_url": settings.get("base_url") or f"https://{host}",
            "auth": {"type": "oauth2", "token_url": settings["token_url"],
                     "grant_type": "refresh_token", "header": "x-amz-access-token",
                     "prefix": "", "fields": {"client_id": "lwa_client_id",
                                              "client_secret": "lwa_client_secret",
                                              "refresh_token": "refresh_token"}},
            "check": {"path": "sellers/v1/marketplaceParticipations"},
            "max_retries": 8,
            "streams": streams,
        }

    def placeholders(self, extra: dict | None = None) -> dict:
        values = super().placeholders(extra)
        for key in ("report_types",):
            if isinstance(values.get(key), list):
                values[key] = ",".join(values[key])
        return values

    def after_page(self, stream: dict, records: list[dict], document: Any,
                   values: dict) -> list[dict]:
        if not stream.get("flatten_events"):
            return records
        rows = []
        for events in records:  # {"ShipmentEventList": [...], "RefundEventList": [...]}
            for key, items in (events or {}).items():
                if isinstance(items, list):
                    event_type = key.removesuffix("List").removesuffix("Event") or key
                    rows.extend({"event_type": event_type, **item} for item in items)
        return rows

    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        if entity != "fba_inventory":
            yield from super().read(entity, cursor=cursor, window=window,
                                    entity_config=entity_config)
            return
        for marketplace in self.settings["marketplace_ids"]:
            yield from super().read(entity, cursor=None, window=None,
                                    entity_config={**(entity_config or {}),
                                                   "marketplace": marketplace})


@register_source("amazon_sp")
def amazon_sp_source(config: dict, secrets: dict) -> AmazonSpSource:
    return AmazonSpSource(config, secrets)
