"""NetSuite SuiteQL over the REST web services.

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

from syncs.connectors.saas.base import SaasSource, start_date
from syncs.connectors.sources import register_source

STAMP = "YYYY-MM-DD HH24:MI:SS"


def _local(value) -> str | None:
    """A start date as the 'YYYY-MM-DD HH:MM:SS' text the queries compare."""
    if not value:
        return None
    return str(value).replace("T", " ")[:19]


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
                    start_date=_local(start_date(settings)))
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


@register_source("netsuite")
def netsuite_source(config: dict, secrets: dict) -> NetSuiteSource:
    return NetSuiteSource(config, secrets)
