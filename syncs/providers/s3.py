"""Amazon S3 (and S3-compatible stores: MinIO, Cloudflare R2, Wasabi, GCS interop).

Objects under ``prefix`` are listed with ``ListObjectsV2`` (``Key``, ``Size``, ``ETag``,
``LastModified``); incremental runs read the objects whose ``LastModified`` is newer than the
checkpoint. The ``objects`` resource is that listing; each configured stream (files matching
globs, parsed as CSV/JSONL/Parquet/...) is a dynamic entity whose rows carry ``_file_path`` and
``_file_last_modified``. Credentials are an access key pair (optionally a session token), or
none at all to use the server's own credential chain (instance profile, IRSA), optionally
assuming ``role_arn``.
"""

from syncs.providers import schemas as js
from syncs.providers.base import define_provider
from syncs.providers.resources import incremental

CONFIG_SCHEMA = js.obj({
    "bucket": js.string("Bucket name.", pattern=r"^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$"),
    "prefix": js.string("Key prefix listed (e.g. exports/); empty: the whole bucket.",
                        default=""),
    "region": js.string("AWS region of the bucket (auto for R2).",
                        pattern=r"^([a-z]{2}(-[a-z]+)+-\d+|auto)$",
                        default="us-east-1"),
    "endpoint_url": js.http_url("Endpoint of an S3-compatible store (MinIO, R2, ...) or a test "
                                "server; omitted: AWS S3."),
    "force_path_style": js.boolean("Address the bucket in the path (bucket-in-host otherwise); "
                                   "most S3-compatible stores need it.", default=False),
    "role_arn": js.string("IAM role assumed with the credentials.",
                          pattern=r"^arn:aws[a-z-]*:iam::"),
    "streams": js.file_streams("exports/orders/*.csv"),
    "start_date": js.start_date("Only objects last modified at or after this instant; null "
                                "reads every object."),
}, required=["bucket"], title="S3 connection", examples=[{
    "bucket": "acme-exports", "prefix": "daily/", "region": "eu-west-1",
    "streams": [{"name": "orders", "globs": ["daily/orders/*.csv.gz"], "format": "csv"}],
}])

SECRETS_SCHEMA = js.obj({
    "aws_access_key_id": js.secret("Access key id.", pattern=r"^[A-Z0-9]{16,128}$"),
    "aws_secret_access_key": js.secret("Secret access key."),
    "aws_session_token": js.secret("Session token of temporary credentials."),
}, title="S3 secrets", dependentRequired={
    "aws_access_key_id": ["aws_secret_access_key"],
    "aws_secret_access_key": ["aws_access_key_id"],
    "aws_session_token": ["aws_access_key_id", "aws_secret_access_key"],
}, examples=[{"aws_access_key_id": "AKIAIOSFODNN7EXAMPLE",
              "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}])

RESOURCES = [
    incremental("objects", "Objects", "ListObjectsV2", "The objects under the prefix: key, size, "
                "ETag, storage class and last-modified time.", cursor="last_modified",
                primary_key=["key"]),
]

SPEC = define_provider("s3", "Amazon S3",
    "Files in an S3 (or S3-compatible) bucket: the object listing and tabular streams parsed "
    "from CSV, JSON Lines, Parquet and Excel files.",
    CONFIG_SCHEMA, SECRETS_SCHEMA, RESOURCES, dynamic_resources=True)
