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
