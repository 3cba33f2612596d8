"""The provider catalog as the sync services read it: a provider's spec, its resources, and
the entities a dynamic provider knows from a connection's config."""

from __future__ import annotations

from typing import Any

from syncs.providers import base as catalog
from syncs.services.errors import attribute_error


def provider_spec(key: str, pointer: str = "/data/attributes/provider"):
    """The catalog's spec of provider ``key``; a 422 at ``pointer`` naming the providers."""
    spec = catalog.get_provider(key)
    if spec is None:
        raise attribute_error("provider", f"Unknown provider {key!r}; providers: "
                                          f"{', '.join(catalog.provider_keys())}.", pointer)
    return spec


def resources_of(spec) -> dict:
    return {r.entity_key: r for r in spec.resources}


def configured_entities(config: dict) -> dict[str, dict]:
    """Dynamic entities declared in a connection's config: ``streams`` (http_api, files),
    ``tables`` and ``queries`` (SQL sources), by entity key."""
    found: dict[str, dict] = {}
    for item in config.get("streams", []) or []:
        if isinstance(item, dict) and item.get("name"):
            found[item["name"]] = item
    for item in config.get("tables", []) or []:
        if isinstance(item, dict) and item.get("table"):
            default = f"{item.get('schema') or 'public'}_{item['table']}".lower()
            found[item.get("name") or default] = item
    for item in config.get("queries", []) or []:
        if isinstance(item, dict) and item.get("name"):
            found[item["name"]] = item
    return found


def dynamic_entities(spec, config: dict) -> set[str] | None:
    """Entities a dynamic provider knows from its configuration (None: anything goes, e.g. a
    SQL source discovering its tables at run time)."""
    configured = set(configured_entities(config))
    if spec.key == "http_api" or configured:
        return configured | set(spec.available_resources)
    return None


def catalog_entry(provider: str) -> dict[str, Any] | None:
    spec = catalog.get_provider(provider)
    return spec.to_catalog() if spec else None
