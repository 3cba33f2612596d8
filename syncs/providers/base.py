"""The provider catalog: what each source system offers, as data.

A ``ProviderSpec`` describes one provider (Shopify, Salesforce, an S3 bucket, ...): the JSON
Schema of a connection's non-secret ``config``, the JSON Schema of its ``secrets`` (tokens,
passwords, private keys: stored encrypted, never returned), the ``defaults`` merged under a
connection's config, and the ``resources`` (entities) it can sync, each a ``ResourceSpec`` with
its cursor, primary key, load mode, dependencies, size class, window slicing and storage.

Nothing here talks to a source system: connectors (``syncs.connectors``) do, reading the
catalog. ``GET /api/v1/syncs/providers/{provider}/catalog`` renders ``ProviderSpec.to_catalog()``.

Conventions:

- ``entity_key`` is a snake_case identifier (it names warehouse tables); when the source calls
  the entity something else (``Account`` in Salesforce, ``JobOrder`` in Bullhorn, an endpoint
  path) that name is ``source_name``.
- ``cursor_field`` is the record field whose maximum is checkpointed after each batch; ``None``
  means the entity has no incremental cursor of its own: it is re-read in full (``replace``
  or ``upsert``) or, for a child entity, read for the parents changed in the run (its
  ``depends_on``).
- ``depends_on`` lists entities that must be read first because this one is fetched through
  them (refunds through orders). Sequential runs follow that order; it is never a foreign-key
  hint.
- ``slicing`` is ``{}`` or ``{"kind": "cursor_window", "field": <cursor_field>,
  "default_window": <ISO 8601 duration>, "cursor_format": "iso8601" | "epoch_ms" |
  "epoch_s" | "date"}`` for entities whose API filters on a cursor range, so ``fan_out_window``
  runs may split the range into windows.
- ``defaults`` are connection config values (every key is a property of ``config_schema`` and
  its value valid there); ``with_defaults(config)`` merges them under a config. A
  ``start_date`` default of ``None`` means "the source's whole history".
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from syncs.providers.schemas import defaults_from
from syncservice import jsonschema
from syncservice.jsonschema import FORMAT_CHECKER, ISO_DURATION_RE, json_pointer  # noqa: F401

LOAD_MODES = ("append_event", "upsert", "replace")
SIZE_CLASSES = ("xs", "s", "m", "l", "xl")
STORAGE_KINDS = ("postgres", "object_storage")
SLICING_KINDS = ("cursor_window",)
CURSOR_FORMATS = ("iso8601", "epoch_ms", "epoch_s", "date")

# The 21 providers, in the order of the syncs reference.
PROVIDER_KEYS: tuple[str, ...] = (
    "shopify", "http_api", "flexiroam", "starlink", "s3", "google_drive", "msft_sharepoint",
    "klaviyo", "amazon_sp", "salesforce", "netsuite", "sqlserver", "postgres", "mlflow", "sftp",
    "gmail_inbox", "dropbox", "rydership", "gorgias", "redo", "bullhorn",
)

KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")


def empty_object_schema() -> dict:
    """The per-entity config schema of an entity without options."""
    return {"type": "object", "properties": {}}


@dataclass(frozen=True, kw_only=True)
class ResourceSpec:
    entity_key: str
    display_name: str
    description: str
    load_mode: str
    cursor_field: str | None = None
    primary_key: list[str] = field(default_factory=list)
    depends_on: list[str] = field(default_factory=list)
    default_selected: bool = True
    size_class: str = "m"
    slicing: dict = field(default_factory=dict)
    storage_kind: str = "postgres"
    storage_description: str = ""
    config_schema: dict = field(default_factory=empty_object_schema)
    source_name: str | None = None

    def __post_init__(self) -> None:
        where = f"resource {self.entity_key!r}"
        if not isinstance(self.entity_key, str) or not KEY_RE.match(self.entity_key):
            raise ValueError(f"{where}: entity_key must be snake_case ({KEY_RE.pattern})")
        object.__setattr__(self, "primary_key", list(self.primary_key))
        object.__setattr__(self, "depends_on", list(self.depends_on))
        if self.load_mode not in LOAD_MODES:
            raise ValueError(f"{where}: load_mode must be one of {LOAD_MODES}")
        if self.size_class not in SIZE_CLASSES:
            raise ValueError(f"{where}: size_class must be one of {SIZE_CLASSES}")
        if self.storage_kind not in STORAGE_KINDS:
            raise ValueError(f"{where}: storage_kind must be one of {STORAGE_KINDS}")
        if self.load_mode == "upsert" and not self.primary_key:
            raise ValueError(f"{where}: an upsert resource needs a primary_key")
        if self.cursor_field is not None and not (
                isinstance(self.cursor_field, str) and self.cursor_field):
            raise ValueError(f"{where}: cursor_field must be a non-empty string or None")
        if len(set(self.depends_on)) != len(self.depends_on) or self.entity_key in self.depends_on:
            raise ValueError(f"{where}: depends_on has duplicates or the entity itself")
        if self.slicing:
            _check_slicing(where, self.slicing, self.cursor_field)
        if not isinstance(self.config_schema, dict) or self.config_schema.get("type") != "object":
            raise ValueError(f"{where}: config_schema must be an object schema")
        if not self.storage_description:
            object.__setattr__(self, "storage_description", self._default_storage_description())

    def _default_storage_description(self) -> str:
        if self.storage_kind == "object_storage":
            return "File contents stored as blobs in object storage."
        keys = ", ".join(self.primary_key)
        return {
            "upsert": f"Warehouse table, one row per record, merged on ({keys}).",
            "append_event": "Warehouse table, one row per event, appended.",
            "replace": "Warehouse table, replaced as a whole at the end of each run.",
        }[self.load_mode]

    def to_catalog(self) -> dict:
        return copy.deepcopy({
            "entity_key": self.entity_key,
            "display_name": self.display_name,
            "description": self.description,
            "source_name": self.source_name,
            "cursor_field": self.cursor_field,
            "primary_key": self.primary_key,
            "load_mode": self.load_mode,
            "depends_on": self.depends_on,
            "default_selected": self.default_selected,
            "size_class": self.size_class,
            "slicing": self.slicing,
            "storage_kind": self.storage_kind,
            "storage_description": self.storage_description,
            "config_schema": self.config_schema,
        })


def _check_slicing(where: str, slicing: dict, cursor_field: str | None) -> None:
    if slicing.get("kind") not in SLICING_KINDS:
        raise ValueError(f"{where}: slicing kind must be one of {SLICING_KINDS}")
    if cursor_field is None or slicing.get("field") != cursor_field:
        raise ValueError(f"{where}: a cursor_window slices on the cursor_field")
    if not ISO_DURATION_RE.match(str(slicing.get("default_window", ""))):
        raise ValueError(f"{where}: slicing default_window must be an ISO 8601 duration")
    if slicing.get("cursor_format", "iso8601") not in CURSOR_FORMATS:
        raise ValueError(f"{where}: slicing cursor_format must be one of {CURSOR_FORMATS}")


def cursor_window(field_name: str, default_window: str = "P7D",
                  cursor_format: str = "iso8601") -> dict:
    """The slicing of an entity whose API filters on a range of its cursor field."""
    return {"kind": "cursor_window", "field": field_name, "default_window": default_window,
            "cursor_format": cursor_format}


@dataclass(frozen=True, kw_only=True)
class ProviderSpec:
    key: str
    display_name: str
    description: str
    config_schema: dict
    secrets_schema: dict
    defaults: dict = field(default_factory=dict)
    resources: list[ResourceSpec] = field(default_factory=list)
    dynamic_resources: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.key, str) or not KEY_RE.match(self.key):
            raise ValueError(f"provider key {self.key!r} must be snake_case")
        object.__setattr__(self, "resources", list(self.resources))
        keys = [r.entity_key for r in self.resources]
        duplicates = sorted({k for k in keys if keys.count(k) > 1})
        if duplicates:
            raise ValueError(f"{self.key}: duplicate entity keys {duplicates}")
        for resource in self.resources:
            unknown = [d for d in resource.depends_on if d not in keys]
            if unknown:
                raise ValueError(
                    f"{self.key}.{resource.entity_key} depends on unknown entities {unknown}")
        self.dependency_order()  # raises on a cycle
        by_key = {r.entity_key: r for r in self.resources}
        for resource in self.resources:
            if resource.default_selected:
                missing = [d for d in resource.depends_on if not by_key[d].default_selected]
                if missing:
                    raise ValueError(f"{self.key}.{resource.entity_key} is selected by default "
                                     f"but its dependencies {missing} are not")
        properties = self.config_schema.get("properties", {})
        stray = sorted(set(self.defaults) - set(properties))
        if stray:
            raise ValueError(f"{self.key}: defaults {stray} are not config_schema properties")

    @property
    def available_resources(self) -> list[str]:
        return [r.entity_key for r in self.resources]

    @property
    def default_resources(self) -> list[str]:
        return [r.entity_key for r in self.resources if r.default_selected]

    def get_resource(self, entity_key: str) -> ResourceSpec | None:
        return next((r for r in self.resources if r.entity_key == entity_key), None)

    def dependency_order(self, entity_keys: Iterable[str] | None = None) -> list[str]:
        """The given entity keys (default: all) ordered so dependencies come first; ties keep
        the catalog's order. Keys this provider does not declare (dynamic entities) follow."""
        graph = {r.entity_key: r.depends_on for r in self.resources}
        order: list[str] = []
        state: dict[str, str] = {}

        def visit(key: str, path: tuple[str, ...]) -> None:
            if state.get(key) == "done":
                return
            if state.get(key) == "visiting":
                raise ValueError(f"{self.key}: dependency cycle {' -> '.join(path + (key,))}")
            state[key] = "visiting"
            for dependency in graph[key]:
                visit(dependency, path + (key,))
            state[key] = "done"
            order.append(key)

        for key in graph:
            visit(key, ())
        if entity_keys is None:
            return order
        wanted = list(dict.fromkeys(entity_keys))
        return [k for k in order if k in wanted] + [k for k in wanted if k not in graph]

    def with_defaults(self, config: Mapping[str, Any] | None) -> dict:
        """``config`` over the provider's defaults (a shallow merge)."""
        return {**copy.deepcopy(self.defaults), **(config or {})}

    def to_catalog(self) -> dict:
        return {
            "provider": self.key,
            "name": self.key,
            "display_name": self.display_name,
            "description": self.description,
            "config_schema": copy.deepcopy(self.config_schema),
            "secrets_schema": copy.deepcopy(self.secrets_schema),
            "defaults": copy.deepcopy(self.defaults),
            "resources": [r.to_catalog() for r in self.resources],
            "available_resources": self.available_resources,
            "default_resources": self.default_resources,
            "dynamic_resources": self.dynamic_resources,
        }


# --- registry ---------------------------------------------------------------------------------

_REGISTRY: dict[str, ProviderSpec] = {}


def register(spec: ProviderSpec, *, replace: bool = False) -> ProviderSpec:
    """Add ``spec`` to the registry (returns it, so modules can ``SPEC = register(...)``)."""
    existing = _REGISTRY.get(spec.key)
    if existing is not None and existing is not spec and not replace:
        raise ValueError(f"provider {spec.key!r} is already registered")
    _REGISTRY[spec.key] = spec
    return spec


def define_provider(key: str, display_name: str, description: str, config_schema: dict,
                    secrets_schema: dict, resources: list[ResourceSpec] | None = None, *,
                    dynamic_resources: bool = False) -> ProviderSpec:
    """Register a provider whose ``defaults`` are its config schema's ``default`` values (every
    provider's: one place to say so)."""
    return register(ProviderSpec(
        key=key, display_name=display_name, description=description,
        config_schema=config_schema, secrets_schema=secrets_schema,
        defaults=defaults_from(config_schema), resources=list(resources or []),
        dynamic_resources=dynamic_resources))


def unregister(key: str) -> None:
    _REGISTRY.pop(key, None)


def get_provider(key: str) -> ProviderSpec | None:
    return _REGISTRY.get(key)


def provider_keys() -> tuple[str, ...]:
    """Registered keys: the reference's providers in its order, then any others."""
    known = [k for k in PROVIDER_KEYS if k in _REGISTRY]
    return tuple(known + [k for k in _REGISTRY if k not in PROVIDER_KEYS])


def all_providers() -> list[ProviderSpec]:
    return [_REGISTRY[k] for k in provider_keys()]


# --- validation -------------------------------------------------------------------------------
# The validator, its format checks and its messages are shared by every structured attribute
# (syncservice.jsonschema); these names stay importable from here.

Error = tuple[str, str]


def validate_config(spec: ProviderSpec, config: Any) -> list[Error]:
    """Problems with a connection's config, as (JSON pointer, message) pairs; [] when valid.
    Validates ``config`` as given: merge ``spec.with_defaults`` first to validate the
    effective config."""
    return validate_instance(spec.config_schema, config)


def validate_secrets(spec: ProviderSpec, secrets: Any) -> list[Error]:
    """Problems with a connection's secrets. Messages never quote the submitted values."""
    return validate_instance(spec.secrets_schema, secrets)


def validate_resource_config(resource: ResourceSpec, config: Any) -> list[Error]:
    return validate_instance(resource.config_schema, config)


def validate_instance(schema: dict, instance: Any) -> list[Error]:
    return jsonschema.validate(schema, instance)
