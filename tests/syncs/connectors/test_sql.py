"""The postgres and sqlserver connectors (syncs.connectors.sql).

The source is a real PostgreSQL database on 127.0.0.1 created for each test (whatever the
warehouse database of the run, SQLite or PostgreSQL); a bad password is answered by a small
stub speaking the PostgreSQL wire protocol (the local server trusts every login); SQL Server
runs on a stub driver module, or none at all.
"""

import logging
import socket
import sys
import types

import orjson
import pytest
from django.db import connection as db

from syncs.connectors import CheckFailed, ConnectorUnavailable, open_source
from syncs.connectors.sql import SQLSERVER_MISSING
from syncs.models import Sync, SyncRun
from tests.conftest import body
from tests.syncs.fakes.postgres import RejectingPostgres
from tests.syncs.source_db import execute, source_database

pytestmark = pytest.mark.timeout(60)

PASSWORD = "pw-Zq81-never-shown"


@pytest.fixture
def source_db():
    with source_database("sql_source", """
        CREATE TABLE orders (id integer PRIMARY KEY, customer text, total numeric(10, 2),
                             note text, updated_at timestamptz);
        CREATE TABLE "Order Lines" (id integer PRIMARY KEY, "Order Id" integer,
                                    sku text, seq bigint);
        CREATE VIEW paid_orders AS SELECT id, total FROM orders WHERE total > 20;
        INSERT INTO orders VALUES
          (1, 'ann', 10.50, 'vip 100%', '2026-01-01T00:00:00Z'),
          (2, 'bob', 20.00, NULL,       '2026-01-02T00:00:00Z'),
          (3, 'cy',  30.25, 'vip',      '2026-01-03T00:00:00Z'),
          (4, 'dee', 40.00, NULL,       '2026-01-03T00:00:00Z'),
          (5, 'eve', 50.75, NULL,       '2026-01-03T00:00:00Z');
        INSERT INTO "Order Lines" VALUES (1, 1, 'a', 10), (2, 1, 'b', 11), (3, 2, 'c', 12);
    """) as name:
        yield name


def pg_config(database: str, **extra) -> dict:
    return {"host": "127.0.0.1", "port": 5432, "database": database, "username": "postgres",
            "sslmode": "disable", **extra}


def read_all(source, entity, cursor=None):
    batches = list(source.read(entity, cursor=cursor))
    return [r for b in batches for r in b.records], [b.cursor for b in batches]


# --- reading ------------------------------------------------------------------------------------

def test_full_then_incremental_read_with_a_server_side_cursor(source_db):
    config = pg_config(source_db, fetch_size=2, tables=[
        {"table": "orders", "cursor_field": "updated_at", "primary_key": ["id"]}])
    source = open_source("postgres", config, {"password": PASSWORD})
    records, cursors = read_all(source, "public_orders")
    assert [r["id"] for r in records] == [1, 2, 3, 4, 5]
    assert records[0] == {"id": 1, "customer": "ann", "total": "10.50", "note": "vip 100%",
                          "updated_at": "2026-01-01T00:00:00+00:00"}
    # Fetches of 2 rows; rows 3-5 share one updated_at: the checkpoint never lands inside
    # that group (rows sharing the last value of a fetch wait for the next batch).
    assert cursors == ["2026-01-01T00:00:00+00:00", "2026-01-02T00:00:00+00:00",
                       "2026-01-03T00:00:00+00:00"]
    orjson.dumps(records)  # JSON-serializable throughout

    execute(source_db, "UPDATE orders SET total = 11, updated_at = '2026-01-05' WHERE id = 1;"
                       "INSERT INTO orders VALUES (6, 'fay', 60, NULL, '2026-01-04');")
    records, cursors = read_all(source, "public_orders", cursor=cursors[-1])
    assert [(r["id"], r["total"]) for r in records] == [(6, "60.00"), (1, "11.00")]
    assert cursors[-1] == "2026-01-05T00:00:00+00:00"
    assert read_all(source, "public_orders", cursor=cursors[-1]) == ([], [])


def test_columns_where_quoted_identifiers_queries_and_discovery(source_db):
    config = pg_config(source_db, fetch_size=100, tables=[
        {"table": "Order Lines", "name": "lines", "columns": ["id", "Order Id"],
         "cursor_field": "seq", "where": "sku <> 'b'"},
        {"table": "orders"},  # no cursor: re-read in full
    ], queries=[{"name": "vip", "sql": "SELECT id, note FROM orders WHERE note LIKE 'vip%';",
                 "cursor_field": "id"}])
    source = open_source("postgres", config, {})
    records, cursors = read_all(source, "lines")
    assert records == [{"id": 1, "Order Id": 1, "seq": 10}, {"id": 3, "Order Id": 2, "seq": 12}]
    assert cursors == [12]
    assert read_all(source, "lines", cursor=12) == ([], [])
    records, cursors = read_all(source, "public_orders", cursor="2030-01-01")
    assert len(records) == 5 and cursors == [None]
    records, cursors = read_all(source, "vip")
    assert [r["id"] for r in records] == [1, 3] and cursors == [3]
    assert read_all(source, "vip", cursor=1)[0] == [{"id": 3, "note": "vip"}]
    with pytest.raises(KeyError, match="public_paid_orders"):
        list(source.read("public_paid_orders"))

    # No tables configured: every table and view of the schemas is an entity.
    discovered = open_source("postgres", pg_config(source_db), {})
    assert [r["id"] for r in read_all(discovered, "public_paid_orders")[0]] == [3, 4, 5]
    assert len(read_all(discovered, "public_order_lines")[0]) == 3


def test_check(source_db):
    open_source("postgres", pg_config(source_db), {"password": PASSWORD}).check()
    with pytest.raises(CheckFailed, match="Cannot connect to PostgreSQL") as failure:
        open_source("postgres", pg_config("no_such_database_xyz"), {"password": PASSWORD}
                    ).check()
    assert PASSWORD not in str(failure.value)


@pytest.fixture
def rejecting_server():
    server = RejectingPostgres()
    yield server
    server.stop()


def test_bad_password_is_a_clear_check_failure_without_the_password(rejecting_server, api):
    config = {"host": "127.0.0.1", "port": rejecting_server.port, "database": "app",
              "username": "reader"}
    with pytest.raises(CheckFailed) as failure:
        open_source("postgres", config, {"password": PASSWORD}).check()
    message = str(failure.value)
    assert rejecting_server.passwords == [PASSWORD]  # it was sent, and is not shown
    assert PASSWORD not in message
    assert "password authentication failed" in message and "'reader'" in message
    assert failure.value.__cause__ is None and failure.value.__suppress_context__

    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "postgres", "name": "pg", "config": config,
        "secrets": {"password": PASSWORD}})
    assert response.status_code == 201, response.content
    checked = api.post(f"/api/v1/connections/{body(response)['data']['id']}/check")
    attributes = body(checked)["data"]["attributes"]
    assert attributes["last_check_status"] == "failed"
    assert "password" in attributes["last_check_error"]
    assert PASSWORD.encode() not in checked.content


# --- end to end ---------------------------------------------------------------------------------

def trigger(api, sync_id):
    response = api.send_document("post", f"/api/v1/syncs/{sync_id}/trigger", "sync-triggers",
                                 {"run_mode": "incremental"})
    assert response.status_code == 202, response.content
    return SyncRun.objects.get(pk=body(response)["data"]["id"])


def test_end_to_end_full_then_incremental_into_the_warehouse(api, run_job, source_db, caplog):
    caplog.set_level(logging.DEBUG)
    config = pg_config(source_db, fetch_size=2,
                       tables=[{"table": "orders", "cursor_field": "updated_at",
                                "primary_key": ["id"]}],
                       queries=[{"name": "vip", "sql": "SELECT id, note FROM orders "
                                                       "WHERE note LIKE 'vip%'"}])
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "postgres", "name": "pg", "config": config,
        "secrets": {"password": PASSWORD}})
    assert response.status_code == 201, response.content
    connection_id = body(response)["data"]["id"]
    check = body(api.post(f"/api/v1/connections/{connection_id}/check"))
    assert check["data"]["attributes"]["last_check_status"] == "ok"
    document = {"data": {"type": "syncs", "attributes": {
        "name": "Orders", "entities": ["public_orders", "vip"], "status": "active",
        "table_bindings": [
            {"entity_key": "public_orders", "load_mode": "upsert",
             "primary_key_columns": ["id"], "cursor_field": "updated_at"},
            {"entity_key": "vip", "load_mode": "replace", "primary_key_columns": ["id"]}]},
        "relationships": {"connection": {"data": {"type": "connections",
                                                  "id": connection_id}}}}}
    response = api.post("/api/v1/syncs", data=orjson.dumps(document),
                        content_type="application/vnd.api+json")
    assert response.status_code == 201, response.content
    sync = Sync.objects.get(pk=body(response)["data"]["id"])
    orders = sync.table_bindings.get(entity_key="public_orders").physical_table_name
    vip = sync.table_bindings.get(entity_key="vip").physical_table_name

    run = trigger(api, sync.pk)
    run_job(run.job_id)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.summary["entities"]["public_orders"]["rows_read"] == 5
    assert run.summary["entities"]["public_orders"]["cursor"] == "2026-01-03T00:00:00+00:00"
    with db.cursor() as cursor:
        cursor.execute(f'SELECT id, total, customer FROM "{orders}" ORDER BY id')
        assert [tuple(r) for r in cursor.fetchall()] == [
            (1, "10.50", "ann"), (2, "20.00", "bob"), (3, "30.25", "cy"), (4, "40.00", "dee"),
            (5, "50.75", "eve")]
        cursor.execute(f'SELECT id FROM "{vip}" ORDER BY id')
        assert [r[0] for r in cursor.fetchall()] == [1, 3]

    execute(source_db, "UPDATE orders SET total = 11, updated_at = '2026-01-05' WHERE id = 1;"
                       "INSERT INTO orders VALUES (6, 'fay', 60, 'vip', '2026-01-04');")
    run = trigger(api, sync.pk)
    run_job(run.job_id)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    assert run.summary["entities"]["public_orders"]["rows_read"] == 2  # only what changed
    assert run.summary["entities"]["vip"]["rows_read"] == 3  # no cursor: re-read in full
    with db.cursor() as cursor:
        cursor.execute(f'SELECT id, total FROM "{orders}" ORDER BY id')
        rows = [tuple(r) for r in cursor.fetchall()]
        cursor.execute(f'SELECT id FROM "{vip}" ORDER BY id')
        assert [r[0] for r in cursor.fetchall()] == [1, 3, 6]
    assert len(rows) == 6 and rows[0] == (1, "11.00") and rows[5] == (6, "60.00")
    assert PASSWORD not in caplog.text


def test_a_failing_read_reports_no_secret(api, run_job, rejecting_server, caplog):
    caplog.set_level(logging.DEBUG)
    config = {"host": "127.0.0.1", "port": rejecting_server.port, "database": "app",
              "username": "reader", "tables": [{"table": "orders"}]}
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "postgres", "name": "pg", "config": config,
        "secrets": {"password": PASSWORD}})
    document = {"data": {"type": "syncs", "attributes": {
        "name": "Orders", "entities": ["public_orders"], "status": "active"},
        "relationships": {"connection": {"data": {"type": "connections",
                                                  "id": body(response)["data"]["id"]}}}}}
    response = api.post("/api/v1/syncs", data=orjson.dumps(document),
                        content_type="application/vnd.api+json")
    run = trigger(api, body(response)["data"]["id"])
    run_job(run.job_id)
    run.refresh_from_db()
    assert run.status == "failed"
    assert "password authentication failed" in run.error
    assert PASSWORD not in run.error and PASSWORD not in caplog.text


# --- sqlserver ----------------------------------------------------------------------------------

MSSQL_CONFIG = {"host": "sql.example.com", "database": "erp", "username": "reader",
                "tables": [{"table": "SalesOrder]s", "cursor_field": "ModifiedDate",
                            "where": "Amount > 5 AND Code LIKE 'A%'"}]}


def test_sqlserver_without_a_driver_is_a_clear_error(monkeypatch, api):
    monkeypatch.setitem(sys.modules, "pyodbc", None)  # import fails
    monkeypatch.setitem(sys.modules, "pymssql", None)
    with pytest.raises(ConnectorUnavailable, match=r"pip install 'pymssql>=2.3,<3'"):
        open_source("sqlserver", MSSQL_CONFIG, {"password": PASSWORD})
    attributes = checked_through_the_api(api, MSSQL_CONFIG)
    assert attributes["last_check_status"] == "failed"
    assert attributes["last_check_error"] == SQLSERVER_MISSING


def checked_through_the_api(api, config: dict) -> dict:
    """The attributes of a new sqlserver connection with ``config``, once checked."""
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": "sqlserver", "name": "mssql", "config": config,
        "secrets": {"password": PASSWORD}})
    assert response.status_code == 201, response.content
    return body(api.post(f"/api/v1/connections/{body(response)['data']['id']}/check")
                )["data"]["attributes"]


def test_sqlserver_has_a_driver_out_of_the_box():
    """pymssql (FreeTDS bundled in its wheels) is a runtime dependency: no extra, no system
    ODBC driver."""
    import tomllib
    from pathlib import Path

    import pymssql

    from syncs.connectors.sql import sqlserver_driver

    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    assert any(d.startswith("pymssql") for d in pyproject["project"]["dependencies"])
    kind, module, _ = sqlserver_driver()
    assert kind in ("pymssql", "pyodbc")
    assert kind == "pyodbc" or module is pymssql


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_sqlserver_check_against_a_closed_port_is_a_connection_error(api):
    config = {"host": "127.0.0.1", "port": _closed_port(), "database": "erp",
              "username": "reader", "encrypt": False}
    with pytest.raises(CheckFailed) as failed:
        open_source("sqlserver", config, {"password": PASSWORD}).check()
    message = str(failed.value)
    assert message.startswith("Cannot connect to ") and "'reader'" in message
    assert "not installed" not in message and PASSWORD not in message
    # Through the API too: the check fails on the connection, not on a missing driver.
    attributes = checked_through_the_api(api, config)
    assert attributes["last_check_status"] == "failed"
    assert attributes["last_check_error"].startswith("Cannot connect to ")


class FakeMssqlCursor:
    def __init__(self, log, rows):
        self.log, self.rows, self.description = log, rows, None

    def execute(self, query, params=None):
        self.log.append((query, params))
        self.description = [("SalesOrderID",), ("ModifiedDate",)]

    def fetchmany(self, size):
        chunk, self.rows[:] = self.rows[:size], self.rows[size:]
        return chunk

    def fetchall(self):
        return self.fetchmany(len(self.rows))

    def close(self):
        pass


def test_sqlserver_statements_on_pymssql(monkeypatch):
    import datetime as dt

    log: list = []
    rows = [(1, dt.datetime(2026, 1, 1, 8)), (2, dt.datetime(2026, 1, 2, 9))]
    connects: list = []

    def connect(**kwargs):
        connects.append(kwargs)
        connection = types.SimpleNamespace(
            cursor=lambda: FakeMssqlCursor(log, rows), close=lambda: None,
            rollback=lambda: None)
        return connection

    monkeypatch.setitem(sys.modules, "pyodbc", None)
    monkeypatch.setitem(sys.modules, "pymssql", types.SimpleNamespace(connect=connect))
    # The server's name resolves to a public address: the driver is given that address (the
    # one the SSRF guard checked), not the name.
    real_getaddrinfo = socket.getaddrinfo
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, port, *a, **k: (
        [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "",
          ("93.184.216.34", int(port)))] if host == "sql.example.com"
        else real_getaddrinfo(host, port, *a, **k)))
    # FreeTDS cannot verify the certificate: the default (a verified server) is refused
    # before any connection is attempted; accepting it unverified must be asked for.
    with pytest.raises(CheckFailed, match="cannot verify the server's certificate"):
        list(open_source("sqlserver", MSSQL_CONFIG, {"password": PASSWORD}).read(
            "dbo_salesorder_s"))
    assert connects == []
    source = open_source("sqlserver", {**MSSQL_CONFIG, "trust_server_certificate": True},
                         {"password": PASSWORD})
    batches = list(source.read("dbo_salesorder_s", cursor="2025-12-31T00:00:00"))
    assert connects[0]["server"] == "93.184.216.34"
    assert log == [("SELECT * FROM [dbo].[SalesOrder]]s] WHERE (Amount > 5 AND Code LIKE "
                    "'A%%') AND [ModifiedDate] > %s ORDER BY [ModifiedDate] ASC",
                    ("2025-12-31T00:00:00",))]
    assert [b.records for b in batches] == [[
        {"SalesOrderID": 1, "ModifiedDate": "2026-01-01T08:00:00"},
        {"SalesOrderID": 2, "ModifiedDate": "2026-01-02T09:00:00"}]]
    assert batches[-1].cursor == "2026-01-02T09:00:00"
    assert connects[0]["port"] == "1433" and connects[0]["password"] == PASSWORD
    assert connects[0]["encryption"] == "require"  # encrypt defaults to true
