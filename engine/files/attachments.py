"""Attachments: files on a record, with the record's access.

Who may read the record may list and download its files; who may update it (within their update
scope, in a state that does not lock the record) may add and remove them; for anyone else the
record, and so each of its files, does not exist (NotFound). The checks are the record service's
(Records.attached_to): there is no second set of rules here. Adding and removing are events
(`attachment_added`, `attachment_removed`), audited as `attach` and `detach`; a deleted record's
files go with it (Cleanup, a subscriber of `deleted`). The content is kept by the blob store once
per SHA-256 and forgotten when no attachment refers to it any more."""
from __future__ import annotations

from typing import BinaryIO, Iterator

from sqlalchemy import func, select

from engine.core.actor import Actor
from engine.core.errors import Conflict, FieldError, Msg, NotFound, PayloadTooLarge, ValidationFailed
from engine.core.settings import size_limit
from engine.core.transfer import attachment, inline, megabytes
from engine.core.values import to_json
from engine.events.bus import emit
from engine.events.hooks import hookimpl
from engine.events.model import ATTACHMENT_ADDED, ATTACHMENT_REMOVED, DELETED, Tx
from engine.files import kinds, thumbnails
from engine.files.blobs import Blobs, digest
from engine.files.stores import blobs_for

NAME_MAX = 255
COLUMNS = ("id", "entity", "record_id", "name", "size", "content_type", "sha256", "field", "created_by", "created_at", "shared")


def default_max_bytes() -> int:
    """The size limit of an attachment where the entity sets none (ENGINE_ATTACHMENT_MAX_MB, default 25)."""
    return size_limit("ENGINE_ATTACHMENT_MAX_MB", 25)


def clean_name(name: str) -> str:
    """The name a file is kept under: its last path part, without control characters, at most NAME_MAX characters."""
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = "".join(ch for ch in name if ch.isprintable()).strip().strip(".") or "file"
    if len(name) > NAME_MAX:
        stem, dot, end = name.rpartition(".")
        name = (stem[: NAME_MAX - len(end) - 1] + "." + end) if dot and len(end) < 16 else name[:NAME_MAX]
    return name


class Attachments:
    def __init__(self, records, blobs: Blobs):
        self.records = records
        self.blobs = blobs
        self.schema = records.schema

    # ------------------------------------------------------------------ rules
    def rules(self, entity: str):
        """The entity's attachment rules; NotFound when its records take no files."""
        ent = self.records.entity(entity)
        if ent.attachments is None:
            raise NotFound(Msg("%(thing)s records take no attachments", thing=Msg.label(ent.label)))
        return ent, ent.attachments

    def max_bytes(self, entity: str) -> int:
        _, rules = self.rules(entity)
        return rules.max_bytes or default_max_bytes()

    # ------------------------------------------------------------------ reading
    def list(self, actor: Actor, entity: str, record_id: int) -> list[dict]:
        ent, _ = self.rules(entity)
        a = self.schema.attachment
        with self.records.db.read() as conn:
            self.records.attached_to(conn, actor, ent, record_id)
            stmt = select(*[a.c[c] for c in COLUMNS]).where(a.c.entity == ent.name, a.c.record_id == record_id, a.c.field.is_(None))
            if actor.party is not None:  # a party's contact: the files shared with them
                stmt = stmt.where(a.c.shared.is_(True))
            rows = conn.execute(stmt.order_by(a.c.id)).mappings().all()
            names = self.records.titles_in(conn, actor, "@user", {r["created_by"] for r in rows if r["created_by"]}) if rows else {}
        return [self._json(dict(r), names) for r in rows]

    def get(self, actor: Actor, attachment_id: int) -> dict:
        """One attachment, if the actor may read its record (NotFound otherwise, as if there were none)."""
        with self.records.db.read() as conn:
            row = self._row(conn, attachment_id)
            ent = self._entity_of(row)
            self.records.attached_to(conn, actor, ent, row["record_id"])
            if row["field"] and not self._field_seen(actor, ent, row["field"]) or \
                    actor.party is not None and not row["field"] and not row["shared"]:  # an internal file, for a party's contact
                raise NotFound(Msg("no attachment with id %(id)s", id=attachment_id))
            names = self.records.titles_in(conn, actor, "@user", {row["created_by"]} if row["created_by"] else set())
        return self._json(row, names)

    def describe(self, ids) -> dict[int, dict]:
        """The files by attachment id, for file fields of records already read by the one who asks
        (the ids come from fields they see): {id: {id, name, size, content_type, url, image, inline}}."""
        ids = sorted({i for i in ids if isinstance(i, int)})
        if not ids:
            return {}
        a = self.schema.attachment
        with self.records.db.read() as conn:
            rows = conn.execute(select(a.c.id, a.c.name, a.c.size, a.c.content_type).where(a.c.id.in_(ids))).mappings().all()
        return {r["id"]: {"id": r["id"], "name": r["name"], "size": r["size"], "content_type": r["content_type"],
                          "url": f"/api/v1/attachments/{r['id']}", "image": r["content_type"] in kinds.IMAGES,
                          "inline": r["content_type"] in kinds.INLINE} for r in rows}

    def _field_seen(self, actor: Actor, ent, path: str) -> bool:
        """May the actor see the file field `path` (`drawing`, a line's `lines.drawing`) of the entity's records?"""
        grants = self.records.permissions.grants(actor)
        top, _, inner = path.partition(".")
        f = ent.fields.get(top)
        if f is None or top in grants.hidden(ent.name):
            return False
        if not inner:
            return f.type == "file"
        if f.type != "table":
            return False
        child = self.records.app.entity(f.entity)
        return inner in child.fields and child.fields[inner].type == "file" and inner not in grants.hidden(child.name)

    def content(self, actor: Actor, attachment_id: int) -> tuple[dict, Iterator[bytes]]:
        """The attachment and its bytes, a chunk at a time."""
        found = self.get(actor, attachment_id)
        return found, self.blobs.chunks(self.records.db, found["sha256"])

    def preview(self, actor: Actor, attachment_id: int) -> tuple[dict, tuple[bytes, str] | None]:
        """The attachment and a small preview of it (an image's; None for anything else), if the actor may read its record."""
        found = self.get(actor, attachment_id)
        return found, thumbnails.preview(lambda: b"".join(self.blobs.chunks(self.records.db, found["sha256"])), found["sha256"],
                                         found["content_type"])

    # ------------------------------------------------------------------ writing
    def add(self, actor: Actor, entity: str, record_id: int, name: str, file: BinaryIO, shared: bool = False) -> dict:
        """Attach `file` (seekable, read from its start) to the record under `name`; `shared`: the record's party sees it
        on their portal (always, for a file a party's contact adds)."""
        ent, rules = self.rules(entity)
        name = clean_name(name)
        sha, size, content_type = inspect(file, name, rules, "file", lambda types: Msg(
            "%(name)s is not a kind of file %(thing)s records take; they take: %(types)s", name=name, thing=Msg.label(ent.label), types=types))
        records = self.records
        a = self.schema.attachment
        with records.db.write() as conn:
            records.attached_to(conn, actor, ent, record_id, change=True)
            if rules.max_count:
                n = conn.execute(select(func.count()).select_from(a).where(a.c.entity == ent.name, a.c.record_id == record_id,
                                                                           a.c.field.is_(None))).scalar()
                if n >= rules.max_count:
                    raise Conflict(Msg("this %(thing)s has %(n)s files, the most it may have; remove one first",
                                       thing=Msg.label(ent.label, lower=True), n=n))
            now = records.clock()
            self.blobs.keep(conn, sha, size, file, now)
            row = {"entity": ent.name, "record_id": record_id, "name": name, "size": size, "content_type": content_type,
                   "sha256": sha, "field": None, "created_by": actor.id, "created_at": now, "shared": shared is True or actor.party is not None or None}
            row["id"] = conn.execute(a.insert().values(**row)).inserted_primary_key[0]
            emit(Tx(conn, records, actor, now, actor.language or "en"), ATTACHMENT_ADDED, ent.name, record_id,
                 {"attachment": _summary(row), "shared": bool(row["shared"])}, "attach")
            names = records.titles_in(conn, actor, "@user", {actor.id} if actor.id else set())
        return self._json(row, names)

    def remove(self, actor: Actor, attachment_id: int) -> None:
        records = self.records
        with records.db.write() as conn:
            row = self._row(conn, attachment_id)
            ent = self._entity_of(row)
            records.attached_to(conn, actor, ent, row["record_id"], change=True)
            if row["field"]:
                raise Conflict(Msg("this file is held by the field '%(field)s' of the record: clear or replace it there", field=row["field"]))
            a = self.schema.attachment
            conn.execute(a.delete().where(a.c.id == attachment_id))
            self.blobs.release(conn, row["sha256"])
            emit(Tx(conn, records, actor, records.clock(), actor.language or "en"), ATTACHMENT_REMOVED, ent.name, row["record_id"],
                 {"attachment": _summary(row)}, "detach")

    # ------------------------------------------------------------------ helpers
    def _row(self, conn, attachment_id) -> dict:
        a = self.schema.attachment
        row = None
        if isinstance(attachment_id, int) and not isinstance(attachment_id, bool):
            row = conn.execute(select(*[a.c[c] for c in COLUMNS]).where(a.c.id == attachment_id)).mappings().first()
        if row is None:
            raise NotFound(Msg("no attachment with id %(id)s", id=attachment_id))
        return dict(row)

    def _entity_of(self, row: dict):
        try:
            ent = self.records.app.entity(row["entity"])
        except KeyError:  # an entity since removed from the metadata
            raise NotFound(Msg("no attachment with id %(id)s", id=row["id"])) from None
        if ent.attachments is None and not row["field"]:
            raise NotFound(Msg("no attachment with id %(id)s", id=row["id"]))
        return ent

    @staticmethod
    def _json(row: dict, names: dict) -> dict:
        out = {c: row[c] for c in COLUMNS}
        out["shared"] = bool(row["shared"])
        out["created_at"] = to_json("datetime", row["created_at"])
        out["created_by_name"] = names.get(row["created_by"]) if row["created_by"] else None
        out["url"] = f"/api/v1/attachments/{row['id']}"
        out["image"] = row["content_type"] in kinds.IMAGES
        out["inline"] = row["content_type"] in kinds.INLINE
        return out


def inspect(file: BinaryIO, name: str, rules, key: str, wrong_kind) -> tuple[str, int, str]:
    """(SHA-256, size, content type) of a file about to be kept under `name`, checked against `rules`
    (engine.metadata.model.AttachmentRules: size while it is read, kind by content and name) and
    refused with what to do, for the input `key`; `wrong_kind(types)` says what a file of another kind hears."""
    limit = rules.max_bytes or default_max_bytes()
    try:
        sha, size, head = digest(file, limit)
    except OverflowError:
        raise PayloadTooLarge(Msg("%(name)s is larger than %(limit)s MB, the most a file here may be", name=name,
                                  limit=megabytes(limit))) from None
    content_type = kinds.sniff(head, name)
    wrong = kinds.mismatch(content_type, name)
    if wrong:
        raise ValidationFailed([FieldError(key, Msg("%(why)s: rename it or attach the right file", why=wrong))])
    if not kinds.allowed(content_type, name, rules.types):
        raise ValidationFailed([FieldError(key, wrong_kind(", ".join(rules.types)))])
    return sha, size, content_type


def download_headers(found: dict, want_inline: bool) -> tuple[str, dict]:
    """(media type, headers) of the response that hands a file over: always a download with its
    name, except images and PDFs asked for inline; never sniffed by the browser; an image shown
    in the page runs nothing (a sandbox without scripts)."""
    shown = want_inline and found["content_type"] in kinds.INLINE
    headers = {"Content-Disposition": inline(found["name"]) if shown else attachment(found["name"]),
               "X-Content-Type-Options": "nosniff", "Content-Length": str(found["size"]), "Cache-Control": "private, max-age=0"}
    if found["content_type"] != "application/pdf":  # a sandboxed document cannot run the browser's PDF viewer
        headers["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox"
    return (found["content_type"] if shown else "application/octet-stream"), headers


def _summary(row: dict) -> dict:
    return {"id": row["id"], "name": row["name"], "size": row["size"], "content_type": row["content_type"], "sha256": row["sha256"]}


class Cleanup:
    """A deleted record's files go with it, in the transaction of the delete (a subscriber of `deleted`)."""

    @hookimpl
    def on_event(self, event, tx):
        if event.type != DELETED or event.record_id is None:
            return
        a = tx.records.schema.attachment
        shas = set(tx.conn.execute(select(a.c.sha256).where(a.c.entity == event.entity, a.c.record_id == event.record_id)).scalars())
        if not shas:
            return
        tx.conn.execute(a.delete().where(a.c.entity == event.entity, a.c.record_id == event.record_id))
        blobs = blobs_for(tx.records.schema)
        for sha in shas:
            blobs.release(tx.conn, sha)
