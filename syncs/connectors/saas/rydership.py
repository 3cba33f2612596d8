"""RyderShip (formerly Whiplash) REST API v2 (``https://www.rydership.com/api/v2``).

A bearer API token, or a token from OAuth 2 client credentials at ``token_url``; the merchant
is selected with ``X-Customer-ID``. Lists answer JSON arrays, paged with ``page``/``per_page``
and filtered with a Ransack ``search`` parameter (``{"updated_at_gt": ...}``); the checkpoint
is saved once a list is read in full. Order items, shipments, inventory and ship-notice items
are read per parent. Entity and field names follow the Whiplash v2 lineage as best known and
must be confirmed against the account's documentation.
"""

from __future__ import annotations

from syncs.connectors.saas.base import InvalidConfig, SaasSource, start_date
from syncs.connectors.sources import register_source


class RyderShipSource(SaasSource):
    provider = "rydership"
    service = "RyderShip"
    credential_noun = "the API token"
    credential_hint = "check the API token (or the OAuth client id and secret)"

    def engine_config(self, settings: dict) -> dict:
        updated = {"cursor_params": {"search": '{"updated_at_gt": "{cursor}"}'},
                   "window_params": {"search": '{"updated_at_gteq": "{start}", '
                                               '"updated_at_lt": "{end}"}'},
                   "cursor_format": "iso8601", "start_date": start_date(settings),
                   "order": "unordered", "client_filter": True}

        def child(key: str, path: str, parent: str, field: str, full: bool = False) -> dict:
            return self.stream(key, path=path, parent={
                "stream": parent, "vars": {"parent_id": "id"}, "fields": {field: "id"},
                "full": full})

        streams = [
            self.stream("warehouses", path="warehouses"),
            self.stream("items", path="items", **updated),
            self.stream("orders", path="orders", **updated),
            self.stream("ship_notices", path="shipnotices", **updated),
            self.stream("consumer_returns", path="consumer_returns", **updated),
            child("inventory", "items/{parent_id}/warehouse_quantities", "items", "item_id",
                  full=True),
            child("order_items", "orders/{parent_id}/order_items", "orders", "order_id"),
            child("shipments", "orders/{parent_id}/shipments", "orders", "order_id"),
            child("ship_notice_items", "shipnotices/{parent_id}/shipnotice_items",
                  "ship_notices", "shipnotice_id"),
        ]
        if self.secrets.get("api_token"):
            auth = {"type": "bearer", "secret": "api_token"}
        elif settings.get("token_url"):
            auth = {"type": "oauth2", "grant_type": "client_credentials",
                    "token_url": settings["token_url"]}
        else:
            raise InvalidConfig("The RyderShip connection config is invalid: /token_url is "
                                "required with OAuth client credentials (no api_token).")
        return {
            "base_url": settings.get("base_url") or "https://www.rydership.com/api/v2",
            "headers": {"X-Customer-ID": str(settings["customer_id"])},
            "auth": auth,
            "pagination": {"type": "page_number", "page_param": "page",
                           "size_param": "per_page", "page_size": settings["page_size"]},
            "check": {"path": "warehouses", "params": {"per_page": 1}},
            "max_retries": 5,
            "streams": streams,
        }


@register_source("rydership")
def rydership_source(config: dict, secrets: dict) -> RyderShipSource:
    return RyderShipSource(config, secrets)
