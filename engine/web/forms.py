"""HTML form data to the record service's input, and error paths back to form fields.

Fields arrive as text (`customer=12`); lines as `lines-<row>-<field>` in the order the rows
appear on the page. A row left completely empty is not a line. Screens send datetimes without
an offset from `datetime-local` inputs; they are read in the user's time zone (UTC for a user
who chose none), the zone the screens show times in.
"""
from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from engine.core.i18n import localize
from engine.core.values import NewFile
from engine.metadata.model import App, Entity

_LINE = re.compile(r"^([a-z][a-z0-9_]*)-(\d{1,4})-([a-z][a-z0-9_]*)$")
_LOCAL = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


def local_moment(text: str, tz: str = "UTC") -> str:
    """A `datetime-local` value (2026-12-07T15:30, no offset) as the moment it means in zone `tz`,
    with its offset (2026-12-07T15:30:00+08:00); anything else as it came."""
    v = (text or "").strip()
    if not _LOCAL.fullmatch(v):
        return v
    try:
        zone = ZoneInfo(tz or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return dt.datetime.fromisoformat(v).replace(tzinfo=zone).isoformat()


def form_to_input(app: App, ent: Entity, form, shown: list[str], keep_empty: bool = False, locked: frozenset = frozenset(),
                  tz: str = "UTC") -> dict:
    """`shown` is the list of fields the form displayed; only those are sent to the service, except
    `locked` ones (hidden from or read-only for the user: the service would refuse them).
    `keep_empty` keeps blank line rows, so a preview's lines line up with the rows on the page."""
    data: dict = {}
    for name in shown:
        f = ent.fields.get(name)
        if f is None or f.type == "computed" or f.read_only or name in locked:
            continue
        if f.type == "table":
            data[name] = _lines(app.entity(f.entity), name, form, keep_empty)
        elif f.type == "boolean":
            data[name] = "true" if form.get(name) in ("true", "on", "1") else "false"
        elif f.type == "file":
            _file_input(data, name, form.get(name), form.get(name + "__clear"))
        elif f.type == "datetime":
            data[name] = local_moment(form.get(name) or "", tz)
        elif name in form:
            data[name] = form.get(name)
    return data


def _lines(child: Entity, table: str, form, keep_empty: bool = False) -> list[dict]:
    rows: dict[int, dict] = {}
    order: list[int] = []
    for key, value in form.multi_items():
        m = _LINE.match(key)
        if not m or m.group(1) != table:
            continue
        n = int(m.group(2))
        if n not in rows:
            rows[n] = {}
            order.append(n)
        rows[n][m.group(3)] = value
    out = []
    files = child.file_fields()
    for n in order:
        row = rows[n]
        values = {k: v for k, v in row.items() if k in child.fields and child.fields[k].type not in ("computed", "file")}
        for f in files:
            _file_input(values, f.name, row.get(f.name), row.get(f.name + "__clear"))
        if not keep_empty and not row.get("id") and not any(str(v).strip() for v in values.values()):
            continue
        if row.get("id"):
            values["id"] = row["id"]
        out.append(values)
    return out


def _file_input(data: dict, name: str, given, clear) -> None:
    """A file input: a file chosen is the field's new file; none chosen leaves it as it is, unless
    its "remove" box is ticked."""
    if getattr(given, "filename", None):
        data[name] = NewFile(given.filename, given.file)
    elif clear:
        data[name] = None


def without_new_files(data: dict) -> dict:
    """The form's input without the files chosen in it (a line keeps its other values)."""
    out = {k: v for k, v in data.items() if not isinstance(v, NewFile)}
    for k, v in out.items():
        if isinstance(v, list):
            out[k] = [{n: x for n, x in line.items() if not isinstance(x, NewFile)} if isinstance(line, dict) else line for line in v]
    return out


def errors_by_field(errors, lang: str) -> dict[str, list[str]]:
    """Messages in the page's language by input name: `lines[2].quantity` -> `lines-2-quantity`."""
    out: dict[str, list[str]] = {}
    for e in errors:
        key = re.sub(r"^([a-z0-9_]+)\[(\d+)\]\.", r"\1-\2-", e.field)
        out.setdefault(key, []).append(localize(e.message, lang))
    return out
