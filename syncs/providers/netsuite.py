"""Oracle NetSuite: records read with SuiteQL over the REST web services.

``POST https://{account}.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql`` with
``Prefer: transient`` and ``{"q": "SELECT ... FROM transaction WHERE lastmodifieddate > ..."}``;
pages with ``limit`` (max 1000) and ``offset`` (one query returns at most 100,000 rows, so
large tables are read in cursor windows). Authentication is Token-Based Authentication: OAuth
1.0a signed with HMAC-SHA256 from an integration's consumer key/secret and a user's token
id/secret, ``realm`` = the account id (``1234567_SB1`` for a sandbox, ``1234567-sb1`` in the
host). Record and column names are SuiteQL's (lowercase): ``id``, ``lastmodifieddate``.

NetSuite SuiteQL over the REST web services.

``POST https://{account}.suitetalk.api.netsuite.com/services/rest/query/v1/suiteql?limit=
&offset=`` with ``Prefer: transient`` and ``{"q": "SELECT ..."}``, signed with OAuth 1.0a
(Token-Based Authentication, HMAC-SHA256, ``realm`` = the account id). Pages: ``items``,
``hasMore``, ``offset``. Incremental records are read ``WHERE lastmodifieddate >
TO_TIMESTAMP(<cursor>)`` ordered by it; the cursor is ``lastmodifieddate`` rendered by
``TO_CHAR`` as ``YYYY-MM-DD HH24:MI:SS`` in the account's time zone (it replaces the
record's display-formatted ``lastmodifieddate``), so the comparison stays in that zone.
Transaction lines are read for the transactions changed (``transaction IN``).
"""

from __future__ import annotations

from syncs.providers import schemas as js
from syncs.providers._saas import SaasSource, first_run_start, registered
from syncs.providers.base import ResourceSpec, define_provider
from syncs.providers.resources import dependent, incremental, snapshot

CONFIG_SCHEMA = js.obj({
    "account_id": js.string("Account id (Setup > Company > Company Information), e.g. 1234567 "
                            "or 1234567_SB1 for a sandbox.",
                            pattern=r"^[0-9A-Za-z]+(_[A-Za-z0-9]+)?$"),
    "base_url": js.base_url("https://{account}.suitetalk.api.netsuite.com"),
    "page_size": js.page_size(1000, 1000, "SuiteQL rows per page (limit)."),
    "start_date": js.start_date(),
}, required=["account_id"], title="NetSuite connection", examples=[{"account_id": "1234567"}])

SECRETS_SCHEMA = js.obj({
    "consumer_key": js.secret("Consumer key of the integration record."),
    "consumer_secret": js.secret("Consumer secret of the integration record."),
    "token_id": js.secret("Token id of the access token (user + role)."),
    "token_secret": js.secret("Token secret of the access token."),
}, required=["consumer_key", "consumer_secret", "token_id", "token_secret"],
    title="NetSuite secrets", examples=[{"consumer_key": "ck", "consumer_secret": "cs",
                                         "token_id": "ti", "token_secret": "ts"}])

RECORD_CONFIG = js.obj({
    "where": js.string("Extra SuiteQL condition, e.g. \"isinactive = 'F'\"."),
})


def _modified(key: str, display: str, record: str, description: str, size: str = "m",
              window: str = "P30D", default: bool = True) -> ResourceSpec:
    return incremental(key, display, record, description, cursor="lastmodifieddate",
                       window=window, size=size, default_selected=default,
                       config_schema=RECORD_CONFIG)


def _reference(key: str, display: str, record: str, description: str) -> ResourceSpec:
    return snapshot(key, display, record, description, config_schema=RECORD_CONFIG)


RESOURCES = [
    _modified("transaction", "Transactions", "transaction",
              "Every transaction (sales orders, invoices, payments, bills, journal entries, "
              "...): type, tranid, trandate, entity, status, totals, currency.",
              size="xl", window="P7D"),
    dependent("transaction_line", "Transaction lines", "transactionline", "Lines of the "
              "transactions changed in the run: item, quantity, rate, amount, account, "
              "department, class, location.", parent="transaction", size="xl",
              primary_key=["transaction", "id"], config_schema=RECORD_CONFIG),
    _modified("customer", "Customers", "customer", "Customers: entityid, company name, "
              "email, subsidiary, terms, balance."),
    _modified("vendor", "Vendors", "vendor", "Vendors (suppliers).", size="s"),
    _modified("employee", "Employees", "employee", "Employees.", size="s"),
    _modified("contact", "Contacts", "contact", "Contacts of customers and vendors.",
              default=False),
    _modified("item", "Items", "item", "Items of every type (inventory, non-inventory, "
              "service, kit, assembly): itemid, displayname, type, prices, accounts."),
    _modified("account", "Accounts", "account", "The chart of accounts.", size="xs",
              window="P365D"),
    _reference("subsidiary", "Subsidiaries", "subsidiary", "Subsidiaries (OneWorld)."),
    _reference("department", "Departments", "department", "Departments."),
    _reference("classification", "Classes", "classification", "Classes."),
    _reference("location", "Locations", "location", "Locations."),
    _reference("currency", "Currencies", "currency", "Currencies and their symbols."),
    _reference("accounting_period", "Accounting periods", "accountingperiod",
               "Accounting periods, quarters and years, with their closed flags."),
]

SPEC = define_provider("netsuite", "NetSuite",
    "Transactions, entities, items and reference records of a NetSuite account (SuiteQL).",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES)


STAMP = "YYYY-MM-DD HH24:MI:SS"


def _local(value) -> str | None:
    """A start date as the 'YYYY-MM-DD HH:MM:SS' text the queries compare."""
    if not value:
        return None
    return str(value).replace("T", " ")[:19]


@registered
class NetSuiteSource(SaasSource):
    provider = "netsuite"
    service = "NetSuite"
    credential_noun = "the token-based authentication credentials"
    credential_hint = ("check the integration's consumer key/secret, the access token id/secret "
                       "and the account id")

    def engine_config(self, settings: dict) -> dict:
        account = settings["account_id"]
        host = account.lower().replace("_", "-")
        streams = []
        for resource in self.spec.resources:
            record = resource.source_name
            if resource.entity_key == "transaction_line":
                continue
            if resource.cursor_field:
                select = (f"SELECT r.*, TO_CHAR(r.lastmodifieddate, '{STAMP}') AS "
                          f"lastmodified_at FROM {record} r")
                stream = self.stream(
                    resource.entity_key, incremental=True,
                    query=f"{select}{{extra_where}} ORDER BY r.lastmodifieddate, r.id",
                    add={"lastmodifieddate": "{lastmodified_at}"}, drop=["links",
                                                                         "lastmodified_at"],
                    start_date=_local(first_run_start(settings)))
            else:
                stream = self.stream(resource.entity_key,
                                     query=f"SELECT * FROM {record} r{{extra_where}} ORDER BY r.id")
            streams.append(stream)
        streams.append(self.stream(
            "transaction_line", json={"q": "SELECT * FROM transactionline WHERE transaction IN "
                                           "({ids}) ORDER BY transaction, id"},
            parent={"stream": "transaction", "ids": {"field": "id", "chunk": 500}}))
        for stream in streams:
            stream.setdefault("json", {"q": "{query}"})
            stream.setdefault("drop", ["links"])
            stream.update(path="services/rest/query/v1/suiteql", method="POST",
                          record_selector="items")
        return {
            "base_url": settings.get("base_url") or
            f"https://{host}.suitetalk.api.netsuite.com",
            "headers": {"Prefer": "transient"},
            "auth": {"type": "oauth1", "realm": account.upper(),
                     "consumer_key_secret": "consumer_key",
                     "consumer_secret_secret": "consumer_secret",
                     "token_id_secret": "token_id", "token_secret_secret": "token_secret"},
            "pagination": {"type": "offset", "offset_param": "offset", "limit_param": "limit",
                           "page_size": settings["page_size"], "has_more_path": "hasMore"},
            "check": {"path": "services/rest/query/v1/suiteql", "method": "POST",
                      "params": {"limit": 1},
                      "json": {"q": "SELECT id FROM subsidiary"}},
            "max_retries": 5,
            "streams": streams,
        }

    def read_stream(self, stream, *, cursor=None, window=None, entity_config=None, values=None):
        conditions = []
        if stream.get("incremental"):
            since = _local(cursor) if cursor is not None else stream.get("start_date")
            if window is not None:
                conditions.append(f"r.lastmodifieddate >= TO_TIMESTAMP('{_local(window[0])}', "
                                  f"'{STAMP}')")
                conditions.append(f"r.lastmodifieddate < TO_TIMESTAMP('{_local(window[1])}', "
                                  f"'{STAMP}')")
            elif since:
                operator = ">" if cursor is not None else ">="
                conditions.append(f"r.lastmodifieddate {operator} TO_TIMESTAMP('{since}', "
                                  f"'{STAMP}')")
        if (entity_config or {}).get("where"):
            conditions.append(f"({entity_config['where']})")
        extra = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        query = (stream.get("query") or "").replace("{extra_where}", extra)
        return super().read_stream(stream, cursor=cursor, window=window,
                                   entity_config=entity_config,
                                   values={**(values or {}), "query": query})
