"""Connections, syncs and runs: validation against the catalog, the one-active-run rule,
trigger / cancel / retry, attempts and auto-resume, and the sync's status bookkeeping."""

from __future__ import annotations

import functools
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, CroniterError, croniter
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db import connections as db_connections
from django.db.models import Case, F, ProtectedError, Value, When
from django.utils import timezone
from django.utils.text import slugify

from jobs import services as job_services
from jobs.models import ACTIVE_STATUSES as ACTIVE_JOB_STATUSES
from jobs.models import Job
from syncs import events as run_events
from syncs import schemas as sync_schemas
from syncs import secrets as secret_store
from syncs.connectors import CheckFailed, ConnectorUnavailable, open_source
from syncs.job_classes import RUN_JOB, SCHEDULE_JOB, SWEEP_JOB, TASK_JOB  # noqa: F401 - services.*
from syncs.models import Connection, Sync, SyncRun, SyncState, TableBinding
from syncs.providers import base as catalog
from syncservice import netguard
from syncservice.jsonapi.errors import Conflict, InvalidAttribute
from syncservice.jsonschema import validate as schema_errors

logger = logging.getLogger("syncs")

TRIGGERABLE = (Sync.Status.ACTIVE, Sync.Status.ERROR)


class SyncStateError(Exception):
    """A state rule refuses the request (the API answers 409)."""


def attribute_error(name: str, detail: str, pointer: str | None = None) -> InvalidAttribute:
    return InvalidAttribute(name, detail, pointer=pointer)


# --- connections ----------------------------------------------------------------------------

def _provider(key: str, pointer: str = "/data/attributes/provider"):
    spec = catalog.get_provider(key)
    if spec is None:
        raise attribute_error("provider", f"Unknown provider {key!r}; providers: "
                                          f"{', '.join(catalog.provider_keys())}.", pointer)
    return spec


def _check_schema(errors: list[tuple[str, str]], base_pointer: str, name: str) -> None:
    if errors:
        pointer, message = errors[0]
        raise attribute_error(name, message, f"{base_pointer}{pointer}")


def validate_connection(provider: str, config: dict, secrets: dict | None) -> None:
    spec = _provider(provider)
    _check_schema(catalog.validate_config(spec, config), "/data/attributes/config", "config")
    for pointer, url in netguard.url_fields(config):
        try:
            netguard.check_url(url)
        except netguard.UnsafeDestination as exc:
            raise attribute_error("config", str(exc), f"/data/attributes/config{pointer}") \
                from None
    if secrets is not None:
        _check_schema(catalog.validate_secrets(spec, secrets), "/data/attributes/secrets",
                      "secrets")


def create_connection(project, *, provider: str, name: str, config: dict | None = None,
                      secrets: dict | None = None, created_by: str = "") -> Connection:
    config = config or {}
    validate_connection(provider, config, secrets or {})
    if Connection.objects.filter(project=project, name=name).exists():
        raise Conflict(f"A connection named {name!r} already exists in this project.")
    return Connection.objects.create(project=project, provider=provider, name=name,
                                     config=config, created_by=created_by,
                                     secrets_encrypted=secret_store.encrypt(secrets or {}))


def update_connection(connection: Connection, *, name: str | None = None,
                      config: dict | None = None, secrets: dict | None = None,
                      replace_secrets: bool = False) -> Connection:
    """``secrets`` updates the stored secrets when given: merged into them (the API's PATCH),
    or replacing them whole with ``replace_secrets`` (the admin's form)."""
    new_config = connection.config if config is None else config
    merged = None
    if secrets is not None:
        try:
            merged = dict(secrets) if replace_secrets else {
                **secret_store.decrypt(connection.secrets_encrypted), **secrets}
        except secret_store.SecretsError as exc:  # stored under a key no longer configured
            raise Conflict(f"{exc} Replace them all (the admin's form) or restore the key.") \
                from None
    validate_connection(connection.provider, new_config, merged)
    if name is not None and name != connection.name:
        if Connection.objects.filter(project=connection.project_id, name=name).exists():
            raise Conflict(f"A connection named {name!r} already exists in this project.")
        connection.name = name
    connection.config = new_config
    if merged is not None:
        connection.secrets_encrypted = secret_store.encrypt(merged)
    connection.save()
    return connection


def connection_secrets(connection: Connection) -> dict:
    return secret_store.decrypt(connection.secrets_encrypted)


def store_rotated_secrets(connection_id, rotated: dict) -> None:
    """Merge credentials a provider replaced during a run or check (a single-use refresh
    token) into the connection's stored secrets, committed at once: the old ones are spent,
    whatever happens to the run. Row-locked, so concurrent rotations do not lose each other's
    other secrets."""
    with transaction.atomic():
        connection = Connection.objects.select_for_update().get(pk=connection_id)
        connection.secrets_encrypted = secret_store.encrypt(
            {**secret_store.decrypt(connection.secrets_encrypted), **rotated})
        connection.save(update_fields=["secrets_encrypted", "updated_at"])
    logger.info("Stored the rotated secret(s) %s of connection %s", ", ".join(sorted(rotated)),
                connection_id)


_login_locks: dict[str, threading.Lock] = {}
_login_locks_guard = threading.Lock()


@contextmanager
def connection_login(connection_id) -> Iterator[dict | None]:
    """Serialise the logins of one connection and yield its stored secrets as they are now:
    with single-use refresh tokens, two tasks logging in at once would present the same
    token and all but one be refused. PostgreSQL: a session advisory lock (held across
    processes, and not a transaction, so a rotated token stored during the login commits
    whatever happens next); in one process also a lock per connection (SQLite)."""
    key = f"syncs.connection.login:{connection_id}"
    with _login_locks_guard:
        local = _login_locks.setdefault(key, threading.Lock())
    with local:
        database = Connection.objects.db
        postgres = db_connections[database].vendor == "postgresql"
        if postgres:
            with db_connections[database].cursor() as cursor:
                cursor.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])
        try:
            stored = Connection.objects.filter(pk=connection_id).values_list(
                "secrets_encrypted", flat=True).first()
            yield secret_store.decrypt(stored) if stored is not None else None
        finally:
            if postgres:
                with db_connections[database].cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])


def open_connection_source(connection: Connection, config: dict | None = None):
    """The connection's source (``config`` overrides its config), storing any credential the
    provider rotates while it is used. The secrets are read from the database, not from
    ``connection``: another run may have rotated them since it was loaded."""
    stored = Connection.objects.filter(pk=connection.pk).values_list(
        "secrets_encrypted", flat=True).first()
    if stored is not None:
        connection.secrets_encrypted = stored
    return open_source(connection.provider, connection.config if config is None else config,
                       connection_secrets(connection),
                       on_secrets_rotated=functools.partial(store_rotated_secrets,
                                                            connection.pk),
                       login_guard=functools.partial(connection_login, connection.pk))


def secret_names(connection: Connection) -> list[str]:
    return sorted(connection_secrets(connection))


def check_connection(connection: Connection) -> tuple[bool, str]:
    """Run the provider's connection check; record and return (ok, message)."""
    try:
        source = open_connection_source(connection)
        source.check()
        ok, message = True, "ok"
    except (CheckFailed, ConnectorUnavailable, secret_store.SecretsError) as exc:
        ok, message = False, str(exc)
    except Exception as exc:  # noqa: BLE001 - a check reports every failure, never crashes
        ok, message = False, f"{type(exc).__name__}: {exc}"
    Connection.objects.filter(pk=connection.pk).update(
        last_check_at=timezone.now(), last_check_status="ok" if ok else "failed",
        last_check_error="" if ok else message[:2000])
    connection.refresh_from_db()
    return ok, message


class ConnectionInUse(SyncStateError):
    """A connection some sync uses (archived ones included) is never deleted: the sync's runs
    are its history, and they would go with it."""

    def __init__(self, connection: Connection, syncs: list[tuple[str, str, str]]) -> None:
        self.syncs = syncs  # (slug, id, status), by slug
        named = ", ".join(f"{slug} ({pk}, {status})" for slug, pk, status in syncs)
        super().__init__(
            f"Connection {connection.name!r} is used by {len(syncs)} "
            f"sync{'s' if len(syncs) != 1 else ''}: {named}. Syncs and their runs are kept as "
            "history (archived ones too), so a connection in use cannot be deleted.")


def connection_users(connection: Connection) -> list[tuple[str, str, str]]:
    """(slug, id, status) of every sync using ``connection``, archived ones included."""
    return [(slug, str(pk), status) for slug, pk, status in
            Sync.objects.filter(connection_id=connection.pk).order_by("slug")
            .values_list("slug", "pk", "status")]


def delete_connection(connection: Connection) -> None:
    """Delete a connection no sync uses; ``ConnectionInUse`` (409) otherwise.

    Nothing is deleted along with it: a sync's runs, attempts and synced tables are deleted
    only explicitly. The row lock makes the check and the delete one decision: a sync being
    created concurrently checks its foreign key by locking the connection (key share, at its
    commit: Django's constraints are deferred), so it either committed before the check (and
    is seen) or fails its foreign key once this delete commits; ``Sync.connection`` is
    PROTECT besides."""
    with transaction.atomic():
        locked = Connection.objects.select_for_update().filter(pk=connection.pk).first()
        if locked is None:
            return  # deleted meanwhile
        users = connection_users(locked)
        if users:
            raise ConnectionInUse(locked, users)
        try:
            with transaction.atomic():
                locked.delete()
        except (ProtectedError, IntegrityError):
            raise ConnectionInUse(locked, connection_users(locked)) from None


# --- syncs: validation ----------------------------------------------------------------------

_PHYSICAL = re.compile(r"[^a-z0-9_]+")


def physical_name(project_id, logical: str) -> str:
    base = _PHYSICAL.sub("_", logical.lower()).strip("_")
    return f"t{str(project_id).replace('-', '')[:8]}_{base}"[:63]


def _resources(spec) -> dict:
    return {r.entity_key: r for r in spec.resources}


def _configured_entities(config: dict) -> dict[str, dict]:
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


def _dynamic_entities(spec, config: dict) -> set[str] | None:
    """Entities a dynamic provider knows from its configuration (None: anything goes, e.g. a
    SQL source discovering its tables at run time)."""
    configured = set(_configured_entities(config))
    if spec.key == "http_api" or configured:
        return configured | set(spec.available_resources)
    return None


def validate_sync(project, data: dict, instance: Sync | None = None) -> dict:
    """Check a sync's attributes against the catalog and the server's configuration; return
    the cleaned values. Each mistake is a 422 with the attribute's pointer."""
    cleaned = dict(data)
    # The attributes' JSON Schemas (the API's serializer checks them too; the admin and Python
    # callers come through here only).
    for name, schema in sync_schemas.SYNC_ATTRIBUTE_SCHEMAS.items():
        if name in data:
            _check_schema(schema_errors(schema, data[name]), f"/data/attributes/{name}", name)
    sla = data.get("freshness_sla_seconds")
    if sla is not None and (isinstance(sla, bool) or not isinstance(sla, int)
                            or not 0 <= sla <= sync_schemas.INT32_MAX):
        raise attribute_error("freshness_sla_seconds", "must be an integer from 0 to "
                                                       f"{sync_schemas.INT32_MAX}")
    connection = data.get("connection", instance.connection if instance else None)
    if connection is None:
        raise attribute_error("connection", "A sync needs a connection.",
                              "/data/relationships/connection")
    spec = _provider(connection.provider, "/data/relationships/connection")
    if "source_config" in data:
        overrides = data["source_config"]
        _check_schema(schema_errors(sync_schemas.source_config_schema(spec.key), overrides),
                      "/data/attributes/source_config", "source_config")
    else:
        overrides = instance.source_config if instance else {}
    config: dict = {}
    if instance is None or {"source_config", "entities", "table_bindings"} & set(data):
        # Only what reads the connection's config needs it valid: pausing a sync whose
        # connection went bad must still work.
        stored = catalog.validate_config(spec, connection.config)
        if stored:
            raise attribute_error(
                "connection", "The connection's stored config fails its provider's schema ("
                f"{sync_schemas.describe(sync_schemas.prefixed(stored, '/config'))}): fix the "
                "connection first.", "/data/relationships/connection")
        if not isinstance(overrides, dict):
            raise sync_schemas.InvalidStoredConfig(instance, [("/source_config",
                                                               "must be of type object")])
        config = {**connection.config,
                  **{k: v for k, v in overrides.items() if k != "entities"}}
        if "source_config" in data:
            _check_schema(catalog.validate_config(spec, config),
                          "/data/attributes/source_config", "source_config")
    known = _resources(spec)
    if "entities" in data or instance is None:
        dynamic = _dynamic_entities(spec, config)
        entities = data.get("entities")
        if entities is None:
            entities = list(spec.default_resources)
        for index, entity in enumerate(entities):
            allowed = entity in known or (spec.dynamic_resources and (
                dynamic is None or entity in dynamic))
            if not allowed:
                choices = sorted(known) if not spec.dynamic_resources else sorted(dynamic or [])
                raise attribute_error("entities", f"{spec.key} has no entity {entity!r}; "
                                                  f"entities: {', '.join(choices)}.",
                                      f"/data/attributes/entities/{index}")
        if len(set(entities)) != len(entities):
            raise attribute_error("entities", "Each entity may be listed once.")
        for index, entity in enumerate(entities):
            resource = known.get(entity)
            for dependency in getattr(resource, "depends_on", []) or []:
                if dependency not in entities:
                    raise attribute_error(
                        "entities", f"{entity!r} depends on {dependency!r}: select it too.",
                        f"/data/attributes/entities/{index}")
        cleaned["entities"] = entities
    entities = cleaned.get("entities", instance.entities if instance else [])
    if "table_bindings" in data and not isinstance(entities, list):
        raise sync_schemas.InvalidStoredConfig(instance, [("/entities", "must be of type array")])
    if "table_bindings" in data:
        for index, binding in enumerate(data["table_bindings"] or []):
            pointer = f"/data/attributes/table_bindings/{index}"
            entity = binding.get("entity_key")
            if entity not in entities:
                raise attribute_error("table_bindings", f"Binding for {entity!r}, which is not "
                                                        "among the sync's entities.",
                                      f"{pointer}/entity_key")
            mode = binding.get("load_mode") or getattr(known.get(entity), "load_mode",
                                                        "append_event")
            keys = binding.get("primary_key_columns")
            if keys is None:
                keys = list(getattr(known.get(entity), "primary_key", []) or [])
            if mode == "upsert" and not keys:
                raise attribute_error("table_bindings", "An upsert binding needs "
                                                        "primary_key_columns.",
                                      f"{pointer}/primary_key_columns")
    backend = data.get("execution_backend")
    if backend and backend not in settings.SYNCS_EXECUTION_BACKENDS:
        raise attribute_error("execution_backend",
                              f"The {backend} execution backend is not configured on this "
                              f"server (configured: "
                              f"{', '.join(settings.SYNCS_EXECUTION_BACKENDS)}).")
    trigger_mode = data.get("trigger_mode", instance.trigger_mode if instance else "manual")
    schedule = data.get("schedule", instance.schedule if instance else {}) or {}
    if trigger_mode == Sync.TriggerMode.SCHEDULED or "schedule" in data:
        _validate_schedule(schedule, required=trigger_mode == Sync.TriggerMode.SCHEDULED)
    if "slug" in data or instance is None:
        name = data.get("name") or (instance.name if instance else "")
        # Any name makes a slug: one without ASCII letters or digits gets a generated one.
        slug = data.get("slug") or slugify(name)[:100].strip("-_") or \
            f"sync-{uuid.uuid4().hex[:8]}"
        if slugify(slug) != slug:
            raise attribute_error("slug", "A slug is lowercase letters, digits, hyphens and "
                                          "underscores, starting and ending with a letter or "
                                          "digit.")
        clash = Sync.objects.filter(project=project, slug=slug)
        if instance is not None:
            clash = clash.exclude(pk=instance.pk)
        if clash.exists():
            raise Conflict(f"A sync with slug {slug!r} already exists in this project.")
        cleaned["slug"] = slug
    return cleaned


def _validate_schedule(schedule: Any, *, required: bool) -> None:
    """The schedule's schema (a cron that fires, an IANA zone: 422 at the member); with
    ``required`` (a scheduled sync) a cron too."""
    _check_schema(schema_errors(sync_schemas.SCHEDULE, schedule), "/data/attributes/schedule",
                  "schedule")
    if required and not schedule.get("cron"):
        raise attribute_error("schedule", "A scheduled sync needs schedule.cron, e.g. "
                                          '{"cron": "0 * * * *", "timezone": "UTC"}.',
                              "/data/attributes/schedule/cron")


def _binding_defaults(sync: Sync, spec, entity: str, given: dict | None) -> dict:
    resource = _resources(spec).get(entity)
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
    return _configured_entities({**sync.connection.config, **sync.source_config}).get(
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


# --- syncs: writes --------------------------------------------------------------------------

@transaction.atomic
def create_sync(project, data: dict, *, actor: str = "") -> Sync:
    cleaned = validate_sync(project, data)
    bindings = cleaned.pop("table_bindings", None)
    sync = Sync.objects.create(project=project, created_by=actor, updated_by=actor,
                               **{k: v for k, v in cleaned.items()})
    save_bindings(sync, bindings)
    schedule_next(sync)
    if sync.status == Sync.Status.ACTIVE and sync.trigger_mode == Sync.TriggerMode.ON_CREATE:
        trigger(sync, triggered_by=SyncRun.TriggeredBy.ON_CREATE, actor=actor)
    return sync


@transaction.atomic
def update_sync(sync: Sync, data: dict, *, actor: str = "") -> Sync:
    cleaned = validate_sync(sync.project, data, instance=sync)
    bindings = cleaned.pop("table_bindings", None)
    for name, value in cleaned.items():
        setattr(sync, name, value)
    sync.updated_by = actor
    sync.save()
    if bindings is not None or "entities" in cleaned:
        save_bindings(sync, bindings if bindings is not None else [
            {"entity_key": b.entity_key, **{f: getattr(b, f) for f in (
                "logical_table_name", "load_mode", "cursor_field", "primary_key_columns")}}
            for b in sync.table_bindings.all()])
    if "schedule" in cleaned or "trigger_mode" in cleaned or "status" in cleaned:
        schedule_next(sync)
    return sync


# --- table bindings as resources (POST/PATCH/DELETE /table-bindings, atomic operations) -----
# A binding is one entity of its sync: each write is the sync's own update (its entities and
# table_bindings), so validate_sync's rules are the only rules.

BINDING_MEMBERS = ("logical_table_name", "table_name", "table_naming_version", "load_mode",
                   "cursor_field", "primary_key_columns")


def _bindings_of(sync: Sync) -> list[dict]:
    """The stored bindings as update_sync takes them back (table_name only where it is not
    the derived one, so a renamed logical table still derives its physical name)."""
    given = []
    for binding in sync.table_bindings.all():
        values = {"entity_key": binding.entity_key,
                  **{name: getattr(binding, name) for name in BINDING_MEMBERS}}
        if binding.table_name == binding.physical_table_name:
            values.pop("table_name")
        given.append(values)
    return given


def add_binding(sync: Sync, values: dict, *, actor: str = "") -> TableBinding:
    """Bind one more entity of the sync's provider: the entity joins the sync's entities."""
    entity = values["entity_key"]
    if entity in (sync.entities or []):
        raise Conflict(f"The sync already binds {entity!r}; update that binding instead.")
    update_sync(sync, {"entities": [*(sync.entities or []), entity],
                       "table_bindings": [*_bindings_of(sync), values]}, actor=actor)
    return sync.table_bindings.get(entity_key=entity)


def update_binding(binding: TableBinding, values: dict, *, actor: str = "") -> TableBinding:
    sync = binding.sync
    given = [{**item, **values} if item["entity_key"] == binding.entity_key else item
             for item in _bindings_of(sync)]
    update_sync(sync, {"table_bindings": given}, actor=actor)
    return TableBinding.objects.get(pk=binding.pk)


def remove_binding(binding: TableBinding, *, actor: str = "") -> None:
    """Unbind an entity: it leaves the sync's entities (its synced table stays)."""
    sync = binding.sync
    update_sync(sync, {"entities": [e for e in sync.entities if e != binding.entity_key]},
                actor=actor)


def delete_sync(sync: Sync) -> None:
    """Delete a sync that has no runs (the admin's delete). A sync with runs has history: it
    is archived instead (the API's DELETE, or status ``archived``), and its runs are deleted
    only explicitly (the runs admin) before the sync itself can be."""
    with transaction.atomic():
        locked = Sync.objects.select_for_update().filter(pk=sync.pk).first()
        if locked is None:
            return  # deleted meanwhile
        if locked.runs.filter(status__in=[SyncRun.Status.PENDING,
                                          SyncRun.Status.RUNNING]).exists():
            raise SyncStateError("A run of this sync is pending or running; cancel it first.")
        runs = locked.runs.count()
        if runs:
            raise SyncStateError(
                f"This sync has {runs} run{'s' if runs != 1 else ''}, kept as history: archive "
                "it instead (status archived), or delete its runs explicitly first.")
        locked.delete()
    SyncState.objects.filter(sync_id=sync.pk).delete()


# --- runs -----------------------------------------------------------------------------------

def trigger(sync: Sync, run_mode: str = SyncRun.RunMode.INCREMENTAL, *,
            triggered_by: str = SyncRun.TriggeredBy.MANUAL, trigger_ref: str = "",
            previous: SyncRun | None = None, actor: str = "") -> SyncRun:
    """Create a pending run and its job. One active run per sync (409 otherwise); only
    active syncs (or syncs in error, to recover) run."""
    if sync.status not in TRIGGERABLE:
        raise SyncStateError(f"A {sync.status} sync cannot be triggered; activate it first.")
    root = (previous.attempt_root_run_id or previous.pk) if previous else None
    # A stored execution_config that fails today's schema (written before it, or by hand) is
    # a 409 naming the field, never a crash here or in the run.
    execution = sync_schemas.execution_config(sync)
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                project_id=sync.project_id, sync=sync, run_mode=run_mode,
                triggered_by=triggered_by, trigger_ref=trigger_ref,
                execution_backend=sync.execution_backend, execution_mode=sync.execution_mode,
                attempt_number=previous.attempt_number + 1 if previous else 1,
                attempt_root_run_id=root, previous_attempt_run=previous,
                max_auto_resume_attempts=execution["max_auto_resume_attempts"],
                summary=_initial_summary(sync))
            if previous is not None:
                SyncRun.objects.filter(pk=previous.pk).update(next_attempt_run=run)
            run.job = job_services.enqueue(RUN_JOB, {"run_id": str(run.pk)},
                                           project=sync.project, unicity=f"sync-run:{run.pk}",
                                           max_retries=0, created_by_id=actor or None,
                                           queue=execution["queue"])
            run.save(update_fields=["job"])
            run_events.created(run, actor=actor, previous=previous)
    except IntegrityError:
        raise SyncStateError("A run of this sync is already pending or running.") from None
    return run


def _initial_summary(sync: Sync) -> dict:
    return {"entities": {e: {"status": "pending", "rows_read": 0, "rows_written": 0}
                         for e in sync.entities},
            "rows_read": 0, "rows_written": 0}


def cancel_run(run: SyncRun, *, reason: str = "", actor: str = "") -> SyncRun:
    """Pending: cancelled at once. Running: cancel requested; the run stops at its next batch."""
    now = timezone.now()
    with transaction.atomic():
        cancelled = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.PENDING).update(
            status=SyncRun.Status.CANCELLED, result_class=SyncRun.ResultClass.CANCELLED,
            result_reason_code="cancelled", cancel_requested_at=now, cancel_requested_by=actor,
            cancel_reason=reason, completed_at=now, updated_at=now)
        if cancelled:
            run_events.cancelled(run, reason=reason, actor=actor)
    if cancelled:
        _cancel_jobs(run)
        return SyncRun.objects.get(pk=run.pk)
    with transaction.atomic():
        requested = SyncRun.objects.filter(pk=run.pk, status=SyncRun.Status.RUNNING).update(
            cancel_requested_at=now, cancel_requested_by=actor, cancel_reason=reason,
            updated_at=now)
        if requested:
            run_events.cancelled(run, reason=reason, actor=actor, requested=True)
    if requested:
        _cancel_jobs(run)
        return SyncRun.objects.get(pk=run.pk)
    raise SyncStateError(f"A {SyncRun.objects.get(pk=run.pk).status} run cannot be cancelled.")


def _cancel_jobs(run: SyncRun) -> None:
    jobs = Job.objects.filter(unicity__startswith=f"sync-run:{run.pk}",
                              status__in=ACTIVE_JOB_STATUSES)
    for job in jobs:
        try:
            job_services.cancel(job)
        except job_services.JobStateError:
            pass  # finished in the meantime


def retry_run(run: SyncRun, run_mode: str | None = None, *, actor: str = "") -> SyncRun:
    if run.status not in (SyncRun.Status.FAILED, SyncRun.Status.CANCELLED):
        raise SyncStateError(f"A {run.status} run cannot be retried; only failed or cancelled "
                             "runs can.")
    if run.next_attempt_run_id is not None:
        raise SyncStateError("This run was already retried; retry its latest attempt.")
    return trigger(run.sync, run_mode or run.run_mode, triggered_by=SyncRun.TriggeredBy.RETRY,
                   previous=run, actor=actor, trigger_ref=f"retry:{run.pk}")


def fail_stalled_run(run: SyncRun, reason_code: str = "heartbeat_timeout") -> SyncRun | None:
    """A run whose heartbeat stopped: failed, and resumed by a next attempt (from the last
    checkpoint) while attempts remain. A resume that cannot be triggered (bad stored config)
    leaves the run failed and the sync in ``error`` with the reason; it never raises, so the
    sweep and the reaper go on with the other runs."""
    now = timezone.now()
    error = f"The run stopped heartbeating ({reason_code})."
    with transaction.atomic():
        if not SyncRun.objects.filter(pk=run.pk, status__in=[
                SyncRun.Status.PENDING, SyncRun.Status.RUNNING]).update(
                status=SyncRun.Status.FAILED, result_class=SyncRun.ResultClass.FAILED,
                result_reason_code=reason_code, error=error, completed_at=now, updated_at=now):
            return None
        run_events.failed(run, reason_code, error)
    run.refresh_from_db()
    _cancel_jobs(run)
    record_outcome(run)
    if run.attempt_number <= run.max_auto_resume_attempts and run.sync.status in TRIGGERABLE:
        try:
            return trigger(run.sync, run.run_mode, triggered_by=SyncRun.TriggeredBy.AUTO_RESUME,
                           previous=run, trigger_ref=f"auto_resume:{run.pk}")
        except SyncStateError:
            return None
        except Exception as exc:  # noqa: BLE001 - a sync's bad data stays that sync's problem
            reason, message = describe_problem(exc, run.sync)
            _mark_sync_error(run.sync, f"Auto-resume of run {run.pk} failed: {message}")
            periodic_item_failed("syncs.auto_resume", reason, message, sync=run.sync,
                                 run_id=str(run.pk))
    return None


def record_outcome(run: SyncRun) -> None:
    """Keep the sync's status, last_success_at and last_error in step with its runs."""
    sync = run.sync
    if run.status == SyncRun.Status.SUCCEEDED:
        Sync.objects.filter(pk=sync.pk).update(
            last_success_at=run.completed_at, last_error="",
            status=Sync.Status.ACTIVE if sync.status == Sync.Status.ERROR else sync.status)
    elif run.status == SyncRun.Status.FAILED:
        Sync.objects.filter(pk=sync.pk).update(
            last_error=run.error[:2000],
            status=Sync.Status.ERROR if sync.status == Sync.Status.ACTIVE else sync.status)


def sweep_stalled_runs(timeout_seconds: float | None = None) -> list[SyncRun]:
    """Runs that stopped heartbeating (their worker died and the job is gone or finished).
    Each run is handled on its own: one that raises is logged and counted
    (``periodic_sweep_errors_total``) and the sweep goes on with the others."""
    timeout = timeout_seconds if timeout_seconds is not None \
        else settings.SYNCS_RUN_HEARTBEAT_TIMEOUT_SECONDS
    cutoff = timezone.now() - timedelta(seconds=timeout)
    resumed = []
    for run in SyncRun.objects.filter(status=SyncRun.Status.RUNNING,
                                      last_heartbeat_at__lt=cutoff).select_related("sync"):
        try:
            if run.job_id and Job.objects.filter(pk=run.job_id,
                                                 status__in=ACTIVE_JOB_STATUSES).exists() and \
                    Job.objects.filter(pk=run.job_id, heartbeat_at__gte=cutoff).exists():
                continue  # its job is alive (e.g. fan-out children still running)
            next_run = fail_stalled_run(run)
        except Exception as exc:  # noqa: BLE001 - one run never stops the sweep
            reason, message = describe_problem(exc, run.sync)
            periodic_item_failed("syncs.sweep", reason, message, sync=run.sync,
                                 run_id=str(run.pk), exc_info=exc)
            continue
        if next_run:
            resumed.append(next_run)
    return resumed


# --- periodic work: one item that cannot be evaluated never stops a pass ---------------------

def describe_problem(exc: BaseException, sync: Sync | None = None) -> tuple[str, str]:
    """(reason code, message naming the field at fault) for an error met while evaluating
    ``sync`` in a periodic pass. Reason codes are few and fixed (a metric label)."""
    if isinstance(exc, ScheduleError):
        return exc.reason, exc.message
    pointer = getattr(exc, "pointer", None)
    if isinstance(pointer, str) and pointer.startswith("/data/"):
        field = pointer.removeprefix("/data/attributes/").removeprefix("/data/").replace(
            "/", ".")
        return "invalid_config", f"{field}: {getattr(exc, 'detail', exc)}"
    if sync is not None:
        diagnosed = _stored_config_problem(sync)
        if diagnosed:
            return "invalid_config", diagnosed
    return "unexpected_error", f"{type(exc).__name__}: {exc}"


def _stored_config_problem(sync: Sync) -> str | None:
    """After a trigger raised something that names no field: the stored execution_config
    values a trigger reads, checked as the trigger reads them, to name the culprit."""
    config = sync.execution_config
    if not isinstance(config, dict):
        return f"execution_config must be an object, not {type(config).__name__}."
    attempts = config.get("max_auto_resume_attempts", 2)
    try:
        if isinstance(attempts, bool):
            raise TypeError
        int(attempts)
    except (TypeError, ValueError, OverflowError):
        return f"execution_config.max_auto_resume_attempts: {attempts!r} is not an integer."
    if not isinstance(config.get("queue", "default"), str):
        return f"execution_config.queue: {config.get('queue')!r} is not a queue name."
    return None


def _mark_sync_error(sync: Sync, message: str, **changes: Any) -> int:
    """Put the reason on the sync (``last_error``) and move an active sync to ``error``;
    ``changes`` and their conditions (``where``) apply in the same UPDATE."""
    where = changes.pop("where", {})
    return Sync.objects.filter(pk=sync.pk, **where).update(
        last_error=message[:2000], updated_at=timezone.now(),
        status=Case(When(status=Sync.Status.ACTIVE, then=Value(Sync.Status.ERROR)),
                    default=F("status")), **changes)


def periodic_item_failed(task: str, reason: str, message: str, *, sync: Sync | None = None,
                         exc_info: BaseException | None = None, **fields: str) -> None:
    """The log line and metric of an item a periodic pass skipped: ``task`` names the pass
    (``syncs.schedule``, ``syncs.sweep``, ``syncs.auto_resume``)."""
    from syncservice.observability import metrics

    if sync is not None:
        fields = {"sync_id": str(sync.pk), "sync": sync.slug,
                  "project_id": str(sync.project_id), **fields}
    logger.warning("%s skipped %s: %s", task, fields.get("sync", "an item"), message,
                   exc_info=exc_info,
                   extra={"task": task, "reason": reason, "problem": message, **fields})
    try:
        if task == SCHEDULE_JOB:
            metrics.SCHEDULE_ERRORS.labels(reason=reason).inc()
        else:
            metrics.SWEEP_ERRORS.labels(sweep=task, reason=reason).inc()
    except Exception:  # noqa: BLE001 - counting must never stop the pass
        logger.exception("Could not count a %s error", task)


# --- scheduling -----------------------------------------------------------------------------

class ScheduleError(Exception):
    """A stored schedule the scheduler cannot evaluate: ``reason`` (a metric label), the
    ``field`` at fault and a message naming it."""

    def __init__(self, reason: str, field: str, message: str) -> None:
        super().__init__(message)
        self.reason, self.field, self.message = reason, field, message

    @property
    def pointer(self) -> str:
        return "/data/attributes/" + self.field.replace(".", "/")


def _slot_after(schedule: Any, moment: datetime) -> datetime:
    """The first cron slot of ``schedule`` after ``moment`` (UTC); ``ScheduleError`` for a
    schedule that cannot be evaluated (not a cron, an unknown zone, a cron that never
    fires such as 30 February)."""
    if not isinstance(schedule, dict):
        raise ScheduleError("schedule_invalid", "schedule",
                            f"schedule must be an object, not {type(schedule).__name__}.")
    cron, zone = schedule.get("cron"), schedule.get("timezone") or "UTC"
    if not isinstance(cron, str) or not cron.strip():
        raise ScheduleError("schedule_cron_invalid", "schedule.cron",
                            f"schedule.cron {cron!r} is not a cron expression.")
    try:
        tz = ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError("schedule_timezone_invalid", "schedule.timezone",
                            f"schedule.timezone {zone!r} is not a known time zone.") from None
    try:
        return croniter(cron, moment.astimezone(tz)).get_next(datetime).astimezone(UTC)
    except CroniterBadDateError:
        raise ScheduleError("schedule_cron_never_fires", "schedule.cron",
                            f"schedule.cron {cron!r} never fires (no date matches it).") \
            from None
    except (CroniterError, ValueError, TypeError, KeyError, AttributeError, OverflowError):
        raise ScheduleError("schedule_cron_invalid", "schedule.cron",
                            f"schedule.cron {cron!r} is not a cron expression.") from None


def schedule_next(sync: Sync) -> None:
    """Set the next cron slot of a scheduled sync (None for the others); a schedule that
    cannot be evaluated is a 422 naming the field."""
    if sync.trigger_mode == Sync.TriggerMode.SCHEDULED and isinstance(sync.schedule, dict) \
            and sync.schedule.get("cron"):
        try:
            next_run = _slot_after(sync.schedule, timezone.now())
        except ScheduleError as exc:
            raise attribute_error("schedule", exc.message, exc.pointer) from None
    else:
        next_run = None
    Sync.objects.filter(pk=sync.pk).update(next_run_at=next_run)
    sync.next_run_at = next_run


def run_due_schedules(now: datetime | None = None) -> list[SyncRun]:
    """Trigger every scheduled sync whose slot has come, exactly once per slot: the slot is
    claimed by a conditional UPDATE, so concurrent schedulers cannot both win it.

    Each sync is evaluated on its own, whatever project it belongs to: one that cannot be (a
    stored schedule or execution_config that is bad, a trigger that raises) is put in
    ``error`` with the reason in ``last_error``, logged and counted
    (``syncs_schedule_errors_total{reason}``); its slot is consumed all the same (moved to
    the next one, or cleared when the schedule itself cannot be evaluated: a fixed schedule
    sets it again), so it is not retried in a loop; and the pass goes on with the others."""
    now = now or timezone.now()
    triggered = []
    due = Sync.objects.filter(trigger_mode=Sync.TriggerMode.SCHEDULED,
                              status__in=TRIGGERABLE, next_run_at__lte=now)
    for sync in due.select_related("project").order_by("next_run_at", "pk"):
        try:
            run = _run_slot(sync, now)
        except Exception as exc:  # noqa: BLE001 - one sync never stops every project's pass
            _schedule_failed(sync, exc, now)
            continue
        if run is not None:
            triggered.append(run)
    return triggered


def _run_slot(sync: Sync, now: datetime) -> SyncRun | None:
    slot = sync.next_run_at
    following = _slot_after(sync.schedule, max(now, slot))
    # Claim and trigger in one transaction: a trigger that raises hands the slot back, for
    # _schedule_failed to consume with the reason.
    with transaction.atomic():
        claimed = Sync.objects.filter(pk=sync.pk, next_run_at=slot).update(
            next_run_at=following)
        if not claimed:
            return None  # another scheduler took this slot
        try:
            return trigger(sync, triggered_by=SyncRun.TriggeredBy.SCHEDULE,
                           trigger_ref=f"schedule:{slot.isoformat()}")
        except SyncStateError as exc:  # e.g. the previous slot's run still going: skipped
            logger.info("Skipped slot %s of %s: %s", slot, sync.slug, exc)
            return None


def _schedule_failed(sync: Sync, exc: Exception, now: datetime) -> None:
    """Mark ``sync`` with why it could not be evaluated and consume its slot (only the
    scheduler whose conditional UPDATE wins reports it)."""
    reason, message = describe_problem(exc, sync)
    slot = sync.next_run_at
    following = None
    if not isinstance(exc, ScheduleError):
        try:
            following = _slot_after(sync.schedule, max(now, slot))
        except ScheduleError:
            following = None
    try:
        marked = _mark_sync_error(sync, f"Scheduler: {message}", next_run_at=following,
                                  where={"next_run_at": slot})
    except Exception:  # noqa: BLE001 - still reported below; the pass goes on
        logger.exception("Could not mark scheduled sync %s", sync.pk)
        marked = 1
    if marked:
        periodic_item_failed(SCHEDULE_JOB, reason, message, sync=sync,
                             exc_info=exc if reason == "unexpected_error" else None)


def catalog_entry(provider: str) -> dict[str, Any] | None:
    spec = catalog.get_provider(provider)
    return spec.to_catalog() if spec else None
