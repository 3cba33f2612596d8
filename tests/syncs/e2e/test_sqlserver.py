"""SQL Server through the API, as far as this machine allows: there is no SQL Server here, so
the auth handshake, paging (fetch_size), incremental runs, rate limits and warehouse rows
cannot be tested end to end. What is tested: the connection's config is validated when it
is created (JSON:API 422 errors pointing at the field), and a check against a closed local
port fails with a clear connection error (not a missing driver, no secret). Skipped when no
SQL Server driver (pymssql or pyodbc) is importable."""

import socket

import pytest

from syncs.connectors import ConnectorUnavailable
from syncs.connectors.sql import sqlserver_driver
from tests.conftest import body
from tests.syncs.e2e.harness import check_status, create_connection


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
