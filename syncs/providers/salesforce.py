"""Salesforce: sObjects read with SOQL through the REST API (Bulk API 2.0 for large objects).

OAuth 2 against ``login_url`` (``https://login.salesforce.com``, ``https://test.salesforce.com``
for sandboxes, or the org's My Domain): the refresh-token flow of a connected app (client id,
client secret, refresh token) or the username-password flow (client id/secret, username,
password + security token). Queries go to ``{instance_url}/services/data/v{api_version}/query``
(``queryAll`` when deleted records are included; ``nextRecordsUrl`` pages) or to Bulk API 2.0
query jobs. Incremental reads filter ``WHERE SystemModstamp > :cursor ORDER BY
SystemModstamp``; every object listed here has ``Id`` and ``SystemModstamp``. The catalog lists
the standard CRM objects; any other queryable object (custom ``__c`` objects included) is
discovered with ``describeGlobal`` as a dynamic entity.

Salesforce REST API: SOQL queries on sObjects.

OAuth 2 at ``{login_url}/services/oauth2/token``: the refresh-token flow of a connected app, or
the username-password flow (password + security token). The access token is cached and
fetched again once when a request answers 401 (expired session). Each entity is read with
``GET {instance_url}/services/data/v{api_version}/query`` (``queryAll`` with deleted records)
``?q=SELECT <fields> FROM <sObject> WHERE SystemModstamp > <cursor> ORDER BY SystemModstamp``,
following ``nextRecordsUrl`` (relative to the instance) until ``done``; the fields are the
object's (``/sobjects/<sObject>/describe``, base64 fields left out) unless the entity config
lists them. Records lose their ``attributes`` envelope. Entities outside the catalog are read
as sObjects of that API name (``objects`` in the config, matched case-insensitively).
``use_bulk_api`` is accepted; reads use the REST query API.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from syncs.connectors.http_api import format_cursor
from syncs.connectors.sources import Batch
from syncs.providers import schemas as js
from syncs.providers._saas import SaasSource, first_run_start, registered
from syncs.providers.base import ResourceSpec, cursor_window, define_provider

CONFIG_SCHEMA = js.obj({
    "instance_url": js.http_url("The org's instance URL, e.g. https://acme.my.salesforce.com."),
    "api_version": js.string("REST API version.", pattern=r"^\d{2,3}\.0$", default="61.0"),
    "login_url": js.http_url("OAuth host: https://login.salesforce.com, "
                             "https://test.salesforce.com (sandbox) or the My Domain URL.",
                             default="https://login.salesforce.com"),
    "use_bulk_api": js.boolean("Read large objects with Bulk API 2.0 query jobs.", default=True),
    "include_deleted": js.boolean("Read deleted (recycle bin) records too (queryAll), flagged "
                                  "by IsDeleted.", default=True),
    "objects": js.string_list("Extra sObjects to offer (API names, e.g. Invoice__c); all "
                              "queryable objects are discoverable.",
                              items={"type": "string", "pattern": r"^[A-Za-z][A-Za-z0-9_]*$"}),
    "page_size": js.page_size(2000, 2000, "REST query batch size (Sforce-Query-Options, "
                                       "200-2000)."),
    "start_date": js.start_date(),
}, required=["instance_url"], title="Salesforce connection", examples=[{
    "instance_url": "https://acme.my.salesforce.com", "api_version": "61.0",
}])

SECRETS_SCHEMA = js.obj({
    "client_id": js.secret("Consumer key of the connected app."),
    "client_secret": js.secret("Consumer secret of the connected app."),
    "refresh_token": js.secret("Refresh token (refresh-token flow)."),
    "username": js.secret("Username (username-password flow)."),
    "password": js.secret("Password (username-password flow)."),
    "security_token": js.secret("Security token appended to the password (unless the server's "
                                "IP is trusted)."),
}, required=["client_id", "client_secret"], title="Salesforce secrets",
    **{"if": {"required": ["username"]}, "then": {"required": ["password"]},
       "else": {"required": ["refresh_token"]}},
    examples=[{"client_id": "3MVG9example", "client_secret": "example-secret",
               "refresh_token": "5Aep861example"}])

OBJECT_CONFIG = js.obj({
    "fields": js.string_list("Fields selected (default all fields of the object)."),
    "where": js.string("Extra SOQL condition, e.g. \"IsTest__c = false\"."),
})

OBJECTS = [
    # entity_key, sObject, display name, description, size, selected by default
    ("account", "Account", "Accounts",
     "Companies and organizations (customers, partners, competitors).", "m", True),
    ("contact", "Contact", "Contacts", "People associated with accounts.", "m", True),
    ("lead", "Lead", "Leads", "Prospects not yet qualified.", "m", True),
    ("opportunity", "Opportunity", "Opportunities",
     "Deals in progress: stage, amount, close date, owner.", "m", True),
    ("opportunity_line_item", "OpportunityLineItem", "Opportunity products",
     "Products on opportunities, with quantity and price.", "m", True),
    ("opportunity_contact_role", "OpportunityContactRole", "Opportunity contact roles",
     "The contacts involved in each opportunity and their role.", "s", False),
    ("opportunity_history", "OpportunityHistory", "Opportunity history",
     "Stage, amount and close date changes of opportunities.", "m", False),
    ("case", "Case", "Cases", "Customer support cases.", "m", True),
    ("case_comment", "CaseComment", "Case comments", "Comments on cases.", "m", False),
    ("task", "Task", "Tasks", "Activities: calls, emails, to-dos.", "l", True),
    ("event", "Event", "Events", "Calendar events and meetings.", "m", True),
    ("user", "User", "Users", "Users of the org.", "xs", True),
    ("campaign", "Campaign", "Campaigns", "Marketing campaigns.", "xs", True),
    ("campaign_member", "CampaignMember", "Campaign members",
     "Leads and contacts in campaigns, with their status.", "l", False),
    ("product2", "Product2", "Products", "Products.", "s", True),
    ("pricebook2", "Pricebook2", "Price books", "Price books.", "xs", False),
    ("pricebook_entry", "PricebookEntry", "Price book entries",
     "Product prices per price book and currency.", "s", False),
    ("order", "Order", "Orders", "Orders.", "m", False),
    ("order_item", "OrderItem", "Order products", "Products on orders.", "m", False),
    ("contract", "Contract", "Contracts", "Contracts with accounts.", "s", False),
    ("record_type", "RecordType", "Record types", "Record types of each object.", "xs", False),
]

RESOURCES = [
    ResourceSpec(entity_key=key, display_name=display, source_name=sobject,
                 description=f"{description} sObject {sobject}.",
                 cursor_field="SystemModstamp", primary_key=["Id"], load_mode="upsert",
                 size_class=size, default_selected=default,
                 slicing=cursor_window("SystemModstamp", "P30D"), config_schema=OBJECT_CONFIG)
    for key, sobject, display, description, size, default in OBJECTS
]

SPEC = define_provider("salesforce", "Salesforce",
    "Standard and custom objects of a Salesforce org, read with SOQL.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES, dynamic_resources=True)


@registered
class SalesforceSource(SaasSource):
    provider = "salesforce"
    service = "Salesforce"
    credential_noun = "the session"
    credential_hint = ("check the connected app's client id and secret and the refresh token "
                       "(or the username, password and security token)")

    def engine_config(self, settings: dict) -> dict:
        self.api = f"services/data/v{settings['api_version']}"
        self._fields: dict[str, list[str]] = {}
        login = settings["login_url"].rstrip("/")
        if self.secrets.get("username"):
            auth = {"grant_type": "password",
                    "fields": {"client_id": "client_id", "client_secret": "client_secret",
                               "username": "username"}}
        else:
            auth = {"grant_type": "refresh_token"}
        streams = [self.stream(r.entity_key, sobject=r.source_name)
                   for r in self.spec.resources]
        return {
            "base_url": settings["instance_url"],
            "auth": {"type": "oauth2", "token_url": f"{login}/services/oauth2/token", **auth},
            "pagination": {"type": "next_url", "next_url_path": "nextRecordsUrl"},
            "headers": {"Sforce-Query-Options": f"batchSize={settings['page_size']}"},
            "check": {"path": f"{self.api}/"},
            "max_retries": 5,
            "streams": streams,
        }

    def token_request(self) -> dict:
        form = super().token_request()
        if form.get("grant_type") == "password":
            form["password"] = self._secret("password") + self._secret("security_token")
        return form

    def stream_for(self, entity: str) -> dict:
        if entity in self.streams:
            return super().stream_for(entity)
        wanted = entity.replace("_", "").lower()
        sobject = next((o for o in self.settings.get("objects") or []
                        if o.lower() == entity.lower() or o.replace("_", "").lower() == wanted),
                       entity)
        return self.stream(entity, sobject=sobject, primary_key=["Id"],
                           cursor_field="SystemModstamp")

    def fields(self, sobject: str) -> list[str]:
        if sobject not in self._fields:
            document = self.get(self.url(f"{self.api}/sobjects/{sobject}/describe/")).json()
            self._fields[sobject] = [f["name"] for f in document.get("fields", [])
                                     if f.get("type") != "base64"]
        return self._fields[sobject]

    def soql(self, sobject: str, cursor: Any, window: tuple | None, config: dict) -> str:
        fields = config.get("fields") or self.fields(sobject)
        if "Id" not in fields:
            fields = ["Id", *fields]
        if "SystemModstamp" not in fields:
            fields = [*fields, "SystemModstamp"]
        conditions = []
        since = cursor if cursor is not None else first_run_start(self.settings)
        if window is not None:
            conditions.append(f"SystemModstamp >= {format_cursor(window[0], 'iso8601_ms')}")
            conditions.append(f"SystemModstamp < {format_cursor(window[1], 'iso8601_ms')}")
        elif since is not None:
            operator = ">" if cursor is not None else ">="
            conditions.append(f"SystemModstamp {operator} {format_cursor(since, 'iso8601_ms')}")
        if config.get("where"):
            conditions.append(f"({config['where']})")
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        return f"SELECT {', '.join(fields)} FROM {sobject}{where} ORDER BY SystemModstamp ASC"

    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        stream = self.stream_for(entity)
        endpoint = "queryAll" if self.settings.get("include_deleted") else "query"

        def query() -> Iterator[Batch]:
            soql = self.soql(stream["sobject"], cursor, window, entity_config or {})
            yield from self.read_stream(
                {**stream, "path": f"{self.api}/{endpoint}/", "params": {"q": soql},
                 "record_selector": "records", "drop": ["attributes"]},
                cursor=cursor, window=window)

        yield from self.guarded(query())
