"""Admin changes to forms, stored as versions in the database (`sys_form_version`).

Each save or restore in the form designer appends a version of one form: its whole overlay
piece after the change (engine.metadata.overlay), what changed for people to read, who and
when. The newest version of each form is in force. Because the versions live in the database,
every app process on it - several workers, several hosts - reads the same overlay; a process
notices a new one by the highest version id (`head`).
"""
from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import func, inspect, select
from sqlalchemy.exc import IntegrityError

from engine.core.actor import Actor
from engine.core.errors import Conflict
from engine.storage.schema import Schema


@dataclass(frozen=True)
class Stored:
    """What the database holds: the overlay in force and where each form stands."""

    head: int = 0  # the highest version id; 0 when there are none
    pieces: dict = field(default_factory=dict)  # form -> the piece of its newest version (empty pieces left out)
    numbers: dict = field(default_factory=dict)  # form -> its newest version number
    ever_added: dict = field(default_factory=dict)  # form -> every custom field any of its versions added: {name: type}

    def kept_columns(self, app) -> dict:
        """Columns of custom fields no longer in the app (a version took them back, or they are set
        aside): their data stays, and migrations leave them alone."""
        out = {}
        for form, added in self.ever_added.items():
            ent = app.entities.get(form)
            gone = {n for n in added if ent is None or n not in ent.fields}
            if gone:
                out[form] = gone
        return out


def has_table(conn, schema: Schema) -> bool:
    return inspect(conn).has_table(schema.form_version.name)


def head(conn, schema: Schema) -> int:
    t = schema.form_version
    return conn.execute(select(func.max(t.c.id))).scalar() or 0


def load(conn, schema: Schema) -> Stored:
    """The overlay in force (a database without the table yet has none)."""
    if not has_table(conn, schema):
        return Stored()
    t = schema.form_version
    pieces, numbers, ever = {}, {}, {}
    top = 0
    for vid, form, number, piece in conn.execute(select(t.c.id, t.c.form, t.c.number, t.c.piece).order_by(t.c.id)):
        data = json.loads(piece)
        pieces[form], numbers[form], top = data, number, vid
        for name, spec in (data.get("new_fields") or {}).items() if isinstance(data, dict) else ():
            ever.setdefault(form, {})[name] = spec.get("type") if isinstance(spec, dict) else None
    return Stored(top, {f: p for f, p in pieces.items() if p}, numbers, ever)


def history(conn, schema: Schema, form: str) -> list[dict]:
    """The versions of one form, newest first."""
    t = schema.form_version
    rows = conn.execute(select(t).where(t.c.form == form).order_by(t.c.number.desc())).mappings()
    return [{**r, "piece": json.loads(r["piece"]), "changes": json.loads(r["changes"])} for r in rows]


def version(conn, schema: Schema, form: str, number: int) -> dict | None:
    t = schema.form_version
    r = conn.execute(select(t).where(t.c.form == form, t.c.number == number)).mappings().first()
    return None if r is None else {**r, "piece": json.loads(r["piece"]), "changes": json.loads(r["changes"])}


def append(conn, schema: Schema, form: str, piece: dict, changes: list, actor: Actor, based_on: int,
           action: str = "save", restored_from: int | None = None, at: dt.datetime | None = None) -> int:
    """Add the next version of `form` in the caller's transaction and return its number. `based_on`
    is the number the change was made from: if another version came first, nothing is written and
    Conflict says who saved in between."""
    t = schema.form_version
    newest = conn.execute(select(t.c.number, t.c.created_by_name).where(t.c.form == form).order_by(t.c.number.desc()).limit(1)).first()
    current = newest[0] if newest else 0
    if based_on != current:
        raise Conflict(f"{newest[1] or 'someone'} saved version {current} of this form after you opened it; "
                       "your changes are still on the page - check theirs, then save again")
    try:
        conn.execute(t.insert().values(
            form=form, number=current + 1, action=action, restored_from=restored_from,
            piece=json.dumps(piece, ensure_ascii=False), changes=json.dumps(changes, ensure_ascii=False),
            created_by=actor.id, created_by_name=actor.username, created_at=at or dt.datetime.now(dt.timezone.utc)))
    except IntegrityError:  # another process took the same number in the same moment
        raise Conflict("someone else saved this form at the same moment; your changes are still on the page - save again") from None
    return current + 1
