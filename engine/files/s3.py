"""The blob store in an S3-compatible object store, for installations whose files outgrow the
database: the bytes of each content under its SHA-256 (`{prefix}{sha256}`), streamed in with a
multipart upload and out a chunk at a time. Which store holds a content is kept in sys_blob, so
turning the S3 store on keeps the files already in the database readable.

Configured by the environment: ENGINE_S3_BUCKET (turns it on), ENGINE_S3_URL (the endpoint of an
S3-compatible service; default AWS), ENGINE_S3_PREFIX (default `blobs/`), ENGINE_S3_REGION, and
the credentials as boto3 reads them (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)."""
from __future__ import annotations

import os
from typing import BinaryIO, Iterator

from engine.files.blobs import CHUNK
from engine.storage.db import after_commit


class S3Store:
    name = "s3"

    def __init__(self, bucket: str, endpoint: str | None = None, prefix: str = "blobs/", region: str | None = None, client=None):
        try:
            import boto3  # only where the S3 store is used
        except ImportError:
            raise RuntimeError("ENGINE_S3_BUCKET is set, but boto3 is not installed: pip install -e '.[s3]'") from None
        self.bucket = bucket
        self.prefix = prefix
        self.client = client or boto3.client("s3", endpoint_url=endpoint or None, region_name=region or None)

    @classmethod
    def from_env(cls) -> "S3Store | None":
        bucket = os.environ.get("ENGINE_S3_BUCKET", "").strip()
        if not bucket:
            return None
        return cls(bucket, os.environ.get("ENGINE_S3_URL") or None, os.environ.get("ENGINE_S3_PREFIX", "blobs/"),
                   os.environ.get("ENGINE_S3_REGION") or None)

    def _key(self, sha256: str) -> str:
        return f"{self.prefix}{sha256}"

    def put(self, conn, sha256: str, file: BinaryIO) -> None:
        """Upload the bytes (before the row that names them is committed: a rolled-back upload leaves
        an object that no row names, which prune_orphans removes)."""
        file.seek(0)
        self.client.upload_fileobj(file, self.bucket, self._key(sha256))

    def chunks(self, db, sha256: str) -> Iterator[bytes]:
        body = self.client.get_object(Bucket=self.bucket, Key=self._key(sha256))["Body"]
        try:
            yield from body.iter_chunks(CHUNK)
        finally:
            body.close()

    def remove(self, conn, sha256: str) -> None:
        """Delete the object once the transaction that forgets it has committed (never for one rolled back)."""
        key = self._key(sha256)
        after_commit(conn, f"s3-delete:{key}", lambda: self.client.delete_object(Bucket=self.bucket, Key=key))



def prune_orphans(db, schema, store: S3Store, keep_after=None) -> int:
    """Delete the objects no sys_blob row names (an upload whose transaction rolled back), except
    those newer than `keep_after` (an upload whose transaction may still commit); how many."""
    import datetime as dt

    from sqlalchemy import select
    keep_after = keep_after or dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    b = schema.blob
    gone = 0
    for page in store.client.get_paginator("list_objects_v2").paginate(Bucket=store.bucket, Prefix=store.prefix):
        items = [i for i in page.get("Contents", ()) if i["LastModified"] < keep_after]
        shas = [i["Key"][len(store.prefix):] for i in items]
        if not shas:
            continue
        with db.read() as conn:
            known = set(conn.execute(select(b.c.sha256).where(b.c.sha256.in_(shas))).scalars())
        for item, sha in zip(items, shas):
            if sha not in known:
                store.client.delete_object(Bucket=store.bucket, Key=item["Key"])
                gone += 1
    return gone
