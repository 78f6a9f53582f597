"""File fields: one named file in a field of a record or of a line (`type: file`, e.g. a line's drawing).

A file field holds the id of an attachment of its record (sys_attachment, its `field` naming the
field: `drawing`, or `lines.drawing` for a line's), kept in the blob store like any attachment. The
record service stays the only writer: a new file arrives as the field's value (NewFile, from a form
or the API's upload route) and this plugin keeps it in the write's transaction (`keep_files`),
checked against the field's `max_size_mb` and `types`, and forgets a file replaced, cleared or on a
line removed - in the same transaction, so a write refused keeps the files as they were. Reading
one is reading its record: the attachment service lets whoever may read the record, and see the
field, download it (engine.files.attachments)."""
from __future__ import annotations

from sqlalchemy import select

from engine.core.errors import Msg
from engine.core.values import NewFile
from engine.events.hooks import hookimpl
from engine.files.attachments import clean_name, inspect
from engine.files.stores import blobs_for
from engine.metadata.model import AttachmentRules, Entity

_ANY = AttachmentRules()


def held(app, ent: Entity, values: dict, lines: dict) -> set[int]:
    """The attachment ids the file fields of a record and its lines hold."""
    out = {v for f in ent.file_fields() if isinstance(v := values.get(f.name), int)}
    for tf in ent.table_fields():
        fields = app.entity(tf.entity).file_fields()
        for line in (lines.get(tf.name) or ()) if fields else ():
            out.update(v for f in fields if isinstance(v := line.get(f.name), int))
    return out


class FieldFiles:
    @hookimpl
    def keep_files(self, entity, record_id, values, lines, old, tx):
        app, schema, conn = tx.records.app, tx.records.schema, tx.conn
        a = schema.attachment
        blobs = blobs_for(schema)
        names: dict[int, str] = {}

        def keep(f, path: str, key: str, given: NewFile) -> int:
            name = clean_name(given.name)
            sha, size, content_type = inspect(given.file, name, f.accepts or _ANY, key, lambda types: Msg(
                "%(name)s is not a kind of file %(field)s takes; it takes: %(types)s", name=name, field=Msg.label(f.label), types=types))
            blobs.keep(conn, sha, size, given.file, tx.now)
            row = {"entity": entity.name, "record_id": record_id, "name": name, "size": size, "content_type": content_type,
                   "sha256": sha, "field": path, "created_by": tx.actor.id, "created_at": tx.now}
            made = conn.execute(a.insert().values(**row)).inserted_primary_key[0]
            names[made] = name
            return made

        for f in entity.file_fields():
            if isinstance(values.get(f.name), NewFile):
                values[f.name] = keep(f, f.name, f.name, values[f.name])
        for tf in entity.table_fields():
            for f in app.entity(tf.entity).file_fields():
                for i, line in enumerate(lines.get(tf.name) or ()):
                    if isinstance(line.get(f.name), NewFile):
                        line[f.name] = keep(f, f"{tf.name}.{f.name}", f"{tf.name}[{i}].{f.name}", line[f.name])
        if old is not None:
            gone = held(app, entity, old, old) - held(app, entity, values, lines)
            if gone:
                rows = conn.execute(select(a.c.id, a.c.name, a.c.sha256).where(
                    a.c.id.in_(sorted(gone)), a.c.entity == entity.name, a.c.record_id == record_id)).all()
                conn.execute(a.delete().where(a.c.id.in_([r.id for r in rows])))
                for r in rows:
                    names[r.id] = r.name
                    blobs.release(conn, r.sha256)
        return names
