"""Source databases of the postgres connector's tests: real databases on the local
PostgreSQL server (127.0.0.1:5432, which trusts every login), one per test, dropped after."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

ADMIN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres connect_timeout=5"


def execute(database: str, statement: str) -> None:
    """``statement`` (one or more, ``;``-separated) in ``database``, committed."""
    with psycopg.connect(f"host=127.0.0.1 port=5432 user=postgres dbname={database}") as conn:
        conn.execute(statement)


@contextmanager
def source_database(prefix: str, setup: str) -> Iterator[str]:
    """A new database named ``<prefix>_<random>`` with ``setup`` run in it; its name, then it is
    dropped (``WITH (FORCE)``: connections a test left open do not keep it)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        execute(name, setup)
        yield name
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
