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
"""

from syncs.providers.base import ProviderSpec, ResourceSpec, cursor_window, register
from syncs.providers.schemas import (
    base_url,
    boolean,
    defaults_from,
    enum,
    http_url,
    obj,
    page_size,
    secret,
    start_date,
    string,
    string_list,
)

CONFIG_SCHEMA = obj({
    "region": enum(["na", "eu", "fe"], "SP-API region of the seller's marketplaces.",
                   default="na"),
    "marketplace_ids": string_list("Marketplaces read (ATVPDKIKX0DER = US, A2EUQ1WTGCTBG2 = CA, "
                                   "A1F83G8C2ARO7P = UK, A1PA6795UKMFR9 = DE, ...).",
                                   min_items=1, items={"type": "string",
                                                       "pattern": r"^[A-Z0-9]{10,14}$"}),
    "seller_id": string("Merchant token (seller id) of the selling account.",
                        pattern=r"^[A-Z0-9]{10,16}$"),
    "sandbox": boolean("Use the SP-API sandbox hosts.", default=False),
    "base_url": base_url("https://sellingpartnerapi-{region}.amazon.com"),
    "token_url": http_url("Override of the Login with Amazon token endpoint.",
                          default="https://api.amazon.com/auth/o2/token"),
    "page_size": page_size(100, 100, "MaxResultsPerPage of order reads."),
    "start_date": start_date("Orders updated and financial events posted at or after this "
                             "instant are read on the first run; null: as far back as the API "
                             "allows."),
}, required=["marketplace_ids"], title="Amazon Selling Partner connection", examples=[{
    "region": "na", "marketplace_ids": ["ATVPDKIKX0DER"], "seller_id": "A2EXAMPLE12345",
}])

SECRETS_SCHEMA = obj({
    "lwa_client_id": secret("LWA client id of the SP-API application "
                            "(amzn1.application-oa2-client....).",
                            pattern=r"^amzn1\.application-oa2-client\."),
    "lwa_client_secret": secret("LWA client secret of the application."),
    "refresh_token": secret("Refresh token from the seller's authorization (Atzr|...)."),
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
    ResourceSpec(entity_key="orders", display_name="Orders", source_name="/orders/v0/orders",
                 description="Orders: AmazonOrderId, PurchaseDate, LastUpdateDate, OrderStatus, "
                             "FulfillmentChannel, OrderTotal, MarketplaceId, ship-to city and "
                             "country (buyer PII needs a restricted data token).",
                 cursor_field="LastUpdateDate", primary_key=["AmazonOrderId"],
                 load_mode="upsert", size_class="l", slicing=cursor_window("LastUpdateDate")),
    ResourceSpec(entity_key="order_items", display_name="Order items",
                 source_name="/orders/v0/orders/{orderId}/orderItems",
                 description="Items of each order changed in the run: ASIN, SellerSKU, "
                             "quantities, ItemPrice, ItemTax, PromotionDiscount.",
                 primary_key=["AmazonOrderId", "OrderItemId"], load_mode="upsert",
                 depends_on=["orders"], size_class="l"),
    ResourceSpec(entity_key="financial_event_groups", display_name="Financial event groups",
                 source_name="/finances/v0/financialEventGroups",
                 description="Settlement periods (payouts): status, fund transfer status, "
                             "original and converted totals.",
                 cursor_field="FinancialEventGroupStart", primary_key=["FinancialEventGroupId"],
                 load_mode="upsert", size_class="xs"),
    ResourceSpec(entity_key="financial_events", display_name="Financial events",
                 source_name="/finances/v0/financialEvents",
                 description="Posted financial events (shipments, refunds, service fees, "
                             "adjustments, ...), one row per event with its event_type.",
                 cursor_field="PostedDate", load_mode="append_event", size_class="xl",
                 slicing=cursor_window("PostedDate", "P1D")),
    ResourceSpec(entity_key="fba_inventory", display_name="FBA inventory",
                 source_name="/fba/inventory/v1/summaries",
                 description="Fulfillment-by-Amazon inventory per marketplace and SKU: "
                             "fulfillable, inbound, reserved and unfulfillable quantities.",
                 primary_key=["granularityId", "sellerSku"], load_mode="replace",
                 size_class="s"),
    ResourceSpec(entity_key="reports", display_name="Reports",
                 source_name="/reports/2021-06-30/reports",
                 description="Reports of the configured types: reportId, reportType, "
                             "processingStatus, data start/end time, reportDocumentId.",
                 cursor_field="createdTime", primary_key=["reportId"], load_mode="upsert",
                 size_class="xs", default_selected=False,
                 config_schema=obj({
                     "report_types": string_list("Report types listed.", min_items=1,
                                                 default=DEFAULT_REPORT_TYPES),
                 })),
    ResourceSpec(entity_key="report_documents", display_name="Report documents",
                 source_name="/reports/2021-06-30/documents/{reportDocumentId}",
                 description="The files of the reports read (decompressed), kept as they are.",
                 primary_key=["reportDocumentId"], load_mode="upsert",
                 depends_on=["reports"], size_class="l", storage_kind="object_storage",
                 storage_description="One blob per report document in object storage, keyed "
                                     "by reportDocumentId.",
                 default_selected=False),
]

SPEC = register(ProviderSpec(
    key="amazon_sp",
    display_name="Amazon Selling Partner",
    description="Orders, finances, FBA inventory and reports of an Amazon seller account.",
    config_schema=CONFIG_SCHEMA,
    secrets_schema=SECRETS_SCHEMA,
    defaults=defaults_from(CONFIG_SCHEMA),
    resources=RESOURCES,
))
