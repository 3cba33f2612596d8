"""Flexiroam: travel eSIM / data roaming reseller (partner) API.

Flexiroam's partner API is not publicly documented; the entities below use the most plausible
names for a reseller integration: the plan catalog, the eSIMs (identified by ICCID) issued to
the partner, the orders (purchases of plans) and per-SIM daily data usage. Authentication is an
API key, or a partner account's username/password exchanged for a token. Lists are assumed to
page with ``page``/``limit`` and to filter on ``updated_at``/``created_at`` ranges; the
connector must confirm field names against the partner's documentation.
"""

from syncs.providers.base import ProviderSpec, ResourceSpec, cursor_window, register
from syncs.providers.schemas import (
    base_url,
    defaults_from,
    obj,
    page_size,
    secret,
    start_date,
    string,
)

DEFAULT_HOST = "https://api.flexiroam.com"

CONFIG_SCHEMA = obj({
    "partner_id": string("Partner (reseller) account id.", minLength=1),
    "base_url": base_url(DEFAULT_HOST),
    "page_size": page_size(100, 500),
    "start_date": start_date(),
}, required=["partner_id"], title="Flexiroam connection",
    examples=[{"partner_id": "PARTNER-1234"}])

SECRETS_SCHEMA = obj({
    "api_key": secret("Partner API key."),
    "username": secret("Partner account username (when no API key is issued)."),
    "password": secret("Partner account password."),
}, title="Flexiroam secrets",
    **{"if": {"required": ["api_key"]}, "else": {"required": ["username", "password"]}},
    examples=[{"api_key": "example-api-key"}])

RESOURCES = [
    ResourceSpec(entity_key="plans", display_name="Data plans",
                 description="The catalog of data plans: coverage (countries/regions), data "
                             "allowance, validity days and wholesale price.",
                 primary_key=["plan_id"], load_mode="replace", size_class="xs"),
    ResourceSpec(entity_key="sims", display_name="eSIMs",
                 description="eSIM profiles issued to the partner: ICCID, status, activation "
                             "and expiry dates, current plan.",
                 cursor_field="updated_at", primary_key=["iccid"], load_mode="upsert",
                 size_class="m", slicing=cursor_window("updated_at", "P30D")),
    ResourceSpec(entity_key="orders", display_name="Orders",
                 description="Purchases of plans (top-ups and new eSIMs) with amount, currency "
                             "and status.",
                 cursor_field="updated_at", primary_key=["order_id"], load_mode="upsert",
                 size_class="m", slicing=cursor_window("updated_at", "P30D")),
    ResourceSpec(entity_key="usage", display_name="Data usage",
                 description="Daily data usage of each eSIM (bytes, country, network), read "
                             "for the eSIMs read.",
                 cursor_field="usage_date", primary_key=["iccid", "usage_date"],
                 load_mode="upsert", depends_on=["sims"], size_class="l"),
]

SPEC = register(ProviderSpec(
    key="flexiroam",
    display_name="Flexiroam",
    description="eSIMs, data plans, orders and data usage from the Flexiroam partner API.",
    config_schema=CONFIG_SCHEMA,
    secrets_schema=SECRETS_SCHEMA,
    defaults=defaults_from(CONFIG_SCHEMA),
    resources=RESOURCES,
))
