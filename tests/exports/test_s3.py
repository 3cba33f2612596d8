"""Exports on S3 storage (django-storages against a local moto server): files are uploaded
when complete, downloads redirect to a signed, expiring URL, deletes remove the objects."""

import socket
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from exports.models import Export
from tests.conftest import body

boto3 = pytest.importorskip("boto3", reason="S3 tests need boto3 (the s3 extra)")
moto_server = pytest.importorskip("moto.server", reason="S3 tests need moto[server]")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    port = free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def s3_storage(settings, s3_endpoint):
    bucket = "exports-test"
    client = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": bucket, "endpoint_url": s3_endpoint,
                    "access_key": "test", "secret_key": "test", "region_name": "us-east-1",
                    "querystring_auth": True, "querystring_expire": 120,
                    "addressing_style": "path", "file_overwrite": False}}}
    return client, bucket


def test_export_to_s3_and_signed_download(api, project, make_job, run_job, s3_storage):
    client, bucket = s3_storage
    make_job(project, "exports.demo")
    response = api.send_document("post", "/api/v1/exports/export", "exports",
                                 {"resource_type": "jobs", "format": "csv",
                                  "filters": {"job_class": "exports.demo"}})
    export = Export.objects.get(pk=body(response)["data"]["id"])
    run_job(export.job_id)
    export.refresh_from_db()
    assert export.status == "success", export.errors_log
    export_file = export.files.get()
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == [export_file.storage_name]
    download = api.get(f"/api/v1/exports/{export.pk}/download")
    assert download.status_code == 302
    location = download["Location"]
    assert "X-Amz-Signature=" in location or "Signature=" in location
    fetched = httpx.get(location, timeout=10)
    assert fetched.status_code == 200
    assert fetched.content.decode().splitlines()[0].startswith("id,")
    assert len(fetched.content) == export_file.size
    # moto does not check signatures; the expiry is ours to check: about 120 s from now.
    expires = int(parse_qs(urlsplit(location).query)["Expires"][0])
    assert 60 < expires - time.time() <= 125
    assert api.delete(f"/api/v1/exports/{export.pk}").status_code == 204
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount", 0) == 0


PART_SIZE = 5 * 1024 * 1024  # S3's (and moto's) smallest part


@pytest.fixture
def big_table(transactional_db, project):
    """A table whose CSV export is about 7.5 parts: 15,000 rows of 2.6 kB."""
    from django.db import connection

    from exports import registry
    from exports.tables import TableResource

    with connection.cursor() as cursor:
        cursor.execute('DROP TABLE IF EXISTS "tt_big"')
        cursor.execute('CREATE TABLE "tt_big" (id integer PRIMARY KEY, note text)')
        cursor.executemany('INSERT INTO "tt_big" VALUES (%s, %s)',
                           [(i, f"{i:06d}" + "x" * 2600) for i in range(15000)])
    registry.register(TableResource("tt_big", "tt_big"))
    yield "tt_big"
    registry._registry.pop("tt_big", None)
    with connection.cursor() as cursor:
        cursor.execute('DROP TABLE IF EXISTS "tt_big"')


@pytest.fixture(scope="module")
def s3_process_endpoint():
    """moto's server in a process of its own: the test process's allocations are ours only."""
    import subprocess
    import sys

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p",
                               str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline and server.poll() is None, "no moto server"
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(10)


def test_a_large_export_is_uploaded_in_parts_without_holding_the_file(
        project, run_job, settings, s3_process_endpoint, big_table):
    """The build writes the file to a temporary file, then streams it to the object store as
    a multipart upload, a part at a time: the process never holds the whole file."""
    import tracemalloc

    from exports.services import ExportRequest, create_export

    client = boto3.client("s3", endpoint_url=s3_process_endpoint, region_name="us-east-1",
                          aws_access_key_id="test", aws_secret_access_key="test")
    bucket = "exports-parts"
    client.create_bucket(Bucket=bucket)
    settings.STORAGES = {**settings.STORAGES, "default": {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {"bucket_name": bucket, "endpoint_url": s3_process_endpoint,
                    "access_key": "test", "secret_key": "test", "region_name": "us-east-1",
                    "addressing_style": "path", "file_overwrite": False}}}
    export = create_export(project, ExportRequest(resource_type=big_table, format="csv"))
    tracemalloc.start()
    try:
        run_job(export.job_id)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    export.refresh_from_db()
    assert export.status == "success", export.errors_log
    export_file = export.files.get()
    assert export_file.size > 7 * PART_SIZE and export_file.records_count == 15000
    head = client.head_object(Bucket=bucket, Key=export_file.storage_name, PartNumber=1)
    assert head["PartsCount"] == 8  # seven whole parts and the rest
    assert head["ContentLength"] == PART_SIZE
    assert client.head_object(Bucket=bucket, Key=export_file.storage_name)["ETag"].endswith(
        '-8"')
    # Python's allocations peaked under the file's size, at what does not grow with it: a
    # batch of 2,000 rows of 2.6 kB (5 MB, with the copies its decoding makes), and a part
    # (buffered, read and sent). Uploaded by boto3's upload_fileobj, ten parts were read
    # ahead: the whole file.
    assert peak < export_file.size * 0.8, (peak, export_file.size)
    whole = client.get_object(Bucket=bucket, Key=export_file.storage_name)["Body"].read()
    assert len(whole) == export_file.size
    assert whole.startswith(b"id,note\r\n0,000000xxx") and whole.endswith(b"x\r\n")
