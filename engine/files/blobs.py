"""The blob store: file content kept once per SHA-256, whoever attaches it and however often.

One small interface (`Store`) with two implementations: the database (the default: every app
server sees the same files, and a file is written in the transaction of the record it belongs
to) and an S3-compatible object store (engine.files.s3) for large installations. `sys_blob`
says which store holds each content, so switching stores keeps older files readable. Bytes move
in chunks of CHUNK in and out: a 25 MB drawing is never held in memory whole."""
from __future__ import annotations

import datetime as dt
import hashlib
from typing import BinaryIO, Iterator, Protocol

from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from engine.storage.schema import Schema

CHUNK = 1 << 20  # bytes per read, write and database row


class Store(Protocol):
    name: str

    def put(self, conn, sha256: str, file: BinaryIO) -> None:
        """Keep the bytes of `file` (read from its start) under `sha256`."""

    def chunks(self, db, sha256: str) -> Iterator[bytes]:
        """The bytes kept under `sha256`, a chunk at a time (each read on its own: a slow download holds no transaction)."""

    def remove(self, conn, sha256: str) -> None:
        """Forget the bytes kept under `sha256`."""


def digest(file: BinaryIO, limit: int | None = None) -> tuple[str, int, bytes]:
    """The SHA-256 and size of a seekable file, read in chunks, and its first bytes (to tell its
    type by its content); the file is rewound. Stops with OverflowError past `limit` bytes."""
    file.seek(0)
    h, size, head = hashlib.sha256(), 0, b""
    while True:
        chunk = file.read(CHUNK)
        if not chunk:
            break
        if not head:
            head = chunk[:512]
        size += len(chunk)
        if limit is not None and size > limit:
            raise OverflowError(size)
        h.update(chunk)
    file.seek(0)
    return h.hexdigest(), size, head


class DatabaseStore:
    """The bytes in sys_blob_chunk, in the caller's transaction: written and rolled back with the record."""

    name = "db"

    def __init__(self, schema: Schema):
        self.schema = schema
        t = schema.blob_chunk
        self._read = select(t.c.data).where(t.c.sha256 == bindparam("sha"), t.c.seq == bindparam("seq"))

    def put(self, conn, sha256: str, file: BinaryIO) -> None:
        file.seek(0)
        seq = 0
        while True:
            chunk = file.read(CHUNK)
            if not chunk and seq:
                break
            conn.execute(self.schema.blob_chunk.insert(), {"sha256": sha256, "seq": seq, "data": chunk})
            seq += 1
            if not chunk:  # an empty file: one empty chunk
                break

    def chunks(self, db, sha256: str) -> Iterator[bytes]:
        seq = 0
        while True:
            with db.read() as conn:
                data = conn.execute(self._read, {"sha": sha256, "seq": seq}).scalar()
            if data is None:
                return
            yield bytes(data)
            seq += 1

    def remove(self, conn, sha256: str) -> None:
        t = self.schema.blob_chunk
        conn.execute(t.delete().where(t.c.sha256 == sha256))


class Blobs:
    """Which store holds what: new content goes to `store`; content already kept is read from the
    store that holds it."""

    def __init__(self, schema: Schema, store: Store, others: tuple[Store, ...] = ()):
        self.schema = schema
        self.store = store
        self.stores = {s.name: s for s in (*others, store)}

    def keep(self, conn, sha256: str, size: int, file: BinaryIO, now: dt.datetime) -> None:
        """Keep the content unless it is kept already (the same file attached twice is stored once,
        also when two people attach it at the same moment: the second finds it kept by the first)."""
        b = self.schema.blob
        if conn.execute(select(b.c.sha256).where(b.c.sha256 == sha256)).first() is not None:
            return
        try:
            with conn.begin_nested():
                self.store.put(conn, sha256, file)
                conn.execute(b.insert().values(sha256=sha256, size=size, store=self.store.name, created_at=now))
        except IntegrityError:  # a concurrent upload of the same content committed it first
            pass

    def chunks(self, db, sha256: str) -> Iterator[bytes]:
        with db.read() as conn:
            where = conn.execute(select(self.schema.blob.c.store).where(self.schema.blob.c.sha256 == sha256)).scalar()
        if where is None:
            return iter(())
        return self.stores[where].chunks(db, sha256)

    def release(self, conn, sha256: str) -> bool:
        """Forget the content once no attachment refers to it any more; whether it was forgotten."""
        a, b = self.schema.attachment, self.schema.blob
        if conn.execute(select(func.count()).select_from(a).where(a.c.sha256 == sha256)).scalar():
            return False
        where = conn.execute(select(b.c.store).where(b.c.sha256 == sha256)).scalar()
        if where is None:
            return False
        self.stores[where].remove(conn, sha256)
        conn.execute(b.delete().where(b.c.sha256 == sha256))
        return True

