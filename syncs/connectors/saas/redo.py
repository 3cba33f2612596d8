"""Redo merchant API (``https://api.getredo.com/v2.2``).

Bearer API key; store resources under ``/stores/{store_id}/``. Lists page with headers, as
Redo's OpenAPI schema documents them: ``X-Page-Size`` (up to 500) on the request, the next
page marker in the response's ``X-Page-Next``, sent back as ``X-Page-Continue``. No
modified-since filter is documented, so returns and claims are listed in full and kept when
``updated_at`` is after the checkpoint, saved once the list is read. Return items, exchanges
and refunds come embedded in the returns read (``items``, ``exchange``, ``refunds``); these
names follow the catalog's assumptions and must be confirmed.
"""

from __future__ import annotations

from syncs.connectors.saas.base import SaasSource, start_date
from syncs.connectors.sources import register_source


class RedoSource(SaasSource):
    provider = "redo"
    service = "Redo"
    credential_noun = "the API key"
    credential_hint = "check the Redo API key and the store id"

    def engine_config(self, settings: dict) -> dict:
        store = "stores/{store_id}"
        listed = {"order": "unordered", "client_filter": True,
                  "start_date": start_date(settings)}

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


@register_source("redo")
def redo_source(config: dict, secrets: dict) -> RedoSource:
    return RedoSource(config, secrets)
