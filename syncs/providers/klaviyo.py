"""Klaviyo: the JSON:API REST API (``https://a.klaviyo.com/api``).

Headers ``Authorization: Klaviyo-API-Key {private_api_key}``, ``revision: {revision}`` and
``Accept: application/vnd.api+json``. Lists page with cursors (``page[cursor]``, follow
``links.next``; ``page[size]`` up to 100 for profiles, 200 for events); incremental reads
filter with ``filter=greater-than(updated,...)`` (profiles, lists, segments, flows,
templates), ``greater-than(datetime,...)`` (events) or ``greater-than(updated_at,...)``
(campaigns, which also require a ``messages.channel`` filter). Records are JSON:API resources:
``id``, ``type`` and ``attributes`` (flattened by the connector) and ``relationships``.
Rate limits are per endpoint (burst/steady, 429 with ``Retry-After``).

Klaviyo JSON:API (``https://a.klaviyo.com/api/...``).

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
from syncs.connectors.sources import Batch
from syncs.providers import schemas as js
from syncs.providers._saas import SaasSource, first_run_start, registered
from syncs.providers.base import ResourceSpec, define_provider
from syncs.providers.resources import dependent, incremental, snapshot

CONFIG_SCHEMA = js.obj({
    "revision": js.string("API revision sent in the revision header.",
                          pattern=r"^\d{4}-\d{2}-\d{2}(\.pre)?$", default="2024-10-15"),
    "base_url": js.base_url("https://a.klaviyo.com"),
    "page_size": js.page_size(100, 100, "page[size] of profile, list and segment reads."),
    "start_date": js.start_date(),
}, title="Klaviyo connection", examples=[{"revision": "2024-10-15"}])

SECRETS_SCHEMA = js.obj({
    "private_api_key": js.secret("Private API key (pk_...) with read scopes.",
                                 pattern=r"^pk_[!-~]+$"),
}, required=["private_api_key"], title="Klaviyo secrets",
    examples=[{"private_api_key": "pk_0123456789abcdef0123456789abcdef01"}])


def _updated(key: str, display: str, path: str, description: str, cursor: str = "updated",
             size: str = "s", window: str = "P90D", **kw) -> ResourceSpec:
    return incremental(key, display, path, description, cursor=cursor, window=window, size=size,
                       **kw)


RESOURCES = [
    _updated("profiles", "Profiles", "/api/profiles", "People: email, phone, name, location, "
             "custom properties, subscriptions and predictive analytics.", size="l",
             window="P30D"),
    snapshot("metrics", "Metrics", "/api/metrics", "Event types (Placed Order, Opened Email, "
             "...) and their integration."),
    incremental("events", "Events", "/api/events", "Tracked events: metric, profile, datetime, "
                "event_properties (order value, items, campaign, ...).", cursor="datetime",
                window="P1D", size="xl", load_mode="append_event",
                config_schema=js.obj({
                    "metric_ids": js.string_list("Only events of these metrics (default all)."),
                    "page_size": {"type": "integer", "minimum": 1, "maximum": 200,
                                  "default": 200, "description": "page[size] of event reads."},
                })),
    _updated("lists", "Lists", "/api/lists", "Static lists: name, opt-in process.",
             size="xs"),
    dependent("list_profiles", "List memberships", "/api/lists/{id}/profiles", "Which profiles "
              "belong to each list (list_id, profile_id, joined_group_at).", parent="lists",
              size="l", load_mode="replace", primary_key=["list_id", "profile_id"],
              default_selected=False),
    _updated("segments", "Segments", "/api/segments", "Dynamic segments: name, definition, "
             "starred.", size="xs"),
    dependent("segment_profiles", "Segment memberships", "/api/segments/{id}/profiles",
              "Which profiles belong to each segment (segment_id, profile_id, joined_group_at).",
              parent="segments", size="l", load_mode="replace",
              primary_key=["segment_id", "profile_id"], default_selected=False),
    _updated("campaigns", "Campaigns", "/api/campaigns", "Email, SMS and push campaigns: "
             "name, status, audiences, send strategy, send_time.", cursor="updated_at",
             config_schema=js.obj({
                 "channels": js.string_list("Channels read (the API filters on one at a time).",
                                            items={"enum": ["email", "sms", "mobile_push"]},
                                            min_items=1, default=["email", "sms"]),
             })),
    dependent("campaign_messages", "Campaign messages", "/api/campaigns/{id}/campaign-messages",
              "Messages of each campaign read: label, channel, content (subject, preview text, "
              "sender), template.", parent="campaigns", size="s"),
    _updated("flows", "Flows", "/api/flows", "Automated flows: name, status, trigger type.",
             size="xs"),
    dependent("flow_actions", "Flow actions", "/api/flows/{id}/flow-actions", "Steps of each "
              "flow read (send email/SMS, time delay, conditional split) with their settings.",
              parent="flows", size="s"),
    dependent("flow_messages", "Flow messages", "/api/flow-actions/{id}/flow-messages",
              "Messages sent by each flow action read.", parent="flow_actions", size="s"),
    _updated("templates", "Templates", "/api/templates", "Email templates: name, editor type, "
             "HTML.", size="s", default_selected=False),
    snapshot("tags", "Tags", "/api/tags", "Tags used to organize campaigns, flows, lists and "
             "segments.", default_selected=False),
]

SPEC = define_provider("klaviyo", "Klaviyo",
    "Profiles, events, lists, segments, campaigns and flows of a Klaviyo account.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES)


@registered
class KlaviyoSource(SaasSource):
    provider = "klaviyo"
    service = "Klaviyo"
    credential_noun = "the private API key"
    credential_hint = "check the private API key (pk_...) and its read scopes"

    def engine_config(self, settings: dict) -> dict:
        size = settings["page_size"]
        since = first_run_start(settings)
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
