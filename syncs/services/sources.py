"""A connection's source at work: opened with the connection's current secrets, credentials a
provider rotates stored at once, and logins of one connection serialised."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import connections as db_connections
from django.db import transaction

from syncs import secrets as secret_store
from syncs.connectors import open_source
from syncs.models import Connection

logger = logging.getLogger("syncs")


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
            stored = _stored_secrets(connection_id)
            yield secret_store.decrypt(stored) if stored is not None else None
        finally:
            if postgres:
                with db_connections[database].cursor() as cursor:
                    cursor.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])


def open_connection_source(connection: Connection, config: dict | None = None):
    """The connection's source (``config`` overrides its config), storing any credential the
    provider rotates while it is used. The secrets are read from the database, not from
    ``connection``: another run may have rotated them since it was loaded."""
    stored = _stored_secrets(connection.pk)
    if stored is not None:
        connection.secrets_encrypted = stored
    return open_source(connection.provider, connection.config if config is None else config,
                       connection_secrets(connection),
                       on_secrets_rotated=functools.partial(store_rotated_secrets,
                                                            connection.pk),
                       login_guard=functools.partial(connection_login, connection.pk))


def _stored_secrets(connection_id):
    """The connection's encrypted secrets as the database has them now (None: deleted)."""
    return Connection.objects.filter(pk=connection_id).values_list(
        "secrets_encrypted", flat=True).first()
