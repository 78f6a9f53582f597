"""Records to JSON-ready dicts: decimals as strings (exact), dates ISO, times in UTC."""
from __future__ import annotations

from engine.core.values import to_json
from engine.metadata.model import App, Entity

_SYSTEM_TYPES = {"id": "integer", "owner": "user", "created_at": "datetime", "created_by": "user",
                 "updated_at": "datetime", "updated_by": "user", "version": "integer"}


def record_json(app: App, ent: Entity, record: dict, with_lines: bool = True) -> dict:
    out = {"id": record["id"]}
    for f in ent.fields.values():
        if f.type == "table":
            if with_lines and f.name in record:
                child = app.entity(f.entity)
                out[f.name] = [line_json(child, r) for r in record[f.name]]
            continue
        if f.name in record:  # fields hidden from the reader are absent, not null
            out[f.name] = to_json(f.value_type, record[f.name])
    for name, t in _SYSTEM_TYPES.items():
        if name != "id" and name in record:
            out[name] = to_json(t, record[name])
    return out


def line_json(child: Entity, row: dict) -> dict:
    out = {"id": row.get("id")}
    for f in child.stored_fields():
        out[f.name] = to_json(f.value_type, row.get(f.name))
    return out
