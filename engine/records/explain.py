"""Answers for administrators: may user X do action A on record R, and which rule decided;
and each role's effective permissions. The answers come from the same permission objects
and SQL scope clauses that every read and write uses."""
from __future__ import annotations

from sqlalchemy import select

from engine.access import users
from engine.core.actor import Actor
from engine.core.errors import ErrorCollector, Forbidden, Msg, NotFound
from engine.metadata.model import ACTIONS
from engine.records.service import Records


def _require_admin(records: Records, actor: Actor) -> None:
    if not records.permissions.grants(actor).admin:
        raise Forbidden("only administrators may see how permissions are decided")


def explain(records: Records, actor: Actor, username: str, entity: str, action: str, record_id: int | None = None) -> dict:
    _require_admin(records, actor)
    errors = ErrorCollector()
    ent = records.app.entities.get(entity)
    if ent is None or ent.child:
        errors.add("entity", "there is no entity '%(name)s'; entities: %(names)s", name=entity, names=", ".join(e.name for e in records.app.top_entities()))
    if action not in ACTIONS:
        errors.add("action", "one of: %(actions)s", actions=", ".join(ACTIONS))
    errors.raise_if_any()
    u = records.schema.user
    with records.db.read() as conn:
        uid = conn.execute(select(u.c.id).where(u.c.username == username)).scalar()
        subject = users.actor_for_id(conn, records.schema, uid, via="api") if uid is not None else None
        if subject is None:
            raise NotFound(Msg("no active user '%(username)s'", username=username))
        answer = records.permissions.explain(conn, subject, entity, action, record_id)
    hidden = records.permissions.grants(subject).hidden(entity)
    levels = {n: records.permissions.grants(subject).level(entity, n) for n in ent.fields}
    return {"user": subject.username, "roles": sorted(subject.roles), "entity": entity, "action": action, "record": record_id,
            **answer, "hidden_fields": sorted(hidden), "read_only_fields": sorted(n for n, lv in levels.items() if lv == "read_only")}


def role_table(records: Records, actor: Actor, role: str) -> dict:
    _require_admin(records, actor)
    if records.app.roles and role not in records.app.roles:
        raise NotFound(Msg("there is no role '%(role)s'; roles: %(roles)s", role=role, roles=", ".join(records.app.roles)))
    return records.permissions.table(role)
