"""Flexiroam partner (reseller) API.

Not publicly documented; this preset follows the catalog's assumptions and must be confirmed
against the partner documentation: ``https://api.flexiroam.com/v1/partners/{partner_id}/...``
with the partner API key in ``X-API-Key`` (or, without a key, ``POST /v1/auth/login`` with the
partner username/password returning a bearer ``token``); lists page with ``page``/``limit``
(``data`` records, ``meta.last_page``) and filter ``updated_from``; usage per eSIM with
``date_from``. The checkpoint is saved once a list is read in full.
"""

from __future__ import annotations

from syncs.connectors.http_api import AuthFailed
from syncs.connectors.saas.base import SaasSource, start_date
from syncs.connectors.sources import register_source


class FlexiroamSource(SaasSource):
    provider = "flexiroam"
    service = "Flexiroam"
    credential_noun = "the partner credentials"
    credential_hint = "check the partner API key (or username and password)"

    def engine_config(self, settings: dict) -> dict:
        since = start_date(settings)
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


@register_source("flexiroam")
def flexiroam_source(config: dict, secrets: dict) -> FlexiroamSource:
    return FlexiroamSource(config, secrets)
