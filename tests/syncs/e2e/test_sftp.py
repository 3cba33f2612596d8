"""SFTP end to end through the API against a local SFTP server (paramiko, in a thread:
tests/syncs/fakes/sftp.py): password authentication (a wrong password refused) and the
server's host key pinned in the config.

Paging: does not apply (an SFTP directory listing is one answer); the files are read as
several files. Rate limit: does not apply (SFTP has no 429). Incremental: the second run
lists again and reads only the files modified after the checkpoint (by mtime)."""

import os

import pytest

from tests.syncs.e2e.harness import (
    check_status,
    create_connection,
    create_sync,
    run_sync,
    table_rows,
)
from tests.syncs.fakes.sftp import SftpServer

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


@pytest.fixture
def sftp_server():
    server = SftpServer("sftp-s3cr3t-pw")
    yield server
    server.stop()


def write(path, content: str, mtime: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content)
    os.utime(path, (mtime, mtime))


def test_sftp_end_to_end(api, run_job, sftp_server, tmp_path):
    root = tmp_path / "sftp"
    write(root / "outbound/orders_1.csv", "id,amount\n1,10\n2,20\n", T0)
    write(root / "outbound/orders_2.csv", "id,amount\n3,30\n", T0 + 60)
    config = {"host": "127.0.0.1", "port": sftp_server.port, "username": "loader",
              "root_path": str(root), "host_key": sftp_server.host_key_line,
              "timeout_seconds": 10, "streams": [
                  {"name": "orders", "globs": ["outbound/orders_*.csv"], "format": "csv",
                   "load_mode": "upsert", "primary_key": ["id"]}]}
    wrong = create_connection(api, "sftp", config, {"password": "wrong-password"},
                              name="sftp wrong")
    status, error = check_status(api, wrong)
    assert status == "failed" and "authentication failed" in error, error
    connection = create_connection(api, "sftp", config, {"password": sftp_server.password})
    assert check_status(api, connection) == ("ok", "")
    sync = create_sync(api, connection, ["orders"])
    run = run_sync(api, run_job, sync)
    assert run.summary["entities"]["orders"]["rows_read"] == 3
    assert table_rows(sync, "orders", ["id", "amount"]) == [("1", "10"), ("2", "20"),
                                                            ("3", "30")]

    write(root / "outbound/orders_1.csv", "id,amount\n1,11\n2,20\n", T0 + 120)
    write(root / "outbound/orders_3.csv", "id,amount\n4,40\n", T0 + 180)
    run = run_sync(api, run_job, sync)
    assert run.summary["entities"]["orders"]["rows_read"] == 3  # orders_1 again, orders_3
    assert table_rows(sync, "orders", ["id", "amount"]) == [
        ("1", "11"), ("2", "20"), ("3", "30"), ("4", "40")]
