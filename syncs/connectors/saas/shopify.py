"""Shopify REST Admin API: ``https://{shop_domain}/admin/api/{api_version}/<resource>.json``.

Header ``X-Shopify-Access-Token``; lists page with the ``Link`` header (``page_info`` cursors:
the next page's URL carries every parameter); incremental lists ask for ``updated_at_min``
(inclusive, so the record at the checkpoint is read again and merged) ordered by
``updated_at asc``; windows add ``updated_at_max``. Refunds, transactions and fulfillments are
read for the orders changed since the entity's checkpoint; variants come from the products
read; inventory items by id (100 per request) from the variants read.
"""

from __future__ import annotations

from syncs.connectors.saas.base import SaasSource, start_date
from syncs.connectors.sources import register_source

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


class ShopifySource(SaasSource):
    provider = "shopify"
    service = "Shopify"
    credential_noun = "the access token"
    credential_hint = "check the Admin API access token of the store's custom app"

    def engine_config(self, settings: dict) -> dict:
        base = settings.get("base_url") or \
            f"https://{settings['shop_domain']}/admin/api/{settings['api_version']}"
        size = settings["page_size"]
        since = start_date(settings)

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


@register_source("shopify")
def shopify_source(config: dict, secrets: dict) -> ShopifySource:
    return ShopifySource(config, secrets)
