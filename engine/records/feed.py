"""The event feed: the outbox in id order for integrations that pull (GET /api/v1/events). Open to
administrators and to roles the metadata marks `integration: true`, closed (403) to everyone else;
each event only of an entity the reader may read, without the fields hidden from them."""
from __future__ import annotations

import base64

from sqlalchemy import and_, false, or_, select

from engine.core.actor import Actor
from engine.core.errors import BadRequest, Forbidden, Msg
from engine.core.values import to_json
from engine.events import outbox
from engine.records.service import Records, without_hidden

MAX_LIMIT = 1000


def encode_cursor(event_id: int) -> str:
    return base64.urlsafe_b64encode(f"e{event_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        if not raw.startswith("e") or not raw[1:].isdigit():
            raise ValueError
        return int(raw[1:])
    except (ValueError, UnicodeDecodeError):
        raise BadRequest(Msg("the cursor is not one this feed gave; start again with after=0")) from None


def events(records: Records, actor: Actor, after: int = 0, limit: int = 100) -> dict:
    """{items, next_cursor, more}: events with an id above `after`, oldest first. `next_cursor` is where
    to go on from (also when there is nothing new yet: poll with it)."""
    grants = records.permissions.grants(actor)
    if not (grants.admin or grants.integration or grants.unrestricted):
        raise Forbidden(Msg("the event feed is for administrators and integration accounts (roles.yaml: integration: true)"))
    with records.db.read() as conn:
        visible = None if grants.admin or grants.unrestricted else _visible(records, conn, actor, grants)
        found = outbox.after(conn, records.schema, after, limit + 1, visible)
    items = []
    for e in found[:limit]:
        hidden = grants.hidden(e.entity)
        items.append({"id": e.id, "type": e.type, "entity": e.entity, "record_id": e.record_id, "actor": e.actor.username,
                      "actor_id": e.actor.id, "via": e.actor.via, "at": to_json("datetime", e.at),
                      "data": without_hidden(e.data, hidden, records.workflow_of(e.entity)) if hidden else e.data})
    last = items[-1]["id"] if items else after
    return {"items": items, "next_cursor": encode_cursor(last), "more": len(found) > limit}


def _visible(records: Records, conn, actor: Actor, grants):
    """Events of the entities the reader may read, about records inside their read scope now."""
    e = records.schema.event
    clauses = []
    for ent in records.app.top_entities():
        if not grants.can(ent.name, "read"):
            continue
        scope = records._scope(conn, actor, ent.name, "read")
        t = records.schema.tables[ent.name]
        clauses.append(and_(e.c.entity == ent.name, e.c.record_id.in_(select(t.c.id).where(scope))) if scope is not None else e.c.entity == ent.name)
    return or_(*clauses) if clauses else false()
