"""The file connectors (syncs.connectors.files): local folders, S3 against a local moto server,
SFTP against a local paramiko server started by the tests. Each reads its files in full, then
only the files modified since (modification times set with os.utime, or new S3 uploads)."""

import gzip
import json
import logging
import os
import time
import uuid

import orjson
import paramiko
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from django.db import connection as db

from syncs.connectors import CheckFailed, open_source
from syncs.connectors.files import LocalFileSource
from syncs.models import Sync, SyncRun
from tests.conftest import body
from tests.syncs.fakes.s3 import start_moto
from tests.syncs.fakes.sftp import SftpServer

pytestmark = pytest.mark.timeout(60)

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
SECRET = "s3cr3t-Kq7/never+shown"


def iso(epoch: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def write(path, content, mtime=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        content = content.encode()
    path.write_bytes(content)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def parquet_bytes(columns: dict) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue().to_pybytes()


def collect(source, entity, cursor=None):
    batches = list(source.read(entity, cursor=cursor))
    return [r for b in batches for r in b.records], [b.cursor for b in batches]


# --- local files: formats and the modified-time cursor ------------------------------------------

def test_local_formats_full_then_incremental_by_mtime(tmp_path):
    write(tmp_path / "in/orders_1.csv", "# exported\nid;name\n1;Ann\n2;Bob\n3;Cy\n", T0)
    write(tmp_path / "in/orders_2.csv", "#\nid;name\n4;Dee\n", T0 + 60)
    write(tmp_path / "in/events.jsonl.gz", gzip.compress(b'{"e": 1}\n\n{"e": 2}\n'), T0)
    write(tmp_path / "in/lines.tsv", "7\tx\n8\ty\n", T0)
    write(tmp_path / "in/doc.json", json.dumps([{"k": "a"}, {"k": "b"}]), T0)
    write(tmp_path / "in/metrics.parquet", parquet_bytes({
        "m": [1.5, 2.5], "at": pa.array([1767225600000, 1767225660000],
                                        type=pa.timestamp("ms", tz="UTC"))}), T0)
    source = LocalFileSource({"root_path": str(tmp_path), "streams": [
        {"name": "orders", "globs": ["in/orders_*.csv"], "format": "csv",
         "csv": {"delimiter": ";", "skip_rows": 1}},
        {"name": "events", "globs": [str(tmp_path / "in/*.jsonl.gz")], "format": "jsonl"},
        {"name": "lines", "globs": ["in/*.tsv"], "format": "tsv", "csv": {"header": False}},
        {"name": "doc", "globs": ["in/*.json"], "format": "json"},
        {"name": "metrics", "globs": ["in/*.parquet"], "format": "parquet"},
    ]}, batch_size=2)

    records, cursors = collect(source, "orders")
    assert [(r["id"], r["name"], r["_file_row"]) for r in records] == [
        ("1", "Ann", 1), ("2", "Bob", 2), ("3", "Cy", 3), ("4", "Dee", 1)]
    assert records[0]["_file_path"] == str(tmp_path / "in/orders_1.csv")
    assert records[0]["_file_last_modified"] == "2026-01-01T00:00:00Z"
    # Batches of 2: the cursor moves only when a file is done.
    assert cursors == [None, "2026-01-01T00:00:00Z", "2026-01-01T00:01:00Z"]
    events, _ = collect(source, "events")
    assert [(r["e"], r["_file_row"]) for r in events] == [(1, 1), (2, 2)]
    lines, _ = collect(source, "lines")
    assert [(r["column_1"], r["column_2"]) for r in lines] == [("7", "x"), ("8", "y")]
    assert [r["k"] for r in collect(source, "doc")[0]] == ["a", "b"]
    metrics, _ = collect(source, "metrics")
    assert [(r["m"], r["at"]) for r in metrics] == [
        (1.5, "2026-01-01T00:00:00+00:00"), (2.5, "2026-01-01T00:01:00+00:00")]
    orjson.dumps(metrics)

    # Incremental: only files modified after the cursor; one at the cursor is not re-read.
    cursor = cursors[-1]
    assert collect(source, "orders", cursor) == ([], [])
    write(tmp_path / "in/orders_3.csv", "#\nid;name\n5;Eve\n", T0 + 60)  # same time as cursor
    write(tmp_path / "in/orders_4.csv", "#\nid;name\n6;Fay\n", T0 + 120)
    os.utime(tmp_path / "in/orders_1.csv", (T0 + 180, T0 + 180))
    records, cursors = collect(source, "orders", cursor)
    assert [r["id"] for r in records] == ["6", "1", "2", "3"]
    assert cursors[-1] == "2026-01-01T00:03:00Z"


def test_files_sharing_a_time_move_the_cursor_together(tmp_path):
    for name in ("a", "b", "c"):
        write(tmp_path / f"{name}.jsonl", '{"x": 1}\n', T0)
    write(tmp_path / "d.jsonl", '{"x": 1}\n', T0 + 1)
    source = LocalFileSource({"root_path": str(tmp_path), "streams": [
        {"name": "s", "globs": ["*.jsonl"], "format": "jsonl"}]})
    records, cursors = collect(source, "s")
    assert [r["_file_path"][-7:] for r in records] == ["a.jsonl", "b.jsonl", "c.jsonl",
                                                       "d.jsonl"]
    assert cursors == [None, None, iso(T0), iso(T0 + 1)]


def test_replace_streams_and_start_date(tmp_path):
    write(tmp_path / "old.csv", "id\n1\n", T0 - 86400)
    write(tmp_path / "new.csv", "id\n2\n", T0)
    streams = [{"name": "all", "globs": ["*.csv"], "load_mode": "replace"},
               {"name": "recent", "globs": ["*.csv"]}]
    source = LocalFileSource({"root_path": str(tmp_path), "streams": streams,
                              "start_date": "2026-01-01T00:00:00Z"})
    # start_date keeps the files modified at or after it; replace ignores the cursor.
    assert [r["id"] for r in collect(source, "recent")[0]] == ["2"]
    assert collect(source, "recent", cursor=iso(T0 + 10)) == ([], [])
    assert [r["id"] for r in collect(source, "all", cursor=iso(T0 + 10))[0]] == ["2"]
    source.config["start_date"] = None
    assert [r["id"] for r in collect(source, "all", cursor=iso(T0 + 10))[0]] == ["1", "2"]
    with pytest.raises(KeyError, match="entities: all, recent"):
        list(source.read("nope"))


def test_csv_byte_order_mark_and_ragged_rows(tmp_path):
    write(tmp_path / "excel.csv", "\ufeffid,name\r\n1,Ann,extra\r\n\r\n2\r\n".encode(), T0)
    source = LocalFileSource({"root_path": str(tmp_path), "streams": [
        {"name": "s", "globs": ["*.csv"]}]})
    records, _ = collect(source, "s")
    assert [{k: v for k, v in r.items() if not k.startswith("_file")} for r in records] == [
        {"id": "1", "name": "Ann", "column_3": "extra"}, {"id": "2"}]


def test_xlsx(tmp_path):
    import openpyxl

    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["sku", "qty"])
    sheet.append(["a", 3])
    sheet.append([None, None])
    sheet.append(["b", 4])
    workbook.save(tmp_path / "stock.xlsx")
    source = LocalFileSource({"root_path": str(tmp_path), "streams": [
        {"name": "stock", "globs": ["*.xlsx"], "format": "xlsx"}]})
    records, _ = collect(source, "stock")
    assert [(r["sku"], r["qty"], r["_file_row"]) for r in records] == [("a", 3, 1), ("b", 4, 2)]


# --- shared end-to-end helpers ------------------------------------------------------------------

def create_sync(api, provider, config, secrets, entities, bindings=None):
    response = api.send_document("post", "/api/v1/connections", "connections", {
        "provider": provider, "name": provider, "config": config, "secrets": secrets})
    assert response.status_code == 201, response.content
    connection_id = body(response)["data"]["id"]
    attributes = {"name": provider, "entities": entities, "status": "active"}
    if bindings:
        attributes["table_bindings"] = bindings
    document = {"data": {"type": "syncs", "attributes": attributes, "relationships": {
        "connection": {"data": {"type": "connections", "id": connection_id}}}}}
    response = api.post("/api/v1/syncs", data=orjson.dumps(document),
                        content_type="application/vnd.api+json")
    assert response.status_code == 201, response.content
    return connection_id, Sync.objects.get(pk=body(response)["data"]["id"])


def run_sync(api, run_job, sync):
    response = api.send_document("post", f"/api/v1/syncs/{sync.pk}/trigger", "sync-triggers",
                                 {"run_mode": "incremental"})
    assert response.status_code == 202, response.content
    run = SyncRun.objects.get(pk=body(response)["data"]["id"])
    run_job(run.job_id)
    run.refresh_from_db()
    assert run.status == "succeeded", run.error
    return {entity: summary["rows_read"] for entity, summary in run.summary["entities"].items()}


def rows(sync, entity, columns):
    table = sync.table_bindings.get(entity_key=entity).physical_table_name
    with db.cursor() as cursor:
        cursor.execute(f'SELECT {columns} FROM "{table}" ORDER BY {columns}')
        return [tuple(r) for r in cursor.fetchall()]


def check(api, connection_id):
    response = api.post(f"/api/v1/connections/{connection_id}/check")
    return body(response)["data"]["attributes"], response.content


# --- S3 (moto server) ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def moto_url():
    server, url = start_moto()
    yield url
    server.stop()


@pytest.fixture
def bucket(moto_url):
    import boto3

    client = boto3.client("s3", endpoint_url=moto_url, region_name="us-east-1",
                          aws_access_key_id="AKIAIOSFODNN7EXAMPLE",
                          aws_secret_access_key=SECRET)
    name = f"exports-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=name)
    return name, client


def test_s3_end_to_end_full_then_incremental(api, run_job, moto_url, bucket, caplog):
    caplog.set_level(logging.DEBUG)
    name, client = bucket
    client.put_object(Bucket=name, Key="exports/orders/a.csv", Body=b"id,amount\n1,10\n2,20\n")
    client.put_object(Bucket=name, Key="exports/orders/b.csv", Body=b"id,amount\n3,30\n")
    client.put_object(Bucket=name, Key="exports/events/e.jsonl.gz",
                      Body=gzip.compress(b'{"id": "e1"}\n{"id": "e2"}\n'))
    client.put_object(Bucket=name, Key="exports/metrics/m.parquet",
                      Body=parquet_bytes({"id": [1, 2, 3], "v": [0.5, 1.5, 2.5]}))
    config = {"bucket": name, "endpoint_url": moto_url, "force_path_style": True,
              "prefix": "exports/", "streams": [
                  {"name": "orders", "globs": ["exports/orders/*.csv"], "format": "csv",
                   "load_mode": "upsert", "primary_key": ["_file_path", "_file_row"]},
                  {"name": "events", "globs": ["exports/events/*.jsonl.gz"],
                   "format": "jsonl"},
                  {"name": "metrics", "globs": ["exports/metrics/*.parquet"],
                   "format": "parquet"}]}
    secrets = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": SECRET}
    connection_id, sync = create_sync(api, "s3", config, secrets,
                                      ["orders", "events", "metrics", "objects"])
    attributes, content = check(api, connection_id)
    assert attributes["last_check_status"] == "ok", attributes

    assert run_sync(api, run_job, sync) == {"orders": 3, "events": 2, "metrics": 3,
                                            "objects": 4}
    assert rows(sync, "orders", "file_path, file_row, id, amount") == [
        ("exports/orders/a.csv", 1, "1", "10"), ("exports/orders/a.csv", 2, "2", "20"),
        ("exports/orders/b.csv", 1, "3", "30")]
    assert rows(sync, "metrics", "id, v") == [(1, 0.5), (2, 1.5), (3, 2.5)]
    assert len(rows(sync, "objects", "key, size")) == 4

    time.sleep(1.1)  # S3 modification times have whole seconds
    client.put_object(Bucket=name, Key="exports/orders/a.csv", Body=b"id,amount\n1,11\n2,22\n")
    client.put_object(Bucket=name, Key="exports/orders/c.csv", Body=b"id,amount\n4,40\n")
    assert run_sync(api, run_job, sync) == {"orders": 3, "events": 0, "metrics": 0,
                                            "objects": 2}
    assert rows(sync, "orders", "id, amount") == [("1", "11"), ("2", "22"), ("3", "30"),
                                                  ("4", "40")]
    assert len(rows(sync, "objects", "key, size")) == 5
    assert SECRET not in caplog.text


def test_s3_check_failures(moto_url, bucket):
    secrets = {"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE", "aws_secret_access_key": SECRET}
    with pytest.raises(CheckFailed, match="no such bucket") as failure:
        open_source("s3", {"bucket": "missing-bucket", "endpoint_url": moto_url},
                    secrets).check()
    assert SECRET not in str(failure.value)
    with pytest.raises(CheckFailed) as failure:
        open_source("s3", {"bucket": bucket[0], "endpoint_url": "http://127.0.0.1:9"},
                    secrets).check()
    assert "Cannot list" in str(failure.value) and SECRET not in str(failure.value)


# --- SFTP (a paramiko server in a thread) -------------------------------------------------------

@pytest.fixture
def sftp_server():
    server = SftpServer("sftp-pw-Mx91")
    yield server
    server.stop()


def test_sftp_libraries_are_runtime_dependencies():
    """The sftp provider works out of the box: fsspec and paramiko come with the service, not
    with an extra."""
    import tomllib
    from pathlib import Path

    pyproject = tomllib.loads((Path(__file__).parents[3] / "pyproject.toml").read_text())
    names = {d.split(">")[0].split("[")[0] for d in pyproject["project"]["dependencies"]}
    assert {"fsspec", "paramiko"} <= names


def test_sftp_end_to_end_full_then_incremental(api, run_job, sftp_server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    root = tmp_path / "sftp"
    write(root / "outbound/orders_1.csv", "id,amount\n1,10\n2,20\n", T0)
    write(root / "outbound/orders_2.csv", "id,amount\n3,30\n", T0 + 60)
    write(root / "outbound/events.jsonl", '{"id": "e1"}\n', T0)
    write(root / "outbound/metrics.parquet", parquet_bytes({"id": [1, 2]}), T0)
    config = {"host": "127.0.0.1", "port": sftp_server.port, "username": "loader",
              "root_path": str(root), "host_key": sftp_server.host_key_line,
              "timeout_seconds": 10, "streams": [
                  {"name": "orders", "globs": ["outbound/orders_*.csv"], "format": "csv",
                   "load_mode": "upsert", "primary_key": ["_file_path", "_file_row"]},
                  {"name": "events", "globs": [str(root / "outbound/*.jsonl")],
                   "format": "jsonl"},
                  {"name": "metrics", "globs": ["outbound/*.parquet"], "format": "parquet"}]}
    connection_id, sync = create_sync(api, "sftp", config, {"password": sftp_server.password},
                                      ["orders", "events", "metrics", "files"])
    attributes, _ = check(api, connection_id)
    assert attributes["last_check_status"] == "ok", attributes

    assert run_sync(api, run_job, sync) == {"orders": 3, "events": 1, "metrics": 2, "files": 4}
    assert rows(sync, "orders", "id, amount") == [("1", "10"), ("2", "20"), ("3", "30")]
    assert rows(sync, "files", "name, size, modified_at")[0] == (
        "events.jsonl", 13, "2026-01-01T00:00:00Z")

    write(root / "outbound/orders_1.csv", "id,amount\n1,11\n2,22\n", T0 + 120)
    write(root / "outbound/orders_3.csv", "id,amount\n4,40\n", T0 + 60)  # = the cursor
    write(root / "outbound/orders_4.csv", "id,amount\n5,50\n", T0 + 180)
    assert run_sync(api, run_job, sync) == {"orders": 3, "events": 0, "metrics": 0, "files": 2}
    assert rows(sync, "orders", "id, amount") == [("1", "11"), ("2", "22"), ("3", "30"),
                                                  ("5", "50")]
    assert sftp_server.password not in caplog.text


def test_sftp_check_failures_and_private_key(sftp_server, tmp_path):
    import io

    config = {"host": "127.0.0.1", "port": sftp_server.port, "username": "loader",
              "root_path": str(tmp_path), "timeout_seconds": 10}
    with pytest.raises(CheckFailed, match="authentication failed") as failure:
        open_source("sftp", config, {"password": "wrong-pw-Tz55"}).check()
    assert "wrong-pw-Tz55" not in str(failure.value)
    other = paramiko.RSAKey.generate(1024)
    with pytest.raises(CheckFailed, match="host key") as failure:
        open_source("sftp", {**config, "host_key": f"ssh-rsa {other.get_base64()}"},
                    {"password": sftp_server.password}).check()
    assert sftp_server.password not in str(failure.value)
    with pytest.raises(CheckFailed, match="not a directory"):
        open_source("sftp", {**config, "root_path": str(tmp_path / "missing")},
                    {"password": sftp_server.password}).check()
    pem = io.StringIO()
    sftp_server.client_key.write_private_key(pem)
    open_source("sftp", {**config, "host_key": sftp_server.host_key_line},
                {"private_key": pem.getvalue()}).check()
