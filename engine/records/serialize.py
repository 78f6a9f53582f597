"""Records to JSON-ready dicts: decimals as strings (exact), dates ISO, times in UTC; a file field's
value as {id, name, size, content_type, url, ...} where `files` describes it (else {id})."""
from __future__ import annotations

from engine.core.values import to_json
from engine.metadata.model import App, Entity

_SYSTEM_TYPES = {"id": "integer", "owner": "user", "created_at": "datetime", "created_by": "user",
                 "updated_at": "datetime", "updated_by": "user", "version": "integer"}


def record_json(app: App, ent: Entity, record: dict, with_lines: bool = True, files: dict | None = None) -> dict:
    out = {"id": record["id"]}
    for f in ent.fields.values():
        if f.type == "table":
            if with_lines and f.name in record:
                child = app.entity(f.entity)
                out[f.name] = [line_json(child, r, files) for r in record[f.name]]
            continue
        if f.name in record:  # fields hidden from the reader are absent, not null
            out[f.name] = _file(record[f.name], files) if f.type == "file" else to_json(f.value_type, record[f.name])
    for name, t in _SYSTEM_TYPES.items():
        if name != "id" and name in record:
            out[name] = to_json(t, record[name])
    return out


def line_json(child: Entity, row: dict, files: dict | None = None) -> dict:
    out = {"id": row.get("id")}
    for f in child.stored_fields():
        out[f.name] = _file(row.get(f.name), files) if f.type == "file" else to_json(f.value_type, row.get(f.name))
    return out


def file_ids(app: App, ent: Entity, records) -> set[int]:
    """The attachment ids the file fields of these records (and of their lines, where read) hold."""
    out: set[int] = set()
    tables = [(tf.name, app.entity(tf.entity).file_fields()) for tf in ent.table_fields()]
    for r in records:
        out.update(v for f in ent.file_fields() if isinstance(v := r.get(f.name), int))
        for name, fields in tables:
            for line in r.get(name) or () if fields else ():
                out.update(v for f in fields if isinstance(v := line.get(f.name), int))
    return out


def has_file_fields(app: App, ent: Entity) -> bool:
    """Do the entity's records or their lines have file fields?"""
    return bool(ent.file_fields()) or any(app.entity(tf.entity).file_fields() for tf in ent.table_fields())


def _file(value, files: dict | None):
    if value is None:
        return None
    return (files or {}).get(value) or {"id": value}
