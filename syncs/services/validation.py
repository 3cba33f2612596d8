"""A sync's attributes checked against the catalog and the server's configuration, one
validator per concern. Each mistake is a 422 at the attribute's pointer (a slug clash a 409,
a stored value that cannot be used a 409 naming it); they are raised in the order of the
validators in ``validate_sync``, so the first mistake of a document is the one reported."""

from __future__ import annotations

import uuid
from typing import Any

from django.conf import settings
from django.utils.text import slugify

from syncs import schemas as sync_schemas
from syncs.models import Connection, Sync
from syncs.providers import base as catalog
from syncs.services.errors import attribute_error, check_schema
from syncs.services.provider_catalog import dynamic_entities, provider_spec, resources_of
from syncservice.jsonapi.errors import Conflict
from syncservice.jsonschema import validate as schema_errors

CONNECTION_POINTER = "/data/relationships/connection"
# What reads the connection's config, and so needs it valid: pausing a sync whose connection
# went bad must still work.
READS_CONFIG = {"source_config", "entities", "table_bindings"}


def validate_sync(project, data: dict, instance: Sync | None = None) -> dict:
    """Check a sync's attributes against the catalog and the server's configuration; return
    the cleaned values (``entities`` and ``slug`` completed on create)."""
    cleaned = dict(data)
    check_attribute_schemas(data)
    check_freshness_sla(data.get("freshness_sla_seconds"))
    connection = connection_of(data, instance)
    spec = provider_spec(connection.provider, CONNECTION_POINTER)
    overrides = source_config_of(data, instance, spec)
    config: dict = {}
    if instance is None or READS_CONFIG & set(data):
        config = merged_config(data, instance, connection, spec, overrides)
    known = resources_of(spec)
    if "entities" in data or instance is None:
        cleaned["entities"] = valid_entities(data.get("entities"), spec, known, config)
    if "table_bindings" in data:
        entities = cleaned.get("entities", instance.entities if instance else [])
        check_bindings(data["table_bindings"], entities, known, instance)
    check_execution_backend(data.get("execution_backend"))
    check_schedule_of(data, instance)
    if "slug" in data or instance is None:
        cleaned["slug"] = valid_slug(project, data, instance)
    return cleaned


def check_attribute_schemas(data: dict) -> None:
    """The attributes' JSON Schemas (the API's serializer checks them too; the admin and
    Python callers come through here only)."""
    for name, schema in sync_schemas.SYNC_ATTRIBUTE_SCHEMAS.items():
        if name in data:
            check_schema(schema_errors(schema, data[name]), f"/data/attributes/{name}", name)


def check_freshness_sla(sla: Any) -> None:
    if sla is not None and (isinstance(sla, bool) or not isinstance(sla, int)
                            or not 0 <= sla <= sync_schemas.INT32_MAX):
        raise attribute_error("freshness_sla_seconds", "must be an integer from 0 to "
                                                       f"{sync_schemas.INT32_MAX}")


def connection_of(data: dict, instance: Sync | None) -> Connection:
    connection = data.get("connection", instance.connection if instance else None)
    if connection is None:
        raise attribute_error("connection", "A sync needs a connection.", CONNECTION_POINTER)
    return connection


def source_config_of(data: dict, instance: Sync | None, spec) -> Any:
    """The sync's overrides of its connection's config: the given ones (checked against the
    provider's source_config schema), else the stored ones."""
    if "source_config" not in data:
        return instance.source_config if instance else {}
    overrides = data["source_config"]
    check_schema(schema_errors(sync_schemas.source_config_schema(spec.key), overrides),
                 "/data/attributes/source_config", "source_config")
    return overrides


def merged_config(data: dict, instance: Sync | None, connection: Connection, spec,
                  overrides: Any) -> dict:
    """The config the sync's source runs with: the connection's, overridden by the sync's
    ``source_config`` (but its ``entities``); each part must be valid."""
    stored = catalog.validate_config(spec, connection.config)
    if stored:
        raise attribute_error(
            "connection", "The connection's stored config fails its provider's schema ("
            f"{sync_schemas.describe(sync_schemas.prefixed(stored, '/config'))}): fix the "
            "connection first.", CONNECTION_POINTER)
    if not isinstance(overrides, dict):
        raise sync_schemas.InvalidStoredConfig(instance, [("/source_config",
                                                           "must be of type object")])
    config = {**connection.config, **{k: v for k, v in overrides.items() if k != "entities"}}
    if "source_config" in data:
        check_schema(catalog.validate_config(spec, config), "/data/attributes/source_config",
                     "source_config")
    return config


def valid_entities(given: list | None, spec, known: dict, config: dict) -> list:
    """The sync's entities (the provider's defaults when none are given): each one the
    provider has, listed once, with the entities it depends on."""
    entities = list(spec.default_resources) if given is None else given
    check_entities_known(entities, spec, known, config)
    if len(set(entities)) != len(entities):
        raise attribute_error("entities", "Each entity may be listed once.")
    check_dependencies(entities, known)
    return entities


def check_entities_known(entities: list, spec, known: dict, config: dict) -> None:
    dynamic = dynamic_entities(spec, config)
    for index, entity in enumerate(entities):
        allowed = entity in known or (spec.dynamic_resources and (
            dynamic is None or entity in dynamic))
        if not allowed:
            choices = sorted(known) if not spec.dynamic_resources else sorted(dynamic or [])
            raise attribute_error("entities", f"{spec.key} has no entity {entity!r}; "
                                              f"entities: {', '.join(choices)}.",
                                  f"/data/attributes/entities/{index}")


def check_dependencies(entities: list, known: dict) -> None:
    for index, entity in enumerate(entities):
        resource = known.get(entity)
        for dependency in getattr(resource, "depends_on", []) or []:
            if dependency not in entities:
                raise attribute_error(
                    "entities", f"{entity!r} depends on {dependency!r}: select it too.",
                    f"/data/attributes/entities/{index}")


def check_bindings(bindings: list | None, entities: Any, known: dict,
                   instance: Sync | None) -> None:
    """Each given binding is for one of the sync's entities; an upsert one has a key."""
    if not isinstance(entities, list):
        raise sync_schemas.InvalidStoredConfig(instance, [("/entities", "must be of type array")])
    for index, binding in enumerate(bindings or []):
        check_binding(binding, f"/data/attributes/table_bindings/{index}", entities, known)


def check_binding(binding: dict, pointer: str, entities: list, known: dict) -> None:
    entity = binding.get("entity_key")
    if entity not in entities:
        raise attribute_error("table_bindings", f"Binding for {entity!r}, which is not "
                                                "among the sync's entities.",
                              f"{pointer}/entity_key")
    mode = binding.get("load_mode") or getattr(known.get(entity), "load_mode", "append_event")
    keys = binding.get("primary_key_columns")
    if keys is None:
        keys = list(getattr(known.get(entity), "primary_key", []) or [])
    if mode == "upsert" and not keys:
        raise attribute_error("table_bindings", "An upsert binding needs "
                                                "primary_key_columns.",
                              f"{pointer}/primary_key_columns")


def check_execution_backend(backend: str | None) -> None:
    if backend and backend not in settings.SYNCS_EXECUTION_BACKENDS:
        raise attribute_error("execution_backend",
                              f"The {backend} execution backend is not configured on this "
                              f"server (configured: "
                              f"{', '.join(settings.SYNCS_EXECUTION_BACKENDS)}).")


def check_schedule_of(data: dict, instance: Sync | None) -> None:
    """A scheduled sync's schedule, and any schedule given."""
    trigger_mode = data.get("trigger_mode", instance.trigger_mode if instance else "manual")
    schedule = data.get("schedule", instance.schedule if instance else {}) or {}
    if trigger_mode == Sync.TriggerMode.SCHEDULED or "schedule" in data:
        validate_schedule(schedule, required=trigger_mode == Sync.TriggerMode.SCHEDULED)


def validate_schedule(schedule: Any, *, required: bool) -> None:
    """The schedule's schema (a cron that fires, an IANA zone: 422 at the member); with
    ``required`` (a scheduled sync) a cron too."""
    check_schema(schema_errors(sync_schemas.SCHEDULE, schedule), "/data/attributes/schedule",
                 "schedule")
    if required and not schedule.get("cron"):
        raise attribute_error("schedule", "A scheduled sync needs schedule.cron, e.g. "
                                          '{"cron": "0 * * * *", "timezone": "UTC"}.',
                              "/data/attributes/schedule/cron")


def valid_slug(project, data: dict, instance: Sync | None) -> str:
    """The given slug, or one derived from the name; unique in the project (409 otherwise)."""
    name = data.get("name") or (instance.name if instance else "")
    # Any name makes a slug: one without ASCII letters or digits gets a generated one.
    slug = data.get("slug") or slugify(name)[:100].strip("-_") or f"sync-{uuid.uuid4().hex[:8]}"
    if slugify(slug) != slug:
        raise attribute_error("slug", "A slug is lowercase letters, digits, hyphens and "
                                      "underscores, starting and ending with a letter or "
                                      "digit.")
    clash = Sync.objects.filter(project=project, slug=slug)
    if instance is not None:
        clash = clash.exclude(pk=instance.pk)
    if clash.exists():
        raise Conflict(f"A sync with slug {slug!r} already exists in this project.")
    return slug
