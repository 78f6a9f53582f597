"""Turn incoming data (a JSON object) into field values, collecting every error at once.

Unknown fields are errors, never ignored. System, computed and read-only fields may be sent
back unchanged (a client that PATCHes what it read keeps working) but not changed.
"""
from __future__ import annotations

from engine.core.errors import ErrorCollector, message_of
from engine.core.values import BadValue, NewFile, coerce, parse_id
from engine.metadata.model import CHILD_SYSTEM_COLUMNS, SYSTEM_COLUMNS, Entity

MAX_LINES = 1000


def _same(field, given, current) -> bool:
    try:
        return coerce(field, given) == current if field is not None else given == current
    except BadValue:
        return False


def parse_values(ent: Entity, data, errors: ErrorCollector, current: dict | None, prefix: str = "", text: bool = False) -> dict:
    """Values the caller may set, coerced; `current` is the stored record on update (None on create).
    With `text`, values arrive as text (screens, imports) and numbers, ids and booleans are read from it."""
    if not isinstance(data, dict):
        errors.add(prefix.rstrip(".") or "body", "expected a JSON object of field names and values")
        return {}
    system = CHILD_SYSTEM_COLUMNS if ent.child else SYSTEM_COLUMNS
    out: dict = {}
    for key, raw in data.items():
        name = f"{prefix}{key}"
        if key in system or key == "search_text":
            cur = current.get(key) if current else None
            if current is not None and (raw == cur or (key in ("created_at", "updated_at") and raw is not None)):
                continue
            if key == "id" and ent.child:
                continue  # line ids are handled by the table parser
            if key == "version" and not ent.child:
                continue  # taken by the caller for the stale-version check
            errors.add(name, "'%(field)s' is set by the system and cannot be written", field=key)
            continue
        field = ent.fields.get(key)
        if field is None:
            known = ", ".join(n for n in ent.fields)
            errors.add(name, "unknown field; %(entity)s has: %(known)s", entity=ent.name, known=known)
            continue
        if field.type == "table":
            continue  # parsed by parse_lines
        if field.type == "file":
            cur = current.get(key) if current else None
            if raw is None or isinstance(raw, NewFile):
                out[key] = raw  # a new file, or none any more
            elif cur is None or _file_id(raw) != cur:  # the file it has may be sent back as read: it stays
                errors.add(name, "send the file itself: upload it in a form, or PUT it to /api/v1/{entity}/{id}/files/{field}; "
                                 "a file field's value is never written as an id or a name")
            continue
        if field.type == "computed" or field.read_only:
            cur = current.get(key) if current else field.default
            if raw is None or _same(field if field.type != "computed" else None, raw, cur) or field.type == "computed" and _same_computed(field, raw, cur):
                continue
            if field.type == "computed":
                errors.add(name, "cannot be set: it is computed from other fields")
            else:
                errors.add(name, "cannot be set: it is read-only")
            continue
        try:
            out[key] = coerce(field, raw, from_query=text)
        except BadValue as exc:
            errors.add(name, message_of(exc))
    return out


def _file_id(raw):
    """The attachment id in a file field's value as read ({"id": 12, "name": ...}), or as its bare id."""
    if isinstance(raw, dict):
        raw = raw.get("id")
    return raw if isinstance(raw, int) and not isinstance(raw, bool) else None


def _same_computed(field, raw, cur) -> bool:
    from decimal import Decimal, InvalidOperation
    try:
        return Decimal(str(raw)) == cur
    except (InvalidOperation, ValueError, TypeError):
        return False


def parse_lines(parent: Entity, child: Entity, field_name: str, raw, errors: ErrorCollector,
                current_lines: list[dict] | None, text: bool = False, locked: frozenset = frozenset()) -> list[dict] | None:
    """The new list of lines for a table field. Items with an `id` update that existing line
    (only the fields given change); items without one are new; lines not listed are removed.
    `locked`: the line fields read-only for the writer - a new line leaves them to the metadata (a
    fill, a default), an existing one may repeat its value but not change it."""
    if not isinstance(raw, list):
        errors.add(field_name, "expected a list of lines")
        return None
    if len(raw) > MAX_LINES:
        errors.add(field_name, "at most %(n)s lines", n=MAX_LINES)
        return None
    existing = {line["id"]: line for line in (current_lines or [])}
    result: list[dict] = []
    seen_ids: set = set()
    for i, item in enumerate(raw):
        prefix = f"{field_name}[{i}]."
        if not isinstance(item, dict):
            errors.add(f"{field_name}[{i}]", "expected an object with the line's fields")
            continue
        line_id = item.get("id")
        if text and isinstance(line_id, str):
            line_id = parse_id(line_id.strip()) or (None if not line_id.strip() else line_id)
        base: dict = {}
        if line_id is not None:
            if isinstance(line_id, bool) or not isinstance(line_id, int) or line_id not in existing:
                errors.add(f"{prefix}id", "%(id)s is not a line of this record; leave id out to add a new line", id=repr(line_id))
                continue
            if line_id in seen_ids:
                errors.add(f"{prefix}id", "this line is listed twice")
                continue
            seen_ids.add(line_id)
            base = {k: v for k, v in existing[line_id].items()}
        values = parse_values(child, {k: v for k, v in item.items() if k not in ("id", "idx", "parent_id")}, errors,
                              base if line_id is not None else None, prefix, text)
        for name in locked & set(values):
            if line_id is None and values[name] is not None or line_id is not None and values[name] != base.get(name):
                errors.add(f"{prefix}{name}", "'%(field)s' is read-only for your roles; leave it out", field=name)
                values.pop(name)
        line = {f.name: base.get(f.name, f.default if line_id is None else None) for f in child.stored_fields()}
        line.update(values)
        if line_id is not None:
            line["id"] = line_id
        result.append(line)
    return result
