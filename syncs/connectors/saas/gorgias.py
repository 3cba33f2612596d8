"""Gorgias REST API: ``https://{subdomain}.gorgias.com/api/<resource>``.

HTTP basic auth (the user's email and REST API key). Lists page with cursors (``limit`` up to
100, ``cursor`` = the previous page's ``meta.next_cursor``). There is no modified-since
filter: tickets and customers are listed ``order_by=updated_datetime:desc``, messages and
events ``created_datetime:desc``; a read walks newest first and stops at the first record at
or before the checkpoint, and the new checkpoint is saved once the walk is done (so an
interrupted run never skips older records). Other lists are read in full.
"""

from __future__ import annotations

from syncs.connectors.saas.base import SaasSource, start_date
from syncs.connectors.sources import register_source

NEWEST_FIRST = {"tickets": ("tickets", "updated_datetime"),
                "messages": ("messages", "created_datetime"),
                "customers": ("customers", "updated_datetime"),
                "events": ("events", "created_datetime")}
FULL = {"satisfaction_surveys": "satisfaction-surveys", "users": "users", "teams": "teams",
        "tags": "tags", "macros": "macros"}


class GorgiasSource(SaasSource):
    provider = "gorgias"
    service = "Gorgias"
    credential_noun = "the email and API key"
    credential_hint = "check the user's email and the REST API key (Settings > REST API)"

    def engine_config(self, settings: dict) -> dict:
        size = settings["page_size"]
        streams = [
            self.stream(key, path=path, record_selector="data", order="desc",
                        params={"limit": size, "order_by": f"{field}:desc"},
                        start_date=start_date(settings))
            for key, (path, field) in NEWEST_FIRST.items()
        ] + [
            self.stream(key, path=path, record_selector="data", params={"limit": size})
            for key, path in FULL.items()
        ]
        return {
            "base_url": settings.get("base_url") or
            f"https://{settings['subdomain']}.gorgias.com/api",
            "auth": {"type": "basic", "username_secret": "username",
                     "password_secret": "api_key"},
            "pagination": {"type": "cursor", "cursor_path": "meta.next_cursor",
                           "cursor_param": "cursor"},
            "check": {"path": "account"},
            "max_retries": 6,
            "streams": streams,
        }


@register_source("gorgias")
def gorgias_source(config: dict, secrets: dict) -> GorgiasSource:
    return GorgiasSource(config, secrets)
