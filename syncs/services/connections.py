"""Connections: validated against their provider's schemas (and the network guard), created,
updated (secrets merged or replaced), checked, and deleted only while no sync uses them."""

from __future__ import annotations

from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils import timezone

from syncs import secrets as secret_store
from syncs.connectors import CheckDeadline, CheckFailed, ConnectorUnavailable
from syncs.models import Connection, Sync
from syncs.providers import base as catalog
from syncs.services.errors import SyncStateError, attribute_error, check_schema
from syncs.services.provider_catalog import provider_spec
from syncs.services.sources import connection_secrets, open_connection_source
from syncservice import netguard
from syncservice.jsonapi.errors import Conflict


def validate_connection(provider: str, config: dict, secrets: dict | None) -> None:
    spec = provider_spec(provider)
    check_schema(catalog.validate_config(spec, config), "/data/attributes/config", "config")
    try:
        netguard.check_config(config)
    except netguard.UnsafeDestination as exc:
        raise attribute_error("config", str(exc), f"/data/attributes/config{exc.pointer}") \
            from None
    if secrets is not None:
        check_schema(catalog.validate_secrets(spec, secrets), "/data/attributes/secrets",
                     "secrets")


def check_name_free(project, name: str, *, exclude=None) -> None:
    """A connection's name is unique in its project (409 otherwise); ``exclude`` is the pk of
    the connection being renamed."""
    taken = Connection.objects.filter(project=project, name=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude)
    if taken.exists():
        raise Conflict(f"A connection named {name!r} already exists in this project.")


def create_connection(project, *, provider: str, name: str, config: dict | None = None,
                      secrets: dict | None = None, created_by: str = "") -> Connection:
    config = config or {}
    validate_connection(provider, config, secrets or {})
    check_name_free(project, name)
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
        check_name_free(connection.project_id, name)
        connection.name = name
    connection.config = new_config
    if merged is not None:
        connection.secrets_encrypted = secret_store.encrypt(merged)
    connection.save()
    return connection


def secret_names(connection: Connection) -> list[str]:
    return sorted(connection_secrets(connection))


def check_connection(connection: Connection) -> tuple[bool, str]:
    """Run the provider's connection check; record and return (ok, message). It answers an
    API request: the source has ``SYNCS_CHECK_SECONDS`` in all (opening it included), and a
    source that does not answer by then is a failed check saying so."""
    deadline = CheckDeadline.start()
    try:
        source = open_connection_source(connection)
        source.check(deadline)
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
