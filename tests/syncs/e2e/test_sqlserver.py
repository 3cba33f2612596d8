"""SQL Server end to end through the API, against a fake SQL Server speaking TDS on 127.0.0.1
(tests/syncs/fakes/tds.py: there is no SQL Server on this machine). The connector connects
with pymssql (FreeTDS), unencrypted (``encrypt: false``; the fake offers no TLS).

Auth handshake: a wrong password is refused by the fake with error 18456 ("Login failed for
user"), the right one passes. Paging: rows are fetched ``fetch_size`` (2 here) at a time with
``fetchmany``; FreeTDS reads the whole result of the one statement from the wire, so the fetches
are not visible to the fake (nor through the API): the run's rows and checkpoint are asserted,
the batches at the source level in tests/syncs/connectors/test_sql.py. Rate limit: does not
apply (a database has no 429). Incremental: the second run's statement, as the fake received
it, asks ``WHERE [ModifiedDate] > <checkpoint>``, and the warehouse holds each row once.

Also: the connection's config is validated when it is created (JSON:API 422 errors pointing at
the field), and a check against a closed local port fails with a clear connection error (not a
missing driver, no secret). Skipped when no SQL Server driver (pymssql or pyodbc) is
importable."""

import datetime as dt
import socket

import pytest

from syncs.connectors import ConnectorUnavailable
from syncs.connectors.sql import sqlserver_driver, sqlserver_source
from tests.conftest import body
from tests.syncs.e2e.harness import (
    check_status,
    create_connection,
    create_sync,
    run_sync,
    table_rows,
)
from tests.syncs.fakes.tds import FakeSqlServer, Table


def driver_missing() -> bool:
    try:
        sqlserver_driver()
        return False
    except ConnectorUnavailable:
        return True


pytestmark = pytest.mark.skipif(driver_missing(), reason="no SQL Server driver (pymssql or "
                                                         "pyodbc) is importable")
PASSWORD = "mssql-s3cr3t-pw"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def invalid(api, config: dict) -> list[dict]:
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "sqlserver", "name": "mssql", "config": config,
        "secrets": {"password": PASSWORD}})
    assert response.status_code == 422, response.content
    return body(response)["errors"]


def test_sqlserver_connection_validation_and_a_closed_port(api):
    config = {"host": "127.0.0.1", "port": closed_port(), "database": "erp",
              "username": "reader", "encrypt": False,
              "tables": [{"schema": "dbo", "table": "SalesOrderHeader",
                          "cursor_field": "ModifiedDate", "primary_key": ["SalesOrderID"]}]}
    errors = invalid(api, {k: v for k, v in config.items() if k != "host"})
    assert any(e["source"]["pointer"].startswith("/data/attributes/config") and
               "host" in (e["detail"] + e["source"]["pointer"]) for e in errors), errors
    errors = invalid(api, {**config, "port": "not-a-port"})
    assert any(e["source"]["pointer"] == "/data/attributes/config/port" for e in errors), errors

    connection = create_connection(api, "sqlserver", config, {"password": PASSWORD})
    status, error = check_status(api, connection)
    assert status == "failed", error
    assert error.startswith("Cannot connect to ") and "'reader'" in error, error
    assert "not installed" not in error and PASSWORD not in error


@pytest.fixture
def fake_sqlserver():
    orders = Table(
        [("OrderID", int), ("Customer", str), ("Amount", float), ("ModifiedDate", dt.datetime)],
        [(1, "ann", 10.5, dt.datetime(2026, 1, 1)), (2, "bob", 20.0, dt.datetime(2026, 1, 2)),
         (3, "cy", None, dt.datetime(2026, 1, 3)), (4, "dee", 40.25, dt.datetime(2026, 1, 4)),
         (5, "eve", 50.0, dt.datetime(2026, 1, 5, 6, 7, 8))])
    server = FakeSqlServer("reader", PASSWORD, {("dbo", "Orders"): orders})
    yield server
    server.stop()


# The warehouse names columns in lower case (PostgreSQL folds them; SQLite ignores case).
WAREHOUSE_COLUMNS = ["orderid", "customer", "amount"]


def reads(fake: FakeSqlServer) -> list[str]:
    return [s for s in fake.statements if "[dbo].[Orders]" in s]


def orders_config(fake: FakeSqlServer) -> dict:
    return {"host": "127.0.0.1", "port": fake.port, "database": "erp", "username": "reader",
            "encrypt": False, "fetch_size": 2,
            "tables": [{"schema": "dbo", "table": "Orders", "cursor_field": "ModifiedDate",
                        "primary_key": ["OrderID"]}]}


def test_sqlserver_source_reads_fetch_size_batches(fake_sqlserver):
    """The paging the API cannot show: 5 rows fetched 2 at a time. The last row of a fetch
    may share its cursor value with the next fetch's first, so it goes on to the next batch:
    batches of 1, 2 and 2 rows, each with the checkpoint of its own last row. The values arrive
    typed (int, str, float, None, ISO datetimes)."""
    source = sqlserver_source(orders_config(fake_sqlserver), {"password": PASSWORD})
    batches = list(source.read("dbo_orders"))
    assert [[r["OrderID"] for r in b.records] for b in batches] == [[1], [2, 3], [4, 5]]
    assert [b.cursor for b in batches] == [
        "2026-01-01T00:00:00", "2026-01-03T00:00:00", "2026-01-05T06:07:08"]
    assert batches[1].records[1] == {"OrderID": 3, "Customer": "cy", "Amount": None,
                                     "ModifiedDate": "2026-01-03T00:00:00"}


def test_sqlserver_end_to_end(api, run_job, fake_sqlserver):
    fake = fake_sqlserver
    config = orders_config(fake)
    wrong = create_connection(api, "sqlserver", config, {"password": "wrong-password"},
                              name="mssql wrong")
    status, error = check_status(api, wrong)
    assert status == "failed", error
    assert "Login failed for user 'reader'" in error, error
    assert "The password of 'reader' was rejected: check the password." in error, error
    assert "wrong-password" not in error
    connection = create_connection(api, "sqlserver", config, {"password": PASSWORD})
    assert check_status(api, connection) == ("ok", "")
    assert fake.logins == [("reader", False), ("reader", True)]
    assert "SELECT 1" in fake.statements

    sync = create_sync(api, connection, ["dbo_orders"], table_bindings=[
        {"entity_key": "dbo_orders", "load_mode": "upsert", "primary_key_columns": ["OrderID"],
         "cursor_field": "ModifiedDate"}])
    run = run_sync(api, run_job, sync)
    summary = run.summary["entities"]["dbo_orders"]
    assert summary["rows_read"] == 5
    assert summary["cursor"] == "2026-01-05T06:07:08"
    assert reads(fake) == ["SELECT * FROM [dbo].[Orders] ORDER BY [ModifiedDate] ASC"]
    assert table_rows(sync, "dbo_orders", WAREHOUSE_COLUMNS, "orderid") == [
        (1, "ann", 10.5), (2, "bob", 20.0), (3, "cy", None), (4, "dee", 40.25), (5, "eve", 50.0)]

    # The source changes: bob is updated (a newer ModifiedDate), fay is new.
    orders = fake.tables[("dbo", "Orders")]
    with fake.lock:
        orders.rows[1] = (2, "bob2", 21.0, dt.datetime(2026, 1, 7))
        orders.rows.append((6, "fay", 60.0, dt.datetime(2026, 1, 8)))
    fake.statements.clear()
    run = run_sync(api, run_job, sync)
    summary = run.summary["entities"]["dbo_orders"]
    assert reads(fake) == ["SELECT * FROM [dbo].[Orders] WHERE [ModifiedDate] > "
                           "N'2026-01-05T06:07:08' ORDER BY [ModifiedDate] ASC"]
    assert summary["rows_read"] == 2  # the changed rows only
    assert summary["cursor"] == "2026-01-08T00:00:00"
    assert table_rows(sync, "dbo_orders", WAREHOUSE_COLUMNS, "orderid") == [
        (1, "ann", 10.5), (2, "bob2", 21.0), (3, "cy", None), (4, "dee", 40.25),
        (5, "eve", 50.0), (6, "fay", 60.0)]
