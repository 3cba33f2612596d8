"""Starlink: the Starlink Enterprise (business/reseller) API.

OAuth 2 client credentials (a service account's client id and secret) against Starlink's
token endpoint; resources are scoped to an account number (``ACC-...``) under
``/enterprise/v1/account/{accountNumber}/``: addresses, service lines, user terminals (dishes),
subscriptions (products), and data usage per service line and billing cycle. The Enterprise
API's documentation is only available to customers; entity and field names (camelCase, as the
API returns them) are the most plausible ones and must be confirmed by the connector. The
lists have no modified-since filter, so everything but data usage is re-read in full.
"""

from syncs.providers.base import ProviderSpec, ResourceSpec, register
from syncs.providers.schemas import (
    base_url,
    defaults_from,
    http_url,
    integer,
    obj,
    page_size,
    secret,
    string,
)

CONFIG_SCHEMA = obj({
    "account_number": string("Starlink account number.", pattern=r"^ACC-[A-Z0-9-]+$",
                             examples=["ACC-1234567-12345-12"]),
    "base_url": base_url("https://web-api.starlink.com/enterprise"),
    "token_url": http_url("Override of the OAuth token endpoint.",
                          default="https://api.starlink.com/auth/connect/token"),
    "page_size": page_size(100, 100),
    "billing_cycles_back": integer("Billing cycles of data usage re-read on each run (usage "
                                   "of the current cycle keeps changing).", minimum=1,
                                   maximum=12, default=2),
}, required=["account_number"], title="Starlink connection",
    examples=[{"account_number": "ACC-1234567-12345-12"}])

SECRETS_SCHEMA = obj({
    "client_id": secret("Service account client id."),
    "client_secret": secret("Service account client secret."),
}, required=["client_id", "client_secret"], title="Starlink secrets",
    examples=[{"client_id": "example-client", "client_secret": "example-secret"}])

RESOURCES = [
    ResourceSpec(entity_key="addresses", display_name="Addresses",
                 source_name="/account/{accountNumber}/addresses",
                 description="Service addresses registered on the account.",
                 primary_key=["addressReferenceId"], load_mode="replace", size_class="xs"),
    ResourceSpec(entity_key="service_lines", display_name="Service lines",
                 source_name="/account/{accountNumber}/service-lines",
                 description="Service lines (a subscription at an address): number, nickname, "
                             "product, active flag, start and end dates.",
                 primary_key=["serviceLineNumber"], load_mode="replace", size_class="s"),
    ResourceSpec(entity_key="user_terminals", display_name="User terminals",
                 source_name="/account/{accountNumber}/user-terminals",
                 description="Starlink kits (dish serial number, kit serial, terminal id) and "
                             "the service line each is attached to.",
                 primary_key=["userTerminalId"], load_mode="replace", size_class="s"),
    ResourceSpec(entity_key="subscriptions", display_name="Subscriptions",
                 source_name="/account/{accountNumber}/subscriptions",
                 description="Subscription products (plans and data blocks) on the account's "
                             "service lines.",
                 primary_key=["subscriptionReferenceId"], load_mode="replace",
                 size_class="xs"),
    ResourceSpec(entity_key="data_usage", display_name="Data usage",
                 source_name="/account/{accountNumber}/billing-cycles/query",
                 description="Daily priority and standard data usage (GB) of each service line "
                             "over the last billing_cycles_back billing cycles.",
                 cursor_field="date", primary_key=["serviceLineNumber", "date"],
                 load_mode="upsert", depends_on=["service_lines"], size_class="m"),
]

SPEC = register(ProviderSpec(
    key="starlink",
    display_name="Starlink",
    description="Service lines, terminals, subscriptions and data usage of a Starlink "
                "Enterprise account.",
    config_schema=CONFIG_SCHEMA,
    secrets_schema=SECRETS_SCHEMA,
    defaults=defaults_from(CONFIG_SCHEMA),
    resources=RESOURCES,
))
