"""PostgreSQL end to end through the API against a real PostgreSQL source database on
127.0.0.1 (skipped when none answers there).

Auth handshake: the local server trusts every login, so the wrong password is refused by a
stub speaking the PostgreSQL protocol (tests/syncs/fakes/postgres.py, SQLSTATE 28P01).
Paging: rows are fetched ``fetch_size`` (2 here) at a time from a server-side cursor; the
fetches are not visible through the API (one statement, no per-page requests), so the
batches are asserted at the source level (tests/syncs/connectors/test_sql.py). Rate limit:
does not apply (a database has no 429). Incremental: the second run reads
``updated_at > <checkpoint>``, seen in what it reads (the changed rows only) and in its
checkpoint."""

import socket

import pytest

from tests.syncs.e2e.harness import (
    check_status,
    create_connection,
    create_sync,
    run_sync,
    table_rows,
)
from tests.syncs.fakes.postgres import RejectingPostgres
from tests.syncs.source_db import execute, source_database


def postgres_answers() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 5432), timeout=1).close()
        return True
    except OSError:
        return False


pytestmark = pytest.mark.skipif(not postgres_answers(),
                                reason="no PostgreSQL source server on 127.0.0.1:5432")


@pytest.fixture
def source_db():
    with source_database("e2e_source", """
        CREATE TABLE orders (id integer PRIMARY KEY, customer text, updated_at timestamptz);
        INSERT INTO orders VALUES (1, 'ann', '2026-01-01Z'), (2, 'bob', '2026-01-02Z'),
                                  (3, 'cy', '2026-01-03Z'), (4, 'dee', '2026-01-04Z'),
                                  (5, 'eve', '2026-01-05Z');""") as name:
        yield name


def test_postgres_end_to_end(api, run_job, source_db):
    rejecting = RejectingPostgres()
    try:
        wrong = create_connection(api, "postgres", {
            "host": "127.0.0.1", "port": rejecting.port, "database": source_db,
            "username": "reader", "sslmode": "disable"}, {"password": "wrong-password"},
            name="pg wrong")
        status, error = check_status(api, wrong)
    finally:
        rejecting.stop()
    assert status == "failed" and "password authentication failed" in error, error
    assert rejecting.passwords == ["wrong-password"]

    config = {"host": "127.0.0.1", "port": 5432, "database": source_db,
              "username": "postgres", "sslmode": "disable", "fetch_size": 2,
              "tables": [{"table": "orders", "cursor_field": "updated_at",
                          "primary_key": ["id"]}]}
    connection = create_connection(api, "postgres", config, {"password": "unused-by-trust"})
    assert check_status(api, connection) == ("ok", "")
    sync = create_sync(api, connection, ["public_orders"], table_bindings=[
        {"entity_key": "public_orders", "load_mode": "upsert", "primary_key_columns": ["id"],
         "cursor_field": "updated_at"}])
    run = run_sync(api, run_job, sync)
    summary = run.summary["entities"]["public_orders"]
    assert summary["rows_read"] == 5
    assert summary["cursor"] == "2026-01-05T00:00:00+00:00"
    assert table_rows(sync, "public_orders", ["id", "customer"]) == [
        (1, "ann"), (2, "bob"), (3, "cy"), (4, "dee"), (5, "eve")]

    execute(source_db, "UPDATE orders SET customer = 'bob2', updated_at = '2026-01-07Z' "
                       "WHERE id = 2; INSERT INTO orders VALUES (6, 'fay', '2026-01-08Z');")
    run = run_sync(api, run_job, sync)
    summary = run.summary["entities"]["public_orders"]
    assert summary["rows_read"] == 2  # updated_at > the checkpoint: the changed rows only
    assert summary["cursor"] == "2026-01-08T00:00:00+00:00"
    assert table_rows(sync, "public_orders", ["id", "customer"]) == [
        (1, "ann"), (2, "bob2"), (3, "cy"), (4, "dee"), (5, "eve"), (6, "fay")]
