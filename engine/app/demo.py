"""Load an app's demo data (`<app>/demo/users.yaml` and `<app>/demo/records.yaml`) into an
empty database, through the record service like any other write.

records.yaml is a list of batches: `{entity: customer, as: rep_east1, records: [...]}`; a record's
`_as` names who creates that one instead. A link value may be written as a lookup, `{code: C001}`,
resolved against the linked entity. A record
may carry `_ref: name`; a later batch `{entity: sales_order, as: sup_east, fire: approve, refs: [...],
comment: ..., fields: {...}}` fires a workflow transition on those records.
"""
from __future__ import annotations

from pathlib import Path

from sqlalchemy import func, select

from engine.access import users
from engine.app.runtime import Runtime
from engine.core.actor import SYSTEM, Actor
from engine.metadata.yamlload import parse
from engine.workflow import reviews, transitions

DEMO_KEY = "demo_loaded"


class DemoError(Exception):
    pass


def _read(path: Path):
    doc, problems = parse(path.read_text(encoding="utf-8"))
    if problems or doc is None:
        raise DemoError(f"{path}: " + "; ".join(f"line {p.mark.line}: {p.message}" for p in problems))
    return doc.data


def is_empty(rt: Runtime) -> bool:
    with rt.db.read() as conn:
        if conn.execute(select(func.count()).select_from(rt.schema.user)).scalar_one():
            return False
        return not any(conn.execute(select(t.c.id).limit(1)).first() for t in rt.schema.tables.values())


def load(rt: Runtime) -> dict[str, int]:
    """Load the demo; returns how many records of each entity were created."""
    folder = Path(rt.app.root) / "demo"
    if not folder.is_dir():
        return {}
    counts: dict[str, int] = {}
    actors: dict[str, Actor] = {}
    d = rt.schema.delivery
    with rt.db.read() as conn:
        before = conn.execute(select(func.max(d.c.id))).scalar() or 0
    people = _read(folder / "users.yaml") if (folder / "users.yaml").is_file() else []
    _create_users(rt, [u for u in people if "party" not in u], actors, counts)
    if (folder / "records.yaml").is_file():
        refs: dict[str, int] = {}
        for batch in _read(folder / "records.yaml"):
            ent = rt.records.entity(batch["entity"])
            actor = actors.get(batch.get("as"), SYSTEM)
            if "fire" in batch:  # move records created above along their workflow
                for ref in batch["refs"]:
                    transitions.fire(rt.records, actor, ent.name, refs[ref], batch["fire"], batch.get("comment"), batch.get("fields"))
                    counts["transition"] = counts.get("transition", 0) + 1
                continue
            if "review" in batch:  # department opinions on records under review
                for ref in batch["refs"]:
                    reviews.decide(rt.records, actor, ent.name, refs[ref], batch["review"], batch.get("opinion"))
                    counts["review"] = counts.get("review", 0) + 1
                continue
            for data in batch["records"]:
                data = dict(data)
                ref = data.pop("_ref", None)
                by = actors.get(data.pop("_as", None), actor)
                rec = rt.records.create(by, ent.name, _resolve(rt, ent, data))
                if ref:
                    refs[ref] = rec["id"]
                counts[ent.name] = counts.get(ent.name, 0) + 1
    _create_users(rt, [u for u in people if "party" in u], actors, counts)  # portal users: contacts of records made above
    with rt.db.write() as conn:  # the made-up history is not sent to an ERP or anyone's mailbox: the log starts empty
        conn.execute(d.delete().where(d.c.id > before))
    return counts


def _create_users(rt: Runtime, people: list[dict], actors: dict, counts: dict) -> None:
    """users.yaml's users; a portal user's `party` is a lookup of their party record, e.g. {code: C003}."""
    for u in people:
        party = None
        if "party" in u:
            portal = users.portal_of(rt.app, u["roles"])
            if portal is None:
                raise DemoError(f"demo user {u['username']} has a party but no portal role")
            party = _lookup(rt, portal.party_entity, u["party"])
        with rt.db.write() as conn:
            uid = users.create_user(conn, rt.schema, u["username"], u.get("password", "demo"), u["roles"],
                                    manager=u.get("manager"), full_name=u.get("full_name"), language=u.get("language"),
                                    attributes=u.get("attributes"), email=u.get("email"), phone=u.get("phone"), party=party)
        actors[u["username"]] = Actor(uid, u["username"], frozenset(u["roles"]), via="system", full_name=u.get("full_name", ""), party=party)
        counts["user"] = counts.get("user", 0) + 1


def _resolve(rt: Runtime, ent, data: dict) -> dict:
    out = {}
    for k, v in data.items():
        f = ent.fields.get(k)
        if f is not None and f.type == "link" and isinstance(v, dict):
            out[k] = _lookup(rt, f.entity, v)
        elif f is not None and f.type == "table" and isinstance(v, list):
            child = rt.app.entity(f.entity)
            out[k] = [_resolve(rt, child, row) for row in v]
        else:
            out[k] = v
    return out


def _lookup(rt: Runtime, entity: str, where: dict) -> int:
    t = rt.schema.tables[entity]
    stmt = select(t.c.id)
    for k, v in where.items():
        stmt = stmt.where(t.c[k] == v)
    with rt.db.read() as conn:
        rid = conn.execute(stmt).scalar()
    if rid is None:
        raise DemoError(f"demo data refers to a {entity} with {where}, which does not exist")
    return rid
