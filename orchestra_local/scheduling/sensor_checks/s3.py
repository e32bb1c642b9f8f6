"""AWS_S3_FILE: passes when an object under ``file_prefix`` in ``bucket_name`` was created or
modified since the window opened (Orchestra's "S3 sensor" page: it lists up to 1,000 objects under
the prefix, subfolders included, and compares their modification times with the sensor's start).

Runs through ``boto3`` against AWS or any S3-compatible endpoint. The check's connection
(``integration: AWS_S3``) may give ``aws_access_key_id``, ``aws_secret_access_key``,
``aws_session_token``, ``region_name`` and ``endpoint_url`` (**our choice** of field names: boto3's
own; ``endpoint_url`` points at MinIO, a local ``moto`` server, ...); without a connection boto3's
default credential chain applies. Output ``files``: the keys modified in the window, oldest first
(``${{ outputs.files[0] }}`` is the first).
"""

from __future__ import annotations

import boto3
from botocore.config import Config
from pydantic import Field

from orchestra_local.scheduling.sensor_checks.base import (
    CHECK_TIMEOUT_SECONDS,
    CheckContext,
    CheckParameters,
    CheckResult,
)

MAX_KEYS = 1000
"""Objects listed per poll (one ListObjectsV2 page, as Orchestra's sensor)."""
OUTPUT_KEYS = ("files",)
CLIENT_FIELDS = ("aws_access_key_id", "aws_secret_access_key", "aws_session_token", "region_name", "endpoint_url")


class Parameters(CheckParameters):
    """AWS_S3_FILE parameters (Orchestra's labels "Bucket name", "File prefix")."""

    bucket_name: str = Field(min_length=1, description="The bucket to list.")
    file_prefix: str = Field("", description="Only keys that start with it (subfolders included).")


def s3_file(ctx: CheckContext) -> CheckResult:
    """See the module doc.

    Raises:
        SensorConfigError: No ``bucket_name``, or a connection of another integration.
        botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError: S3 refused or failed
            (no such bucket, access denied, unreachable endpoint): the next poll retries.
    """
    params = ctx.parse(Parameters)
    bucket, prefix = params.bucket_name, params.file_prefix
    fields = dict(ctx.connection_of("AWS_S3").fields) if ctx.connection is not None else {}
    client = boto3.session.Session().client(
        "s3", **{name: fields[name] for name in CLIENT_FIELDS if fields.get(name)},
        config=Config(connect_timeout=CHECK_TIMEOUT_SECONDS, read_timeout=CHECK_TIMEOUT_SECONDS,
                      retries={"max_attempts": 2}),
    )
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix, MaxKeys=MAX_KEYS)
    objects = listing.get("Contents", [])
    fresh = sorted((item for item in objects if item["LastModified"] >= ctx.window_start),
                   key=lambda item: (item["LastModified"], item["Key"]))
    files = [item["Key"] for item in fresh]
    where = f"s3://{bucket}/{prefix}"
    if not files:
        return CheckResult(False, f"{len(objects)} object(s) under {where}, none modified since the window opened",
                           {"files": []})
    return CheckResult(True, f"{len(files)} object(s) under {where} modified since the window opened",
                       {"files": files})
