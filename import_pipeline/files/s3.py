"""A landing zone or staging area under an S3 prefix (AWS, MinIO or any S3-compatible store).

The client is dagster-aws's `S3Resource` client, built on first use: importing dagster_aws
costs a run process about a second (see the README), which a local deployment never pays.
Listing is bounded: one call lists at most `limit` keys after a start key, so a prefix with
100,000 old objects costs a sensor tick no more than a small one (dagster-aws's sensor
helper `get_objects` lists and sorts the whole prefix on every call).
"""

import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from import_pipeline.core.landing import PROCESSED, FileRecord, Window, is_listed

PAGE = 1000
"""S3 returns at most 1,000 keys per ListObjectsV2 call."""

LAST_CHARACTER = "\U0010ffff"
"""Sorts after every character a key can hold: `_processed/` + it is past that folder."""

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


def client(settings: dict[str, str]) -> Any:
    """An S3 client from dagster-aws's `S3Resource`; an empty setting is left to boto3's
    own lookup (AWS_ENDPOINT_URL, AWS_* credentials, ~/.aws)."""
    from dagster_aws.s3 import S3Resource  # here: only an S3 deployment pays its import

    return S3Resource(**{k: v for k, v in settings.items() if v}).get_client()


class S3Store:
    """Objects below one bucket prefix. An object is listed only once fully uploaded, so
    nothing needs to settle; Parquet is zstd here, where bytes cost more than CPU."""

    writes_are_atomic = True

    def __init__(
        self,
        location: S3Location,
        connect: Callable[[], Any],
        credentials: Callable[[], dict[str, str]],
    ) -> None:
        self.location = location
        self._connect = connect
        self._credentials = credentials
        self._client: Any = None

    @property
    def client(self) -> Any:
        """One client per store: building one costs tens of milliseconds, and a folder
        batch reads many files."""
        if self._client is None:
            self._client = self._connect()
        return self._client

    def uri(self, key: str) -> str:
        return self.location.uri(key)

    def link(self, key: str, expires_seconds: int) -> str | None:
        return presigned_url(self.client, self.location, key, expires_seconds)

    def key_of(self, uri: str) -> str:
        return self.location.key_of(uri)

    def path(self, key: str) -> str:
        return self.location.uri(key)

    def list(self, under: str = "") -> list[FileRecord]:
        return list_prefix(self.client, self.location, under)

    def list_window(self, after: str, limit: int) -> Window:
        return list_window(self.client, self.location, after, limit)

    def fetch(self, key: str, version: str, workdir: Path) -> Path | None:
        """Streamed into `workdir`, so a file larger than memory is never held whole."""
        target = workdir / f"landed-{uuid.uuid4().hex}"
        return target if download(self.client, self.location, key, version, target) else None

    def read(self, key: str, version: str) -> bytes | None:
        body = _body(self.client, self.location, key, version)
        if body is None:
            return None
        with closing(body):
            return body.read()

    def write_bytes(self, key: str, data: bytes) -> str:
        self.client.put_object(Bucket=self.location.bucket, Key=self._full(key), Body=data)
        return self.path(key)

    def write_parquet(self, frame: pl.DataFrame, key: str, row_group: int) -> str:
        path = self.path(key)
        frame.write_parquet(
            path, compression="zstd", row_group_size=row_group, storage_options=self._options()
        )
        return path

    def put_file(self, source: Path, key: str) -> str:
        """Uploaded in parts (boto3's managed transfer) for a large file."""
        self.client.upload_file(str(source), self.location.bucket, self._full(key))
        return self.path(key)

    def clear(self, under: str) -> None:
        keys = [r.key for r in self.list(under)]
        for start in range(0, len(keys), PAGE):
            objects = [{"Key": self._full(k)} for k in keys[start : start + PAGE]]
            self.client.delete_objects(Bucket=self.location.bucket, Delete={"Objects": objects})

    def scan_parquet(self, under: str) -> pl.LazyFrame:
        paths = sorted(r.uri for r in self.list(under) if r.key.endswith(".parquet"))
        return pl.scan_parquet(paths, storage_options=self._options())

    def move(self, key: str, version: str, to_key: str) -> bool:
        """Copied server-side only if the ETag is still `version` (boto3's managed copy,
        so an object above 5 GB too), then deleted unless a newer upload replaced it
        meanwhile; a source already gone was moved before if the target is there."""
        bucket, source = self.location.bucket, self._full(key)
        try:
            self.client.copy(
                {"Bucket": bucket, "Key": source},
                bucket,
                self._full(to_key),
                ExtraArgs={"CopySourceIfMatch": f'"{version}"'},
            )
        except self.client.exceptions.ClientError as exc:
            code = exc.response["Error"]["Code"]
            if code in ("NoSuchKey", "404"):
                return self.version(to_key) is not None
            if code in ("PreconditionFailed", "412"):
                return False
            raise
        if self.version(key) == version:
            self.client.delete_object(Bucket=bucket, Key=source)
        return True

    def drop_folder_if_empty(self, folder: str) -> None:
        """Nothing to do: a prefix exists only while objects are below it."""

    def version(self, key: str) -> str | None:
        """The object's ETag (one HEAD), None when there is none."""
        try:
            head = self.client.head_object(Bucket=self.location.bucket, Key=self._full(key))
        except self.client.exceptions.ClientError as exc:
            if exc.response["Error"]["Code"] in ("NoSuchKey", "404"):
                return None
            raise
        return head["ETag"].strip('"')

    def _full(self, key: str) -> str:
        return f"{self.location.prefix}{key}"

    def _options(self) -> dict[str, str]:
        return polars_options(self.client, self._credentials())


def list_window(client: Any, location: S3Location, after: str, limit: int) -> Window:
    """At most `limit` keys after the relative key `after` ("" = from the start), in key order.
    Processed batches (`_processed/`) are jumped over, never paged through: the live prefix
    costs what it holds, whatever has been processed."""
    records: list[FileRecord] = []
    start = f"{location.prefix}{after}" if after else ""
    processed = f"{location.prefix}{PROCESSED}"
    beyond = f"{processed}{LAST_CHARACTER}"
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
        items = page.get("Contents", [])
        records += [_record(location, i) for i in items if not i["Key"].startswith(processed)]
        token = page.get("NextContinuationToken")
        if not page.get("IsTruncated"):
            return _window(records, exhausted=True)
        if items and items[-1]["Key"].startswith(processed) and start < beyond:
            token, start = None, beyond
    return _window(records, exhausted=False)


def list_prefix(client: Any, location: S3Location, under: str = "") -> list[FileRecord]:
    """Every listed object below the prefix (or its sub-folder `under`): no bound, for the
    daily reconciliation and for reading one folder batch."""
    paginator = client.get_paginator("list_objects_v2")
    pages = paginator.paginate(Bucket=location.bucket, Prefix=f"{location.prefix}{under}")
    records = [_record(location, item) for page in pages for item in page.get("Contents", [])]
    return _listed(records, under)


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


def presigned_url(client: Any, location: S3Location, key: str, expires_seconds: int) -> str:
    """A link that downloads the object without credentials until it expires."""
    params = {"Bucket": location.bucket, "Key": f"{location.prefix}{key}"}
    return client.generate_presigned_url("get_object", Params=params, ExpiresIn=expires_seconds)


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


def _listed(records: list[FileRecord], under: str = "") -> list[FileRecord]:
    """Drop "folder" placeholder objects, hidden and temp files."""
    return [r for r in records if r.key and not r.key.endswith("/") and is_listed(r.key, under)]
