"""Salesforce REST API: SOQL queries on sObjects.

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
from syncs.connectors.saas.base import SaasSource, start_date
from syncs.connectors.sources import Batch, register_source


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
        since = cursor if cursor is not None else start_date(self.settings)
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


@register_source("salesforce")
def salesforce_source(config: dict, secrets: dict) -> SalesforceSource:
    return SalesforceSource(config, secrets)
