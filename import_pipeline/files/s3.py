"""A landing zone or staging area under an S3 prefix (AWS, MinIO or any S3-compatible store).

Listing is bounded: one call lists at most `limit` keys after a start key, so a prefix with
100,000 old objects costs a sensor tick no more than a small one.
"""

from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from import_pipeline.core.landing import FileRecord, Window, is_listed

PAGE = 1000
"""S3 returns at most 1,000 keys per ListObjectsV2 call."""

BLOCK = 8 << 20
"""Bytes per read when an object is streamed to disk."""


@dataclass(frozen=True)
class S3Location:
    """`s3://bucket/some/prefix/` split into bucket and key prefix (ending in `/` or empty)."""

    bucket: str
    prefix: str

    @classmethod
    def parse(cls, url: str) -> "S3Location":
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        prefix = prefix.strip("/")
        return cls(bucket, f"{prefix}/" if prefix else "")

    def uri(self, key: str) -> str:
        """The URI of a key relative to the prefix."""
        return f"s3://{self.bucket}/{self.prefix}{key}"

    def key_of(self, uri: str) -> str:
        """The key (relative to the prefix) of a URI inside this location."""
        return uri.removeprefix(f"s3://{self.bucket}/{self.prefix}")


def list_window(client: Any, location: S3Location, after: str, limit: int) -> Window:
    """At most `limit` keys after the relative key `after` ("" = from the start), in key order."""
    records: list[FileRecord] = []
    start = f"{location.prefix}{after}" if after else ""
    token = None
    while len(records) < limit:
        args: dict[str, Any] = {
            "Bucket": location.bucket,
            "Prefix": location.prefix,
            "MaxKeys": min(PAGE, limit - len(records)),
        }
        if token:
            args["ContinuationToken"] = token
        elif start:
            args["StartAfter"] = start
        page = client.list_objects_v2(**args)
        records += [_record(location, item) for item in page.get("Contents", [])]
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated"):
            return _window(records, exhausted=True)
    return _window(records, exhausted=False)


def list_prefix(client: Any, location: S3Location, under: str = "") -> list[FileRecord]:
    """Every listed object below the prefix (or its sub-folder `under`): no bound, for the
    daily reconciliation and for reading one folder batch."""
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=location.bucket, Prefix=f"{location.prefix}{under}")
    records = [_record(location, item) for page in pages for item in page.get("Contents", [])]
    return _listed(records)


def download(client: Any, location: S3Location, key: str, version: str, target: Path) -> bool:
    """Stream the object into `target` if its ETag is still `version` (False if not), so a
    file larger than memory lands on local disk without being held whole."""
    body = _body(client, location, key, version)
    if body is None:
        return False
    with closing(body), target.open("wb") as out:
        for block in body.iter_chunks(BLOCK):
            out.write(block)
    return True


def _body(client: Any, location: S3Location, key: str, version: str) -> Any:
    try:
        response = client.get_object(
            Bucket=location.bucket, Key=f"{location.prefix}{key}", IfMatch=f'"{version}"'
        )
    except client.exceptions.ClientError as exc:
        if exc.response["Error"]["Code"] in ("NoSuchKey", "PreconditionFailed", "404", "412"):
            return None
        raise
    return response["Body"]


def write(client: Any, location: S3Location, key: str, data: bytes) -> str:
    client.put_object(Bucket=location.bucket, Key=f"{location.prefix}{key}", Body=data)
    return location.uri(key)


def upload(client: Any, location: S3Location, key: str, source: Path) -> str:
    """A local file to the key, in parts (boto3's managed transfer) for large files."""
    client.upload_file(str(source), location.bucket, f"{location.prefix}{key}")
    return location.uri(key)


def presigned_url(client: Any, location: S3Location, key: str, expires_seconds: int) -> str:
    """A link that downloads the object without credentials until it expires."""
    params = {"Bucket": location.bucket, "Key": f"{location.prefix}{key}"}
    return client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_seconds)


def remove_prefix(client: Any, location: S3Location, under: str) -> None:
    """Delete every object below `under` (a staged folder a new run replaces)."""
    keys = [r.key for r in list_prefix(client, location, under)]
    for start in range(0, len(keys), PAGE):
        objects = [{"Key": f"{location.prefix}{k}"} for k in keys[start : start + PAGE]]
        client.delete_objects(Bucket=location.bucket, Delete={"Objects": objects})


def polars_options(client: Any, credentials: dict[str, str]) -> dict[str, str]:
    """polars' `storage_options` for the endpoint and region the boto3 client resolved (its
    config, or AWS_ENDPOINT_URL and friends), plus any explicit credentials; without them
    polars reads the same AWS_* variables boto3 does."""
    endpoint = client.meta.endpoint_url
    options = {"aws_endpoint_url": endpoint, "aws_region": client.meta.region_name or "us-east-1"}
    if endpoint.startswith("http://"):
        options["aws_allow_http"] = "true"
    return options | credentials


def _record(location: S3Location, item: dict) -> FileRecord:
    key = item["Key"].removeprefix(location.prefix)
    return FileRecord(
        uri=location.uri(key),
        key=key,
        size=item["Size"],
        modified=item["LastModified"],
        version=item["ETag"].strip('"'),
    )


def _window(records: list[FileRecord], exhausted: bool) -> Window:
    return Window(_listed(records), [r.key for r in records], exhausted)


def _listed(records: list[FileRecord]) -> list[FileRecord]:
    """Drop "folder" placeholder objects, hidden and temp files."""
    return [r for r in records if r.key and not r.key.endswith("/") and is_listed(r.key)]
