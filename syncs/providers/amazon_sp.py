"""Amazon Selling Partner API (SP-API), for sellers.

Regional hosts ``https://sellingpartnerapi-{na|eu|fe}.amazon.com`` (``sandbox.`` prefix for the
sandbox). An access token comes from Login with Amazon (``POST
https://api.amazon.com/auth/o2/token``, ``grant_type=refresh_token`` with the app's LWA client
id/secret and the seller's refresh token) and is sent as ``x-amz-access-token`` (SigV4 signing
is no longer required). Orders v0 (``getOrders``: ``LastUpdatedAfter``/``LastUpdatedBefore``,
``NextToken``, ``MaxResultsPerPage`` up to 100; ``getOrderItems`` per order), Finances v0
(``listFinancialEventGroups``, ``listFinancialEvents`` with ``PostedAfter``/``PostedBefore``),
FBA Inventory v1 (``getInventorySummaries``) and Reports 2021-06-30 (``getReports``,
``getReportDocument``). Rate limits are low (token buckets per operation; e.g. getOrders
0.0167 req/s, burst 20) and answered with 429. Field names are the API's (PascalCase in v0
APIs, camelCase in newer ones).

Amazon Selling Partner API (SP-API).

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

from syncs.connectors.sources import Batch
from syncs.providers import schemas as js
from syncs.providers._saas import SaasSource, first_run_start, registered
from syncs.providers.base import define_provider
from syncs.providers.resources import blobs, dependent, incremental, snapshot

CONFIG_SCHEMA = js.obj({
    "region": js.enum(["na", "eu", "fe"], "SP-API region of the seller's marketplaces.",
                      default="na"),
    "marketplace_ids": js.string_list("Marketplaces read (ATVPDKIKX0DER = US, A2EUQ1WTGCTBG2 = CA, "
                                      "A1F83G8C2ARO7P = UK, A1PA6795UKMFR9 = DE, ...).",
                                      min_items=1, items={"type": "string",
                                                          "pattern": r"^[A-Z0-9]{10,14}$"}),
    "seller_id": js.string("Merchant token (seller id) of the selling account.",
                           pattern=r"^[A-Z0-9]{10,16}$"),
    "sandbox": js.boolean("Use the SP-API sandbox hosts.", default=False),
    "base_url": js.base_url("https://sellingpartnerapi-{region}.amazon.com"),
    "token_url": js.http_url("Override of the Login with Amazon token endpoint.",
                             default="https://api.amazon.com/auth/o2/token"),
    "page_size": js.page_size(100, 100, "MaxResultsPerPage of order reads."),
    "start_date": js.start_date("Orders updated and financial events posted at or after this "
                                "instant are read on the first run; null: as far back as the API "
                                "allows."),
}, required=["marketplace_ids"], title="Amazon Selling Partner connection", examples=[{
    "region": "na", "marketplace_ids": ["ATVPDKIKX0DER"], "seller_id": "A2EXAMPLE12345",
}])

SECRETS_SCHEMA = js.obj({
    "lwa_client_id": js.secret("LWA client id of the SP-API application "
                               "(amzn1.application-oa2-client....).",
                               pattern=r"^amzn1\.application-oa2-client\."),
    "lwa_client_secret": js.secret("LWA client secret of the application."),
    "refresh_token": js.secret("Refresh token from the seller's authorization (Atzr|...)."),
}, required=["lwa_client_id", "lwa_client_secret", "refresh_token"],
    title="Amazon Selling Partner secrets", examples=[{
        "lwa_client_id": "amzn1.application-oa2-client.0123456789abcdef",
        "lwa_client_secret": "example-secret", "refresh_token": "Atzr|example"}])

DEFAULT_REPORT_TYPES = [
    "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
    "GET_MERCHANT_LISTINGS_ALL_DATA",
    "GET_FBA_MYI_UNSUPPRESSED_INVENTORY_DATA",
]

RESOURCES = [
    incremental("orders", "Orders", "/orders/v0/orders", "Orders: AmazonOrderId, PurchaseDate, "
                "LastUpdateDate, OrderStatus, FulfillmentChannel, OrderTotal, MarketplaceId, "
                "ship-to city and country (buyer PII needs a restricted data token).",
                cursor="LastUpdateDate", window="P7D", size="l", primary_key=["AmazonOrderId"]),
    dependent("order_items", "Order items", "/orders/v0/orders/{orderId}/orderItems",
              "Items of each order changed in the run: ASIN, SellerSKU, quantities, ItemPrice, "
              "ItemTax, PromotionDiscount.", parent="orders", size="l",
              primary_key=["AmazonOrderId", "OrderItemId"]),
    incremental("financial_event_groups", "Financial event groups",
                "/finances/v0/financialEventGroups", "Settlement periods (payouts): status, fund "
                "transfer status, original and converted totals.",
                cursor="FinancialEventGroupStart", size="xs",
                primary_key=["FinancialEventGroupId"]),
    incremental("financial_events", "Financial events", "/finances/v0/financialEvents",
                "Posted financial events (shipments, refunds, service fees, adjustments, ...), "
                "one row per event with its event_type.", cursor="PostedDate", window="P1D",
                size="xl", load_mode="append_event", primary_key=[]),
    snapshot("fba_inventory", "FBA inventory", "/fba/inventory/v1/summaries",
             "Fulfillment-by-Amazon inventory per marketplace and SKU: fulfillable, inbound, "
             "reserved and unfulfillable quantities.", size="s",
             primary_key=["granularityId", "sellerSku"]),
    incremental("reports", "Reports", "/reports/2021-06-30/reports", "Reports of the configured "
                "types: reportId, reportType, processingStatus, data start/end time, "
                "reportDocumentId.", cursor="createdTime", size="xs", primary_key=["reportId"],
                default_selected=False,
                config_schema=js.obj({
                    "report_types": js.string_list("Report types listed.", min_items=1,
                                                   default=DEFAULT_REPORT_TYPES),
                })),
    blobs("report_documents", "Report documents",
          "/reports/2021-06-30/documents/{reportDocumentId}", "The files of the reports read "
          "(decompressed), kept as they are.", parent="reports", storage_description="One blob "
          "per report document in object storage, keyed by reportDocumentId.",
          primary_key=["reportDocumentId"], default_selected=False),
]

SPEC = define_provider("amazon_sp", "Amazon Selling Partner",
    "Orders, finances, FBA inventory and reports of an Amazon seller account.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES)


EARLIEST = "2010-01-01T00:00:00Z"  # getOrders needs a lower bound


@registered
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
        since = first_run_start(settings)
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
