"""Redo: returns, exchanges and package-protection claims for Shopify stores (getredo.com).

Redo's merchant REST API (``https://api.getredo.com/v2.2``, bearer API key, resources scoped to
a store: ``/stores/{storeId}/returns``) is documented for merchants; the entities below are the
most plausible names: returns (every return, with type return/exchange/claim), their items,
the exchange orders created for exchanges, package-protection claims, and the refunds issued
for returns and claims. Lists are assumed to page with a cursor and to filter on
``updated_at``; the connector must confirm field names against Redo's API documentation.

Redo merchant API (``https://api.getredo.com/v2.2``).

Bearer API key; store resources under ``/stores/{store_id}/``. Lists page with headers, as
Redo's OpenAPI schema documents them: ``X-Page-Size`` (up to 500) on the request, the next
page marker in the response's ``X-Page-Next``, sent back as ``X-Page-Continue``. No
modified-since filter is documented, so returns and claims are listed in full and kept when
``updated_at`` is after the checkpoint, saved once the list is read. Return items, exchanges
and refunds come embedded in the returns read (``items``, ``exchange``, ``refunds``); these
names follow the catalog's assumptions and must be confirmed.
"""

from __future__ import annotations

from syncs.providers import schemas as js
from syncs.providers._saas import SaasSource, first_run_start, registered
from syncs.providers.base import define_provider
from syncs.providers.resources import dependent, incremental

CONFIG_SCHEMA = js.obj({
    "store_id": js.string("Redo store id.", minLength=1),
    "base_url": js.base_url("https://api.getredo.com/v2.2"),
    "page_size": js.page_size(100, 500),
    "start_date": js.start_date(),
}, required=["store_id"], title="Redo connection",
    examples=[{"store_id": "64f0c0ffee0123456789abcd"}])

SECRETS_SCHEMA = js.obj({
    "api_key": js.secret("Redo API key (bearer)."),
}, required=["api_key"], title="Redo secrets", examples=[{"api_key": "example-api-key"}])

RESOURCES = [
    incremental("returns", "Returns", "/stores/{storeId}/returns", "Returns, exchanges and "
                "claims: type, status, Shopify order, customer, shipping label and tracking, "
                "totals, created/updated.", cursor="updated_at", window="P30D"),
    dependent("return_items", "Return items", None, "Items of the returns changed in the run: "
              "line item, product, variant, quantity, reason, resolution (refund, store credit, "
              "exchange).", parent="returns", primary_key=["return_id", "id"]),
    dependent("exchanges", "Exchanges", None, "Exchange orders created for the returns changed "
              "in the run: new Shopify order, items, price difference.", parent="returns",
              size="s"),
    incremental("claims", "Claims", "/stores/{storeId}/claims", "Package-protection claims "
                "(lost, damaged, stolen shipments): order, status, resolution.",
                cursor="updated_at", window="P30D", size="s"),
    dependent("refunds", "Refunds", None, "Refunds and store credit issued for the returns "
              "changed in the run: amount, currency, method, processed_at.", parent="returns",
              size="s"),
]

SPEC = define_provider("redo", "Redo",
    "Returns, exchanges, claims and refunds of a store on Redo.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES)


@registered
class RedoSource(SaasSource):
    provider = "redo"
    service = "Redo"
    credential_noun = "the API key"
    credential_hint = "check the Redo API key and the store id"

    def engine_config(self, settings: dict) -> dict:
        store = "stores/{store_id}"
        listed = {"order": "unordered", "client_filter": True,
                  "start_date": first_run_start(settings)}

        def embedded(key: str, field: str) -> dict:
            return self.stream(key, record_selector=field, parent={
                "stream": "returns", "embedded": field, "fields": {"return_id": "id"}})

        streams = [
            self.stream("returns", path=f"{store}/returns", record_selector="returns", **listed),
            self.stream("claims", path=f"{store}/claims", record_selector="claims", **listed),
            embedded("return_items", "items"),
            embedded("exchanges", "exchange"),
            embedded("refunds", "refunds"),
        ]
        return {
            "base_url": settings.get("base_url") or "https://api.getredo.com/v2.2",
            "headers": {"X-Page-Size": str(settings["page_size"])},
            "auth": {"type": "bearer", "secret": "api_key"},
            "pagination": {"type": "header_cursor", "response_header": "X-Page-Next",
                           "request_header": "X-Page-Continue"},
            "check": {"path": f"{store}/returns", "headers": {"X-Page-Size": "1"}},
            "max_retries": 5,
            "streams": streams,
        }
