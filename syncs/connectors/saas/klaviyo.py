"""Klaviyo JSON:API (``https://a.klaviyo.com/api/...``).

Headers ``Authorization: Klaviyo-API-Key {private_api_key}``, ``revision`` and ``Accept:
application/vnd.api+json``. Pages follow ``links.next`` (cursor URLs); records are JSON:API
resources whose ``attributes`` are flattened into the row (``id``, ``type`` and
``relationships`` kept). Incremental reads filter ``greater-than(updated,<cursor>)``
(``datetime`` for events, ``updated_at`` for campaigns, which are read one channel at a time
since the API requires a ``messages.channel`` filter); profiles and events are sorted on their
cursor so each batch checkpoints, the other lists are checkpointed once read in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from syncs.connectors.http_api import later
from syncs.connectors.saas.base import SaasSource, start_date
from syncs.connectors.sources import Batch, register_source


class KlaviyoSource(SaasSource):
    provider = "klaviyo"
    service = "Klaviyo"
    credential_noun = "the private API key"
    credential_hint = "check the private API key (pk_...) and its read scopes"

    def engine_config(self, settings: dict) -> dict:
        size = settings["page_size"]
        since = start_date(settings)
        jsonapi = {"record_selector": "data", "flatten": "attributes", "drop": ["links"],
                   "cursor_format": "iso8601", "start_date": since}

        def filtered(key: str, path: str, field: str = "updated", *, sort: bool = False,
                     params: dict | None = None, **extra) -> dict:
            params = dict(params or {})
            if sort:
                params["sort"] = field
            return self.stream(
                key, path=path, params=params, order="asc" if sort else "unordered",
                cursor_params={"filter": f"greater-than({field},{{cursor}})"},
                window_params={"filter": f"and(greater-or-equal({field},{{start}}),"
                                         f"less-than({field},{{end}}))"},
                **jsonapi, **extra)

        def child(key: str, path: str, parent: str, field: str, full: bool = False,
                  **extra) -> dict:
            return self.stream(key, path=path, **jsonapi, **extra,
                               parent={"stream": parent, "vars": {"parent_id": "id"},
                                       "fields": {field: "id"}, "full": full})

        member = {"add": {"profile_id": "{id}"}}
        streams = [
            filtered("profiles", "api/profiles/", sort=True,
                     params={"page[size]": size,
                             "additional-fields[profile]": "subscriptions"}),
            self.stream("metrics", path="api/metrics/", **jsonapi),
            filtered("events", "api/events/", "datetime", sort=True,
                     params={"page[size]": "{page_size}"}, defaults={"page_size": 200}),
            filtered("lists", "api/lists/"),
            filtered("segments", "api/segments/"),
            filtered("flows", "api/flows/"),
            filtered("templates", "api/templates/"),
            filtered("campaigns", "api/campaigns/", "updated_at"),
            self.stream("tags", path="api/tags/", **jsonapi),
            child("list_profiles", "api/lists/{parent_id}/profiles/", "lists", "list_id",
                  full=True, keep=["list_id", "profile_id", "joined_group_at"], **member),
            child("segment_profiles", "api/segments/{parent_id}/profiles/", "segments",
                  "segment_id", full=True,
                  keep=["segment_id", "profile_id", "joined_group_at"], **member),
            child("campaign_messages", "api/campaigns/{parent_id}/campaign-messages/",
                  "campaigns", "campaign_id"),
            child("flow_actions", "api/flows/{parent_id}/flow-actions/", "flows", "flow_id"),
            child("flow_messages", "api/flow-actions/{parent_id}/flow-messages/",
                  "flow_actions", "flow_action_id"),
        ]
        return {
            "base_url": settings.get("base_url") or "https://a.klaviyo.com",
            "headers": {"revision": settings["revision"],
                        "Accept": "application/vnd.api+json"},
            "auth": {"type": "api_key_header", "header": "Authorization",
                     "prefix": "Klaviyo-API-Key ", "secret": "private_api_key"},
            "pagination": {"type": "next_url", "next_url_path": "links.next"},
            "check": {"path": "api/accounts/"},
            "max_retries": 6,
            "streams": streams,
        }

    def read(self, entity: str, *, cursor: Any = None, window: tuple | None = None,
             entity_config: dict | None = None) -> Iterator[Batch]:
        entity_config = entity_config or {}
        if entity == "campaigns":
            yield from self._by_filter(entity, cursor, window, [
                f"equals(messages.channel,'{channel}')"
                for channel in entity_config.get("channels") or ["email", "sms"]])
        elif entity == "events" and entity_config.get("metric_ids"):
            yield from self._by_filter(entity, cursor, window, [
                f'equals(metric_id,"{metric}")' for metric in entity_config["metric_ids"]],
                entity_config)
        else:
            yield from super().read(entity, cursor=cursor, window=window,
                                    entity_config=entity_config)

    def _by_filter(self, entity: str, cursor: Any, window: tuple | None, conditions: list[str],
                   entity_config: dict | None = None) -> Iterator[Batch]:
        """One read per extra filter condition (a channel, a metric), AND-ed with the cursor
        filter; the cursor is checkpointed once every read is done."""
        stream = self.stream_for(entity)
        reached = cursor
        for condition in conditions:
            variant = {**stream, "order": "unordered"}
            for key in ("cursor_params", "window_params"):
                variant[key] = {"filter": f"and({condition},{stream[key]['filter']})"}
            variant["no_cursor_params"] = {"filter": condition}
            for batch in self.read_stream(variant, cursor=cursor, window=window,
                                          entity_config=entity_config or {}):
                if batch.records:
                    yield Batch(records=batch.records, cursor=cursor)
                reached = later(reached, batch.cursor)
        if reached != cursor:
            yield Batch(records=[], cursor=reached)


@register_source("klaviyo")
def klaviyo_source(config: dict, secrets: dict) -> KlaviyoSource:
    return KlaviyoSource(config, secrets)
