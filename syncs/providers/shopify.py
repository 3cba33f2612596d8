"""Shopify: the REST Admin API of one store.

Host ``https://{shop_domain}/admin/api/{api_version}``, header ``X-Shopify-Access-Token`` (an
Admin API access token of a custom app). Lists paginate with the ``Link`` header
(``page_info`` cursors, ``limit`` up to 250); incremental reads filter with
``updated_at_min``/``updated_at_max`` (``processed_at_min`` for tender transactions). Rate
limit: a leaky bucket of 40 requests, 2/s on standard plans (``X-Shopify-Shop-Api-Call-Limit``,
429 with ``Retry-After``). Refunds, transactions and fulfillments are nested under orders
(``/orders/{id}/refunds.json``); an order's ``updated_at`` moves when they change, so they
are read for the orders changed in the run. Variants come embedded in products.

Shopify REST Admin API: ``https://{shop_domain}/admin/api/{api_version}/<resource>.json``.

Header ``X-Shopify-Access-Token``; lists page with the ``Link`` header (``page_info`` cursors:
the next page's URL carries every parameter); incremental lists ask for ``updated_at_min``
(inclusive, so the record at the checkpoint is read again and merged) ordered by
``updated_at asc``; windows add ``updated_at_max``. Refunds, transactions and fulfillments are
read for the orders changed since the entity's checkpoint; variants come from the products
read; inventory items by id (100 per request) from the variants read.
"""

from __future__ import annotations

from syncs.providers import schemas as js
from syncs.providers._saas import SaasSource, first_run_start, registered
from syncs.providers.base import ResourceSpec, define_provider
from syncs.providers.resources import dependent, incremental, snapshot

CONFIG_SCHEMA = js.obj({
    "shop_domain": js.string("The store's myshopify.com domain.",
                             pattern=r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$",
                             examples=["mystore.myshopify.com"]),
    "api_version": js.string("Admin API version (quarterly releases YYYY-01/04/07/10).",
                             pattern=r"^(\d{4}-(01|04|07|10)|unstable)$", default="2024-10"),
    "base_url": js.base_url("https://{shop_domain}/admin/api/{api_version}"),
    "page_size": js.page_size(250, 250),
    "start_date": js.start_date(),
}, required=["shop_domain"], title="Shopify connection",
    examples=[{"shop_domain": "mystore.myshopify.com", "api_version": "2024-10"}])

SECRETS_SCHEMA = js.obj({
    "access_token": js.secret("Admin API access token of the store's custom app (shpat_...)."),
}, required=["access_token"], title="Shopify secrets",
    examples=[{"access_token": "shpat_0123456789abcdef"}])


def _updated(key: str, display: str, description: str, *, source_name: str | None = None,
             window: str = "P30D", **kw) -> ResourceSpec:
    return incremental(key, display, source_name, description, cursor="updated_at",
                       window=window, **kw)


def _order_child(key: str, display: str, path: str, description: str) -> ResourceSpec:
    return dependent(key, display, path, f"{description} Read for each order changed in the "
                     "run.", parent="orders", size="l")


RESOURCES = [
    snapshot("shop", "Shop", "/shop.json", "The store's settings: name, currency, timezone, plan."),
    snapshot("locations", "Locations", "/locations.json", "Warehouses, retail stores and apps "
             "that stock inventory."),
    _updated("customers", "Customers", "Customer accounts with their default address, tags and "
             "marketing consent.", source_name="/customers.json"),
    _updated("products", "Products", "Products with options, images and tags.",
             source_name="/products.json"),
    dependent("product_variants", "Product variants", "products[].variants", "Variants (SKU, "
              "price, inventory_item_id) from each product read.", parent="products"),
    dependent("inventory_items", "Inventory items", "/inventory_items.json", "Cost, SKU, country "
              "of origin and HS code of each variant's inventory item, read by id for the "
              "variants read.", parent="product_variants", default_selected=False),
    incremental("inventory_levels", "Inventory levels", "/inventory_levels.json",
                "Available quantity of each inventory item at each location.", cursor="updated_at",
                size="l", primary_key=["inventory_item_id", "location_id"],
                depends_on=["locations"]),
    _updated("orders", "Orders", "Orders of every status (open, closed, cancelled) with line "
             "items, shipping lines, discounts and tax lines.", size="l", window="P7D",
             source_name="/orders.json",
             config_schema=js.obj({
                 "status": js.enum(["any", "open", "closed", "cancelled"],
                                   "Order status filter.", default="any"),
             })),
    _order_child("refunds", "Refunds", "/orders/{order_id}/refunds.json",
                 "Refunds with refund line items, order adjustments and their transactions."),
    _order_child("transactions", "Transactions", "/orders/{order_id}/transactions.json",
                 "Payment transactions (authorization, capture, sale, refund, void)."),
    _order_child("fulfillments", "Fulfillments", "/orders/{order_id}/fulfillments.json",
                 "Fulfillments with tracking numbers, carrier and shipment status."),
    incremental("tender_transactions", "Tender transactions", "/tender_transactions.json",
                "Money movements by payment method, as processed.", cursor="processed_at",
                window="P7D", size="l", load_mode="append_event", default_selected=False),
    _updated("abandoned_checkouts", "Abandoned checkouts", "Checkouts not completed, with "
             "their line items and recovery URL.", source_name="/checkouts.json",
             default_selected=False),
    _updated("draft_orders", "Draft orders", "Draft orders created by staff or apps.",
             size="s", source_name="/draft_orders.json", default_selected=False),
    _updated("custom_collections", "Custom collections", "Manually curated collections.",
             size="xs", window="P365D", source_name="/custom_collections.json",
             default_selected=False),
    _updated("smart_collections", "Smart collections", "Rule-based collections and their "
             "rules.", size="xs", window="P365D", source_name="/smart_collections.json",
             default_selected=False),
    snapshot("collects", "Collects", "/collects.json", "Links between products and custom "
             "collections.", size="s", default_selected=False),
    _updated("price_rules", "Price rules", "Discount price rules (value, target, "
             "prerequisites, usage limits).", size="xs", window="P365D",
             source_name="/price_rules.json", default_selected=False),
    dependent("discount_codes", "Discount codes",
              "/price_rules/{price_rule_id}/discount_codes.json", "Codes of each price rule "
              "read, with usage counts.", parent="price_rules", size="s", default_selected=False),
]

SPEC = define_provider("shopify", "Shopify",
    "Orders, customers, products and inventory of a Shopify store (REST Admin API).",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES)


UPDATED = {  # resource -> (path, record key)
    "customers": ("customers.json", "customers"),
    "products": ("products.json", "products"),
    "orders": ("orders.json", "orders"),
    "abandoned_checkouts": ("checkouts.json", "checkouts"),
    "draft_orders": ("draft_orders.json", "draft_orders"),
    "custom_collections": ("custom_collections.json", "custom_collections"),
    "smart_collections": ("smart_collections.json", "smart_collections"),
    "price_rules": ("price_rules.json", "price_rules"),
}


@registered
class ShopifySource(SaasSource):
    provider = "shopify"
    service = "Shopify"
    credential_noun = "the access token"
    credential_hint = "check the Admin API access token of the store's custom app"

    def engine_config(self, settings: dict) -> dict:
        base = settings.get("base_url") or \
            f"https://{settings['shop_domain']}/admin/api/{settings['api_version']}"
        size = settings["page_size"]
        since = first_run_start(settings)

        def updated(key: str, path: str, selector: str, field: str = "updated_at",
                    **extra) -> dict:
            return self.stream(key, path=path, record_selector=selector,
                               params={"limit": size, "order": f"{field} asc",
                                       **extra.pop("params", {})},
                               cursor_param=f"{field}_min", cursor_end_param=f"{field}_max",
                               cursor_format="iso8601_offset", start_date=since, **extra)

        streams = [updated(key, path, selector) for key, (path, selector) in UPDATED.items()
                   if key != "orders"]
        streams += [
            updated("orders", "orders.json", "orders", params={"status": "{status}"},
                    defaults={"status": "any"}),
            self.stream("shop", path="shop.json", record_selector="shop"),
            self.stream("locations", path="locations.json", record_selector="locations"),
            self.stream("collects", path="collects.json", record_selector="collects",
                        params={"limit": size}),
            updated("tender_transactions", "tender_transactions.json", "tender_transactions",
                    field="processed_at"),
            self.stream("product_variants", record_selector="variants",
                        parent={"stream": "products", "embedded": "variants",
                                "fields": {"product_id": "id"}}),
            self.stream("inventory_items", path="inventory_items.json",
                        record_selector="inventory_items", params={"limit": 100},
                        parent={"stream": "product_variants",
                                "ids": {"param": "ids", "field": "inventory_item_id",
                                        "chunk": 100}}),
            self.stream("inventory_levels", path="inventory_levels.json",
                        record_selector="inventory_levels",
                        params={"limit": size}, cursor_param="updated_at_min",
                        cursor_format="iso8601_offset", start_date=since, order="unordered",
                        parent={"stream": "locations", "own_cursor": True,
                                "ids": {"param": "location_ids", "field": "id",
                                        "chunk": 50}}),
            self.stream("discount_codes", path="price_rules/{price_rule_id}/discount_codes.json",
                        record_selector="discount_codes", params={"limit": size},
                        parent={"stream": "price_rules", "vars": {"price_rule_id": "id"}}),
        ]
        for key, child in (("refunds", "refunds"), ("transactions", "transactions"),
                           ("fulfillments", "fulfillments")):
            streams.append(self.stream(
                key, path=f"orders/{{order_id}}/{child}.json", record_selector=child,
                parent={"stream": "orders", "vars": {"order_id": "id"},
                        "fields": {"order_id": "id"}}))
        return {
            "base_url": base,
            "auth": {"type": "api_key_header", "header": "X-Shopify-Access-Token",
                     "secret": "access_token"},
            "pagination": {"type": "link_header"},
            "check": {"path": "shop.json"},
            "max_retries": 6,
            "streams": streams,
        }
