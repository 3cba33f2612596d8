"""A sync's table bindings as stored: one per entity, the given values or the catalog's and
the connection's defaults (table names, load mode, cursor, primary key)."""

from __future__ import annotations

import re

from syncs.models import Sync, TableBinding
from syncs.providers import base as catalog
from syncs.services.provider_catalog import configured_entities, resources_of

_PHYSICAL = re.compile(r"[^a-z0-9_]+")


def physical_name(project_id, logical: str) -> str:
    base = _PHYSICAL.sub("_", logical.lower()).strip("_")
    return f"t{str(project_id).replace('-', '')[:8]}_{base}"[:63]


def _binding_defaults(sync: Sync, spec, entity: str, given: dict | None) -> dict:
    resource = resources_of(spec).get(entity)
    given = given or {}
    logical = given.get("logical_table_name") or f"{sync.slug}_{entity}".replace("-", "_")
    physical = physical_name(sync.project_id, logical)
    return {
        "logical_table_name": logical,
        "physical_table_name": physical,
        "table_name": given.get("table_name") or physical,
        "table_naming_version": given.get("table_naming_version") or "v2",
        "load_mode": given.get("load_mode") or getattr(resource, "load_mode", None)
        or _stream(sync, entity).get("load_mode") or _default_load_mode(sync, entity),
        "cursor_field": given.get("cursor_field") or (getattr(resource, "cursor_field", "")
                                                      or _stream_cursor(sync, entity)),
        "primary_key_columns": given.get("primary_key_columns")
        if given.get("primary_key_columns") is not None
        else list(getattr(resource, "primary_key", []) or _stream_key(sync, entity)),
    }


def _stream(sync: Sync, entity: str) -> dict:
    return configured_entities({**sync.connection.config, **sync.source_config}).get(
        entity, {})


def _default_load_mode(sync: Sync, entity: str) -> str:
    """With a key: upsert. Without: a table or query without a cursor is re-read whole each
    run, so it replaces; a stream appends."""
    if _stream_key(sync, entity):
        return "upsert"
    stream = _stream(sync, entity)
    if ("table" in stream or "sql" in stream) and not stream.get("cursor_field"):
        return "replace"
    return "append_event"


def _stream_cursor(sync: Sync, entity: str) -> str:
    return _stream(sync, entity).get("cursor_field") or ""


def _stream_key(sync: Sync, entity: str) -> list:
    key = _stream(sync, entity).get("primary_key") or []
    return [key] if isinstance(key, str) else list(key)


def save_bindings(sync: Sync, given: list[dict] | None) -> None:
    """One binding per entity: the given ones, the catalog's defaults for the rest."""
    spec = catalog.get_provider(sync.connection.provider)
    by_entity = {b["entity_key"]: b for b in (given or [])}
    sync.table_bindings.exclude(entity_key__in=sync.entities).delete()
    for entity in sync.entities:
        values = _binding_defaults(sync, spec, entity, by_entity.get(entity))
        TableBinding.objects.update_or_create(
            sync=sync, entity_key=entity,
            source_instance_key=(by_entity.get(entity) or {}).get("source_instance_key", ""),
            defaults=values)
