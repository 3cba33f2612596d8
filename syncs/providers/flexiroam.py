"""Flexiroam: travel eSIM / data roaming reseller (partner) API.

Flexiroam's partner API is not publicly documented; the entities below use the most plausible
names for a reseller integration: the plan catalog, the eSIMs (identified by ICCID) issued to
the partner, the orders (purchases of plans) and per-SIM daily data usage. Authentication is an
API key, or a partner account's username/password exchanged for a token. Lists are assumed to
page with ``page``/``limit`` and to filter on ``updated_at``/``created_at`` ranges; the
connector must confirm field names against the partner's documentation.

Flexiroam partner (reseller) API.

Not publicly documented; this preset follows the catalog's assumptions and must be confirmed
against the partner documentation: ``https://api.flexiroam.com/v1/partners/{partner_id}/...``
with the partner API key in ``X-API-Key`` (or, without a key, ``POST /v1/auth/login`` with the
partner username/password returning a bearer ``token``); lists page with ``page``/``limit``
(``data`` records, ``meta.last_page``) and filter ``updated_from``; usage per eSIM with
``date_from``. The checkpoint is saved once a list is read in full.
"""

from __future__ import annotations

from syncs.connectors.http_api import AuthFailed
from syncs.providers import schemas as js
from syncs.providers._saas import SaasSource, first_run_start, registered
from syncs.providers.base import define_provider
from syncs.providers.resources import incremental, snapshot

DEFAULT_HOST = "https://api.flexiroam.com"

CONFIG_SCHEMA = js.obj({
    "partner_id": js.string("Partner (reseller) account id.", minLength=1),
    "base_url": js.base_url(DEFAULT_HOST),
    "page_size": js.page_size(100, 500),
    "start_date": js.start_date(),
}, required=["partner_id"], title="Flexiroam connection",
    examples=[{"partner_id": "PARTNER-1234"}])

SECRETS_SCHEMA = js.obj({
    "api_key": js.secret("Partner API key."),
    "username": js.secret("Partner account username (when no API key is issued)."),
    "password": js.secret("Partner account password."),
}, title="Flexiroam secrets",
    **{"if": {"required": ["api_key"]}, "else": {"required": ["username", "password"]}},
    examples=[{"api_key": "example-api-key"}])

RESOURCES = [
    snapshot("plans", "Data plans", None, "The catalog of data plans: coverage "
             "(countries/regions), data allowance, validity days and wholesale price.",
             primary_key=["plan_id"]),
    incremental("sims", "eSIMs", None, "eSIM profiles issued to the partner: ICCID, status, "
                "activation and expiry dates, current plan.", cursor="updated_at", window="P30D",
                primary_key=["iccid"]),
    incremental("orders", "Orders", None, "Purchases of plans (top-ups and new eSIMs) with "
                "amount, currency and status.", cursor="updated_at", window="P30D",
                primary_key=["order_id"]),
    incremental("usage", "Data usage", None, "Daily data usage of each eSIM (bytes, country, "
                "network), read for the eSIMs read.", cursor="usage_date", size="l",
                primary_key=["iccid", "usage_date"], depends_on=["sims"]),
]

SPEC = define_provider("flexiroam", "Flexiroam",
    "eSIMs, data plans, orders and data usage from the Flexiroam partner API.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES)


@registered
class FlexiroamSource(SaasSource):
    provider = "flexiroam"
    service = "Flexiroam"
    credential_noun = "the partner credentials"
    credential_hint = "check the partner API key (or username and password)"

    def engine_config(self, settings: dict) -> dict:
        since = first_run_start(settings)
        partner = "v1/partners/{partner_id}"
        updated = {"cursor_param": "updated_from", "cursor_format": "iso8601",
                   "start_date": since, "order": "unordered", "client_filter": True,
                   "record_selector": "data"}
        streams = [
            self.stream("plans", path=f"{partner}/plans", record_selector="data"),
            self.stream("sims", path=f"{partner}/sims", **updated),
            self.stream("orders", path=f"{partner}/orders", **updated),
            self.stream("usage", path=f"{partner}/sims/{{iccid}}/usage",
                        record_selector="data", cursor_param="date_from",
                        cursor_format="date", start_date=since, order="unordered",
                        parent={"stream": "sims", "own_cursor": True,
                                "vars": {"iccid": "iccid"}, "fields": {"iccid": "iccid"}}),
        ]
        if self.secrets.get("api_key"):
            auth = {"type": "api_key_header", "header": "X-API-Key", "secret": "api_key"}
        else:
            auth = {"type": "oauth2"}
        return {
            "base_url": settings.get("base_url") or "https://api.flexiroam.com",
            "auth": auth,
            "pagination": {"type": "page_number", "page_param": "page", "size_param": "limit",
                           "page_size": settings["page_size"]},
            "check": {"path": partner},
            "max_retries": 5,
            "streams": streams,
        }

    def fetch_token(self) -> tuple[str, float | None]:
        document = self.post_token(self.url("v1/auth/login"), {
            "username": self._secret("username"), "password": self._secret("password")},
            what="the partner username and password")
        token = document.get("token") or document.get("access_token") or \
            (document.get("data") or {}).get("token")
        if not token:
            raise AuthFailed("Flexiroam login answered without a token.")
        return str(token), document.get("expires_in")
