"""Klaviyo: the JSON:API REST API (``https://a.klaviyo.com/api``).

Headers ``Authorization: Klaviyo-API-Key {private_api_key}``, ``revision: {revision}`` and
``Accept: application/vnd.api+json``. Lists page with cursors (``page[cursor]``, follow
``links.next``; ``page[size]`` up to 100 for profiles, 200 for events); incremental reads
filter with ``filter=greater-than(updated,...)`` (profiles, lists, segments, flows,
templates), ``greater-than(datetime,...)`` (events) or ``greater-than(updated_at,...)``
(campaigns, which also require a ``messages.channel`` filter). Records are JSON:API resources:
``id``, ``type`` and ``attributes`` (flattened by the connector) and ``relationships``.
Rate limits are per endpoint (burst/steady, 429 with ``Retry-After``).
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
    string_list,
)

CONFIG_SCHEMA = obj({
    "revision": string("API revision sent in the revision header.",
                       pattern=r"^\d{4}-\d{2}-\d{2}(\.pre)?$", default="2024-10-15"),
    "base_url": base_url("https://a.klaviyo.com"),
    "page_size": page_size(100, 100, "page[size] of profile, list and segment reads."),
    "start_date": start_date(),
}, title="Klaviyo connection", examples=[{"revision": "2024-10-15"}])

SECRETS_SCHEMA = obj({
    "private_api_key": secret("Private API key (pk_...) with read scopes.", pattern=r"^pk_[!-~]+$"),
}, required=["private_api_key"], title="Klaviyo secrets",
    examples=[{"private_api_key": "pk_0123456789abcdef0123456789abcdef01"}])


def _updated(key: str, display: str, path: str, description: str, cursor: str = "updated",
             size: str = "s", window: str = "P90D", **kw) -> ResourceSpec:
    return ResourceSpec(entity_key=key, display_name=display, source_name=path,
                        description=description, cursor_field=cursor, primary_key=["id"],
                        load_mode="upsert", size_class=size, slicing=cursor_window(cursor, window),
                        **kw)


RESOURCES = [
    _updated("profiles", "Profiles", "/api/profiles", "People: email, phone, name, location, "
             "custom properties, subscriptions and predictive analytics.", size="l",
             window="P30D"),
    ResourceSpec(entity_key="metrics", display_name="Metrics", source_name="/api/metrics",
                 description="Event types (Placed Order, Opened Email, ...) and their "
                             "integration.",
                 primary_key=["id"], load_mode="replace", size_class="xs"),
    ResourceSpec(entity_key="events", display_name="Events", source_name="/api/events",
                 description="Tracked events: metric, profile, datetime, event_properties "
                             "(order value, items, campaign, ...).",
                 cursor_field="datetime", primary_key=["id"], load_mode="append_event",
                 size_class="xl", slicing=cursor_window("datetime", "P1D"),
                 config_schema=obj({
                     "metric_ids": string_list("Only events of these metrics (default all)."),
                     "page_size": {"type": "integer", "minimum": 1, "maximum": 200,
                                   "default": 200, "description": "page[size] of event reads."},
                 })),
    _updated("lists", "Lists", "/api/lists", "Static lists: name, opt-in process.",
             size="xs"),
    ResourceSpec(entity_key="list_profiles", display_name="List memberships",
                 source_name="/api/lists/{id}/profiles",
                 description="Which profiles belong to each list (list_id, profile_id, "
                             "joined_group_at).",
                 primary_key=["list_id", "profile_id"], load_mode="replace",
                 depends_on=["lists"], size_class="l", default_selected=False),
    _updated("segments", "Segments", "/api/segments", "Dynamic segments: name, definition, "
             "starred.", size="xs"),
    ResourceSpec(entity_key="segment_profiles", display_name="Segment memberships",
                 source_name="/api/segments/{id}/profiles",
                 description="Which profiles belong to each segment (segment_id, profile_id, "
                             "joined_group_at).",
                 primary_key=["segment_id", "profile_id"], load_mode="replace",
                 depends_on=["segments"], size_class="l", default_selected=False),
    _updated("campaigns", "Campaigns", "/api/campaigns", "Email, SMS and push campaigns: "
             "name, status, audiences, send strategy, send_time.", cursor="updated_at",
             config_schema=obj({
                 "channels": string_list("Channels read (the API filters on one at a time).",
                                         items={"enum": ["email", "sms", "mobile_push"]},
                                         min_items=1, default=["email", "sms"]),
             })),
    ResourceSpec(entity_key="campaign_messages", display_name="Campaign messages",
                 source_name="/api/campaigns/{id}/campaign-messages",
                 description="Messages of each campaign read: label, channel, content "
                             "(subject, preview text, sender), template.",
                 primary_key=["id"], load_mode="upsert", depends_on=["campaigns"],
                 size_class="s"),
    _updated("flows", "Flows", "/api/flows", "Automated flows: name, status, trigger type.",
             size="xs"),
    ResourceSpec(entity_key="flow_actions", display_name="Flow actions",
                 source_name="/api/flows/{id}/flow-actions",
                 description="Steps of each flow read (send email/SMS, time delay, "
                             "conditional split) with their settings.",
                 primary_key=["id"], load_mode="upsert", depends_on=["flows"], size_class="s"),
    ResourceSpec(entity_key="flow_messages", display_name="Flow messages",
                 source_name="/api/flow-actions/{id}/flow-messages",
                 description="Messages sent by each flow action read.",
                 primary_key=["id"], load_mode="upsert", depends_on=["flow_actions"],
                 size_class="s"),
    _updated("templates", "Templates", "/api/templates", "Email templates: name, editor type, "
             "HTML.", size="s", default_selected=False),
    ResourceSpec(entity_key="tags", display_name="Tags", source_name="/api/tags",
                 description="Tags used to organize campaigns, flows, lists and segments.",
                 primary_key=["id"], load_mode="replace", size_class="xs",
                 default_selected=False),
]

SPEC = register(ProviderSpec(
    key="klaviyo",
    display_name="Klaviyo",
    description="Profiles, events, lists, segments, campaigns and flows of a Klaviyo account.",
    config_schema=CONFIG_SCHEMA,
    secrets_schema=SECRETS_SCHEMA,
    defaults=defaults_from(CONFIG_SCHEMA),
    resources=RESOURCES,
))
