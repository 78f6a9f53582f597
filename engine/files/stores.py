"""Which blob store an app's files go to: the S3-compatible store when ENGINE_S3_BUCKET is set
(engine.files.s3), else the database; content already kept in the database stays readable there."""
from __future__ import annotations

from engine.files.blobs import Blobs, DatabaseStore
from engine.files.s3 import S3Store
from engine.storage.schema import Schema


def blobs_for(schema: Schema) -> Blobs:
    """The blobs of an app's schema (made once per schema)."""
    found = getattr(schema, "_blobs", None)
    if found is None:
        s3 = S3Store.from_env()
        database = DatabaseStore(schema)
        found = schema._blobs = Blobs(schema, s3, (database,)) if s3 is not None else Blobs(schema, database)
    return found
