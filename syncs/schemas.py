"""The JSON Schemas of a sync's structured attributes (``schedule``, ``execution_config``,
``source_config``, ``destination_config``, ``table_bindings``, ``entities``) and of a
connection's per-provider ``config`` / ``secrets`` as the API publishes them.

Each schema here is the one object that the write serializers enforce (``SchemaField``), that
``services.validate_sync`` checks stored rows against, and that the OpenAPI document publishes.
``stored_sync_problems`` / ``stored_connection_problems`` say what a stored row (written before
these rules, or by hand) fails today, naming the field: the trigger answers 409 with it and
``manage.py check_stored_config`` lists them.
"""

from __future__ import annotations

from typing import Any
from zoneinfo import available_timezones

from syncs.providers import base as catalog
from syncservice.jsonapi.errors import Conflict
from syncservice.jsonschema import json_pointer, validate

Error = tuple[str, str]

# PostgreSQL's integer (Django's PositiveIntegerField): larger values would be a DataError.
INT32_MAX = 2**31 - 1
MAX_AUTO_RESUME_ATTEMPTS = 10
MAX_LOOKBACK_DAYS = 36500
MAX_ENTITIES = 1000
NAME_MAX = 255
LOAD_MODES = list(catalog.LOAD_MODES)
# Windows the runner can parse (django.utils.dateparse.parse_duration: days, hours, minutes;
# no years, months or weeks, which it would silently turn into one day) and of at least an
# hour, so a fan-out plan stays a reasonable number of tasks.
WINDOW_PATTERN = r"^P(?=\d|T\d)(\d{1,5}D)?(T\d{1,6}H)?$"



def _cron_pattern() -> str:
    """Five cron fields, each a list of ``*``, values or ranges with an optional step, values
    within the field's range (months and weekdays also by name): what the scheduler's
    croniter reads. Whether the expression ever fires is the ``cron`` format's check."""
    months = "jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec"
    days = "sun|mon|tue|wed|thu|fri|sat"

    def names(alternatives: str) -> str:
        return "|".join(f"{n}|{n.upper()}" for n in alternatives.split("|"))

    def field(value: str) -> str:
        item = rf"(\*|({value})(-({value}))?)(/[1-9][0-9]?)?"
        return f"{item}(,{item})*"

    fields = [field(r"[0-5]?[0-9]"), field(r"[01]?[0-9]|2[0-3]"),
              field(r"0?[1-9]|[12][0-9]|3[01]"), field(rf"0?[1-9]|1[0-2]|{names(months)}"),
              field(rf"[0-7]|{names(days)}")]
    macros = "@(yearly|annually|monthly|weekly|daily|midnight|hourly)"
    return rf"^({macros}|{' +'.join(fields)})$"


CRON_PATTERN = _cron_pattern()
TIME_ZONES = sorted(available_timezones() | {"UTC"})

SCHEDULE: dict = {
    "type": "object",
    "description": "When a `scheduled` sync runs. `cron` is required when `trigger_mode` is "
                   "`scheduled`.",
    "properties": {
        "cron": {"type": "string", "minLength": 1, "maxLength": 100, "format": "cron",
                 "pattern": CRON_PATTERN,
                 "x-error": "is not a cron expression of 5 fields (minute hour day month "
                            "weekday) that fires within 5 years",
                 "description": "A cron expression of 5 fields (minute hour day month "
                                "weekday) or a macro such as `@hourly`, that fires at least "
                                "once in the next 5 years (`0 0 30 2 *` is refused).",
                 "examples": ["0 * * * *"]},
        "timezone": {"type": "string", "enum": TIME_ZONES, "default": "UTC",
                     "x-error": "Unknown time zone: an IANA name is expected, e.g. UTC or "
                                "Europe/Paris",
                     "description": "The IANA time zone the cron expression is read in.",
                     "examples": ["Europe/Paris"]},
    },
    "additionalProperties": False,
}

_SLICING: dict = {
    "type": "object",
    "description": "Overrides of an entity's catalog slicing (`fan_out_window`).",
    "properties": {
        "kind": {"type": "string", "enum": list(catalog.SLICING_KINDS)},
        "field": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
        "default_window": {"type": "string", "pattern": WINDOW_PATTERN,
                           "description": "Window size, e.g. `P7D` or `PT6H`."},
        "cursor_format": {"type": "string", "enum": list(catalog.CURSOR_FORMATS)},
    },
    "additionalProperties": False,
}

EXECUTION_CONFIG: dict = {
    "type": "object",
    "description": "Execution tuning. Unknown keys are refused (a typo must not be ignored).",
    "properties": {
        "max_auto_resume_attempts": {
            "type": "integer", "minimum": 0, "maximum": MAX_AUTO_RESUME_ATTEMPTS, "default": 2,
            "description": "Attempts resumed automatically after a run stops heartbeating."},
        "queue": {"type": "string", "minLength": 1, "maxLength": 100,
                  "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", "default": "default",
                  "description": "The job queue the run's jobs go to (`run_worker --queue`)."},
        "window": {"type": "string", "pattern": WINDOW_PATTERN,
                   "description": "Window size of `fan_out_window` runs (days and/or hours, "
                                  "e.g. `P1D`, `PT6H`, `P1DT12H`)."},
        "start_date": {"type": ["string", "null"], "format": "date-time",
                       "description": "Where windows start on a first run (ISO 8601 with an "
                                      "offset)."},
        "lookback_days": {"type": "integer", "minimum": 1, "maximum": MAX_LOOKBACK_DAYS,
                          "default": 30,
                          "description": "Where windows start on a first run without "
                                         "`start_date`: this many days ago."},
        "slicing": {"type": "object", "additionalProperties": _SLICING,
                    "description": "Per entity key: overrides of the catalog's slicing."},
    },
    "additionalProperties": False,
}

DESTINATION_CONFIG: dict = {
    "type": "object",
    "description": "Destination envelope: provider-specific extras, stored and returned as "
                   "given (synced tables go to the service's warehouse database).",
    "maxProperties": 100,
    "additionalProperties": True,
}

ENTITIES: dict = {
    "type": "array",
    "description": "Entity keys to sync, each once: entities of the connection's provider "
                   "(`GET /syncs/providers/{provider}/catalog`; for dynamic providers the "
                   "streams, tables or queries of the connection's config), with the entities "
                   "they depend on. Default: the provider's default entities.",
    "items": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
    "maxItems": MAX_ENTITIES,
}

_COLUMN = {"type": "string", "minLength": 1, "maxLength": NAME_MAX}

TABLE_BINDING: dict = {
    "type": "object",
    "description": "Where and how one entity is loaded; omitted members take the catalog's "
                   "defaults.",
    "properties": {
        "entity_key": {"type": "string", "minLength": 1, "maxLength": NAME_MAX,
                       "description": "One of the sync's entities."},
        "logical_table_name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
        "table_name": {"type": "string", "minLength": 1, "maxLength": NAME_MAX},
        "table_naming_version": {"type": "string", "enum": ["legacy", "v2"]},
        "load_mode": {"type": "string", "enum": LOAD_MODES},
        "cursor_field": {"type": "string", "maxLength": NAME_MAX},
        "primary_key_columns": {"type": "array", "items": _COLUMN, "maxItems": 64,
                                "uniqueItems": True},
        "source_instance_key": {"type": "string", "maxLength": NAME_MAX},
    },
    "required": ["entity_key"],
    "additionalProperties": False,
}

TABLE_BINDINGS: dict = {"type": "array", "items": TABLE_BINDING, "maxItems": MAX_ENTITIES,
                        "description": "Bindings of entities to warehouse tables."}

# Checked by ``services.validate_sync`` for each given attribute (the serializer's fields use
# the same objects).
SYNC_ATTRIBUTE_SCHEMAS: dict[str, dict] = {
    "entities": ENTITIES, "table_bindings": TABLE_BINDINGS, "schedule": SCHEDULE,
    "execution_config": EXECUTION_CONFIG, "destination_config": DESTINATION_CONFIG,
}

# What the serializer checks of ``source_config`` before the connection (and so the provider)
# is known; ``source_config_schema(spec)`` is the full rule, checked by ``validate_sync``.
SOURCE_CONFIG_SHAPE: dict = {
    "type": "object",
    "properties": {"entities": {"type": "object", "additionalProperties": {"type": "object"}}},
}


_SOURCE_CONFIG_SCHEMAS: dict[str, tuple[Any, dict]] = {}


def source_config_schema(provider: str) -> dict:
    """A sync's ``source_config`` for ``provider``: overrides of the connection's config (any
    of its properties, none required: the merged config is checked against the provider's
    schema too) and ``entities``, per entity key the entity's own options. Built once per
    registered spec (the same object is enforced and published)."""
    spec = catalog.get_provider(provider)
    cached = _SOURCE_CONFIG_SCHEMAS.get(provider)
    if cached is not None and cached[0] is spec:
        return cached[1]
    schema = _source_config_schema(spec)
    _SOURCE_CONFIG_SCHEMAS[provider] = (spec, schema)
    return schema


def _source_config_schema(spec) -> dict:
    properties = dict(spec.config_schema.get("properties", {}))
    entity_options = {r.entity_key: r.config_schema for r in spec.resources}
    properties["entities"] = {
        "type": "object", "properties": entity_options,
        # Dynamic entities (streams, tables) take free-form options.
        "additionalProperties": {"type": "object"} if spec.dynamic_resources else False,
        "description": "Per entity key: options of that entity.",
    }
    return {"type": "object", "title": f"{spec.display_name} source_config",
            "properties": properties, "additionalProperties": False}


def prefixed(errors: list[Error], prefix: str) -> list[Error]:
    return [(f"{prefix}{pointer}", message) for pointer, message in errors]


# --- stored rows ----------------------------------------------------------------------------

def stored_connection_problems(connection) -> list[Error]:
    """What a stored connection fails today: (pointer from the resource, e.g.
    ``/config/bucket``, message)."""
    spec = catalog.get_provider(connection.provider)
    if spec is None:
        return [("/provider", f"is not a known provider ({connection.provider!r})")]
    return prefixed(catalog.validate_config(spec, connection.config), "/config")


def stored_sync_problems(sync) -> list[Error]:
    """What a stored sync fails today (its connection's config included), as (pointer from the
    resource, message): ``/execution_config/max_auto_resume_attempts``."""
    problems: list[Error] = []
    checks: list[tuple[str, dict, Any]] = [
        ("schedule", SCHEDULE, sync.schedule),
        ("execution_config", EXECUTION_CONFIG, sync.execution_config),
        ("destination_config", DESTINATION_CONFIG, sync.destination_config),
        ("entities", ENTITIES, sync.entities),
    ]
    for name, schema, value in checks:
        problems += prefixed(validate(schema, value), f"/{name}")
    if sync.trigger_mode == "scheduled" and isinstance(sync.schedule, dict) \
            and not sync.schedule.get("cron"):
        problems.append(("/schedule/cron", "is required when trigger_mode is scheduled"))
    if sync.freshness_sla_seconds is not None and not 0 <= sync.freshness_sla_seconds \
            <= INT32_MAX:
        problems.append(("/freshness_sla_seconds", f"must be from 0 to {INT32_MAX}"))
    connection = sync.connection
    spec = catalog.get_provider(connection.provider)
    if spec is None:
        problems.append(("/connection/provider", "is not a known provider"))
    elif not isinstance(sync.source_config, dict):
        problems.append(("/source_config", "must be of type object"))
    else:
        problems += prefixed(validate(source_config_schema(spec.key), sync.source_config),
                             "/source_config")
        own = catalog.validate_config(spec, connection.config)
        if own:
            problems += prefixed(own, "/connection/config")
        else:
            merged = {k: v for k, v in {**connection.config, **sync.source_config}.items()
                      if k != "entities"}
            problems += prefixed(catalog.validate_config(spec, merged), "/source_config")
    return sorted(dict.fromkeys(problems))


class InvalidStoredConfig(Conflict):
    """A stored sync (written before today's schemas, or by hand) that cannot be used as it
    is: 409 naming the field to fix. ``pointer`` is where that field is written in a PATCH
    document, ``problems`` every (pointer from the resource, message)."""

    default_code = "invalid_stored_config"

    def __init__(self, sync, problems: list[Error]) -> None:
        self.problems = problems
        first = problems[0][0] if problems else ""
        self.pointer = f"/data/attributes{first}"
        super().__init__(f"Sync {sync.slug!r} has invalid stored attributes: "
                         f"{describe(problems)}. Fix them with PATCH /api/v1/syncs/{sync.pk}.")


def execution_config(sync) -> dict:
    """The sync's stored ``execution_config`` with its defaults, checked against today's
    schema (``InvalidStoredConfig`` otherwise): what a trigger and its run may rely on."""
    problems = prefixed(validate(EXECUTION_CONFIG, sync.execution_config), "/execution_config")
    if problems:
        raise InvalidStoredConfig(sync, problems)
    defaults = {name: prop["default"] for name, prop in EXECUTION_CONFIG["properties"].items()
                if "default" in prop}
    return {**defaults, **sync.execution_config}


def describe(problems: list[Error]) -> str:
    """One sentence naming each problem's field: ``execution_config/max_auto_resume_attempts
    must be of type integer``."""
    return "; ".join(f"{pointer.lstrip('/')} {message}" for pointer, message in problems)


__all__ = ["DESTINATION_CONFIG", "ENTITIES", "EXECUTION_CONFIG", "SCHEDULE", "TABLE_BINDING",
           "TABLE_BINDINGS", "describe", "json_pointer", "source_config_schema",
           "stored_connection_problems", "stored_sync_problems"]
