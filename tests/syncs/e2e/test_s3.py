"""S3 end to end through the API against moto's server on 127.0.0.1 with authentication
switched on: requests are signed (SigV4) with an IAM user's access key created in moto and
allowed by its policy; a wrong secret key is refused (SignatureDoesNotMatch).

Paging: ListObjectsV2 pages at 1,000 keys (not configurable: the connector has no page size),
so a listing of a few objects is one page; the objects are read as several files. Rate
limit: does not apply to moto (S3's 503 SlowDown is retried by botocore). Incremental:
S3 lists have no modified-since filter; the second run lists again and reads only the
objects modified after the checkpoint (asserted by what it reads)."""

import json
import time
import uuid

import boto3
import pytest

from tests.syncs.e2e.harness import (
    check_status,
    create_connection,
    create_sync,
    run_sync,
    table_rows,
)
from tests.syncs.fakes.s3 import set_free_actions, start_moto


@pytest.fixture
def moto():
    server, url = start_moto()
    yield url
    set_free_actions(url, float("inf"))  # moto's settings are process-wide: switch back
    server.stop()


def iam_user_key(url: str, bucket: str) -> tuple[str, str]:
    """An access key of a new IAM user allowed to read and write ``bucket``."""
    iam = boto3.client("iam", endpoint_url=url, region_name="us-east-1",
                       aws_access_key_id="AKIAIOSFODNN7EXAMPLE", aws_secret_access_key="x")
    name = f"loader-{uuid.uuid4().hex[:6]}"
    iam.create_user(UserName=name)
    iam.put_user_policy(UserName=name, PolicyName="bucket", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*",
                                                "Resource": [f"arn:aws:s3:::{bucket}",
                                                             f"arn:aws:s3:::{bucket}/*"]}]}))
    key = iam.create_access_key(UserName=name)["AccessKey"]
    return key["AccessKeyId"], key["SecretAccessKey"]


def test_s3_end_to_end(api, run_job, moto):
    bucket = f"exports-{uuid.uuid4().hex[:8]}"
    set_free_actions(moto, 3)  # the three IAM calls below; every request after is checked
    key_id, secret = iam_user_key(moto, bucket)
    s3 = boto3.client("s3", endpoint_url=moto, region_name="us-east-1",
                      aws_access_key_id=key_id, aws_secret_access_key=secret)
    s3.create_bucket(Bucket=bucket)
    for name, body in [("a.csv", b"id,amount\n1,10\n2,20\n"), ("b.csv", b"id,amount\n3,30\n"),
                       ("c.csv", b"id,amount\n4,40\n")]:
        s3.put_object(Bucket=bucket, Key=f"exports/orders/{name}", Body=body)
    config = {"bucket": bucket, "endpoint_url": moto, "force_path_style": True,
              "prefix": "exports/", "streams": [
                  {"name": "orders", "globs": ["exports/orders/*.csv"], "format": "csv",
                   "load_mode": "upsert", "primary_key": ["id"]}]}
    wrong = create_connection(api, "s3", config, {"aws_access_key_id": key_id,
                                                  "aws_secret_access_key": "wrong/secret"},
                              name="s3 wrong")
    status, error = check_status(api, wrong)
    assert status == "failed" and "access denied" in error, error
    connection = create_connection(api, "s3", config, {"aws_access_key_id": key_id,
                                                       "aws_secret_access_key": secret})
    assert check_status(api, connection) == ("ok", "")
    sync = create_sync(api, connection, ["orders"])
    run = run_sync(api, run_job, sync)
    assert run.summary["entities"]["orders"]["rows_read"] == 4
    assert table_rows(sync, "orders", ["id", "amount", "file_path"]) == [
        ("1", "10", "exports/orders/a.csv"), ("2", "20", "exports/orders/a.csv"),
        ("3", "30", "exports/orders/b.csv"), ("4", "40", "exports/orders/c.csv")]

    time.sleep(1.1)  # S3 modification times have whole seconds
    s3.put_object(Bucket=bucket, Key="exports/orders/a.csv", Body=b"id,amount\n1,11\n2,20\n")
    s3.put_object(Bucket=bucket, Key="exports/orders/d.csv", Body=b"id,amount\n5,50\n")
    run = run_sync(api, run_job, sync)
    assert run.summary["entities"]["orders"]["rows_read"] == 3  # a.csv again and d.csv
    assert table_rows(sync, "orders", ["id", "amount"]) == [
        ("1", "11"), ("2", "20"), ("3", "30"), ("4", "40"), ("5", "50")]
