"""Comments on a record, and @mentions in them.

Who may read a record may read its comments and add one (a department that reviews an order
discusses it without being able to change it); a comment stays open for its author to edit for
EDIT_MINUTES; its author or an administrator may delete it. An @mention names a user who may
read the record - a mention of anyone else is refused, naming them, and tells them nothing - and
each person mentioned hears of it in the bell (Mentions, a subscriber of `comment_added` and
`comment_edited`). Adding, editing and deleting are events, audited as `comment`,
`comment_edit` and `comment_delete`; a deleted record's comments go with it (Cleanup).

A comment is internal, or `shared`: part of the conversation with the record's party - the
customer's (supplier's) contacts on the portal read and write only those, and every comment they
write is shared. A contact mentions nobody, and staff mention a contact in shared comments only:
an internal comment never reaches them. Conversation tells the other side of a shared comment."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select

from engine.access.users import party_roles
from engine.comments import markdown
from engine.core.actor import SYSTEM, Actor
from engine.core.errors import Conflict, FieldError, Forbidden, Msg, NotFound, ValidationFailed
from engine.core.i18n import localize
from engine.core.values import to_json
from engine.events.bus import emit
from engine.events.hooks import hookimpl
from engine.events.model import COMMENT_ADDED, COMMENT_EDITED, COMMENT_REMOVED, DELETED, Tx

EDIT_MINUTES = 10
MAX_LENGTH = 10000
MAX_MENTIONS = 20


class Comments:
    def __init__(self, records):
        self.records = records
        self.schema = records.schema

    def entity(self, entity: str):
        ent = self.records.entity(entity)
        if not ent.comments:
            raise NotFound(Msg("%(thing)s records take no comments", thing=Msg.label(ent.label)))
        return ent

    # ------------------------------------------------------------------ reading
    def list(self, actor: Actor, entity: str, record_id: int) -> list[dict]:
        """The record's comments, oldest first, each with its author's name and what the actor may do with it (a contact
        on the portal: the shared ones only)."""
        ent = self.entity(entity)
        c = self.schema.comment
        stmt = select(c).where(c.c.entity == ent.name, c.c.record_id == record_id).order_by(c.c.id)
        if actor.party is not None:
            stmt = stmt.where(c.c.shared.is_(True))
        with self.records.db.read() as conn:
            self.records.attached_to(conn, actor, ent, record_id)
            rows = [dict(r) for r in conn.execute(stmt).mappings()]
            people = self._people(conn, {r["author_id"] for r in rows} | {i for r in rows for i in r["mentions"]})
        now = self.records.clock()
        return [self._json(actor, r, people, now) for r in rows]

    def get(self, actor: Actor, comment_id: int) -> dict:
        """One comment, if the actor may read its record (NotFound otherwise, as if there were none)."""
        with self.records.db.read() as conn:
            row, _ = self._row(conn, actor, comment_id)
            people = self._people(conn, {row["author_id"], *row["mentions"]} - {None})
        return self._json(actor, row, people, self.records.clock())

    def mentionable(self, actor: Actor, entity: str, record_id: int, prefix: str, limit: int = 8) -> list[dict]:
        """People whose username or name starts with `prefix` who may read the record: whom the actor may mention."""
        ent = self.entity(entity)
        u = self.schema.user
        prefix = (prefix or "").strip().lstrip("@").lower()[:64]
        like = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        with self.records.db.read() as conn:
            self.records.attached_to(conn, actor, ent, record_id)
            rows = conn.execute(select(u.c.id, u.c.username, u.c.full_name).where(
                u.c.active.is_(True), u.c.party.is_(None),  # staff: a contact hears through the shared conversation
                (func.lower(u.c.username).like(like, escape="\\")) | (func.lower(u.c.full_name).like(like, escape="\\")))
                .order_by(u.c.username).limit(50)).all()
            readers = {r.id for r in self.records.readers(conn, [r.id for r in rows if r.id != actor.id], ent, record_id)}
        return [{"id": r.id, "username": r.username, "name": r.full_name or r.username} for r in rows if r.id in readers][:limit]

    # ------------------------------------------------------------------ writing
    def add(self, actor: Actor, entity: str, record_id: int, text, shared: bool = False) -> dict:
        """A comment on the record; `shared`: part of the conversation with its party (always, from a contact)."""
        ent = self.entity(entity)
        text = _text(text)
        shared = actor.party is not None or shared is True
        records = self.records
        c = self.schema.comment
        with records.db.write() as conn:
            records.attached_to(conn, actor, ent, record_id)
            mentioned = self._mentioned(conn, actor, ent, record_id, text, shared)
            now = records.clock()
            row = {"entity": ent.name, "record_id": record_id, "author_id": actor.id, "text": text, "mentions": mentioned,
                   "created_at": now, "edited_at": None, "shared": shared or None}
            row["id"] = conn.execute(c.insert().values(**row)).inserted_primary_key[0]
            emit(Tx(conn, records, actor, now, actor.language or "en"), COMMENT_ADDED, ent.name, record_id,
                 {"comment": _summary(row), "mentions": mentioned, "shared": shared, "from_party": actor.party is not None}, "comment")
            people = self._people(conn, {actor.id, *mentioned} - {None})
        return self._json(actor, row, people, now)

    def edit(self, actor: Actor, comment_id: int, text) -> dict:
        text = _text(text)
        records = self.records
        c = self.schema.comment
        with records.db.write() as conn:
            row, ent = self._row(conn, actor, comment_id)
            now = records.clock()
            if row["author_id"] != actor.id:
                raise Forbidden(Msg("only its author may edit a comment"))
            if now - row["created_at"] > dt.timedelta(minutes=EDIT_MINUTES):
                raise Conflict(Msg("a comment may be edited for %(n)s minutes after it is written; write a new one instead", n=EDIT_MINUTES))
            mentioned = self._mentioned(conn, actor, ent, row["record_id"], text, bool(row["shared"]))
            added = [i for i in mentioned if i not in row["mentions"]]
            conn.execute(c.update().where(c.c.id == comment_id).values(text=text, mentions=mentioned, edited_at=now))
            before = row["text"]
            row.update(text=text, mentions=mentioned, edited_at=now)
            emit(Tx(conn, records, actor, now, actor.language or "en"), COMMENT_EDITED, ent.name, row["record_id"],
                 {"comment": _summary(row), "before": before, "mentions": added, "shared": bool(row["shared"])}, "comment_edit")
            people = self._people(conn, {row["author_id"], *mentioned} - {None})
        return self._json(actor, row, people, now)

    def remove(self, actor: Actor, comment_id: int) -> None:
        records = self.records
        c = self.schema.comment
        with records.db.write() as conn:
            row, ent = self._row(conn, actor, comment_id)
            if row["author_id"] != actor.id and not records.permissions.grants(actor).admin:
                raise Forbidden(Msg("only its author or an administrator may delete a comment"))
            conn.execute(c.delete().where(c.c.id == comment_id))
            emit(Tx(conn, records, actor, records.clock(), actor.language or "en"), COMMENT_REMOVED, ent.name, row["record_id"],
                 {"comment": _summary(row), "shared": bool(row["shared"])}, "comment_delete")

    # ------------------------------------------------------------------ helpers
    def _row(self, conn, actor: Actor, comment_id) -> tuple[dict, object]:
        """The comment, if the actor may read its record (NotFound otherwise)."""
        c = self.schema.comment
        row = None
        if isinstance(comment_id, int) and not isinstance(comment_id, bool):
            found = conn.execute(select(c).where(c.c.id == comment_id)).mappings().first()
            row = dict(found) if found is not None else None
        if row is None or actor.party is not None and not row["shared"]:  # an internal comment does not exist for a contact
            raise NotFound(Msg("no comment with id %(id)s", id=comment_id))
        try:
            ent = self.entity(row["entity"])
        except (KeyError, NotFound):
            raise NotFound(Msg("no comment with id %(id)s", id=comment_id)) from None
        self.records.attached_to(conn, actor, ent, row["record_id"])
        return row, ent

    def _mentioned(self, conn, actor: Actor, ent, record_id: int, text: str, shared: bool) -> list[int]:
        """The ids of the people the text mentions; ValidationFailed naming anyone unknown or who may not read the record,
        or a contact of the party in an internal comment. A contact's own text mentions nobody."""
        names = markdown.mentions(text)
        if not names or actor.party is not None:
            return []
        if len(names) > MAX_MENTIONS:
            raise ValidationFailed([FieldError("text", Msg("mention at most %(n)s people in one comment", n=MAX_MENTIONS))])
        u = self.schema.user
        rows = conn.execute(select(u.c.id, u.c.username, u.c.party).where(u.c.username.in_(names), u.c.active.is_(True))).all()
        found = {r.username: r.id for r in rows}
        contacts = {r.username for r in rows if r.party is not None}
        readers = {r.id for r in self.records.readers(conn, list(found.values()), ent, record_id)}
        errors = []
        for name in names:
            if name not in found:
                errors.append(FieldError("text", Msg("there is no user @%(name)s: mention people by their user name", name=name)))
            elif name in contacts and not shared and found[name] in readers:
                errors.append(FieldError("text", Msg("@%(name)s is the party's contact and reads only comments shared with them: "
                                                     "share this one, or leave them out", name=name)))
            elif found[name] not in readers:
                errors.append(FieldError("text", Msg("@%(name)s cannot see this %(thing)s: mention only people who can", name=name,
                                                     thing=Msg.label(ent.label, lower=True))))
        if errors:
            raise ValidationFailed(errors)
        return [found[n] for n in names if found[n] != actor.id]

    def _people(self, conn, ids: set) -> dict:
        ids = {i for i in ids if isinstance(i, int)}
        if not ids:
            return {}
        u = self.schema.user
        return {r.id: {"username": r.username, "name": r.full_name or r.username, "contact": r.party is not None}
                for r in conn.execute(select(u.c.id, u.c.username, u.c.full_name, u.c.party).where(u.c.id.in_(ids)))}

    def _json(self, actor: Actor, row: dict, people: dict, now: dt.datetime) -> dict:
        author = people.get(row["author_id"]) or {}
        mine = row["author_id"] is not None and row["author_id"] == actor.id
        known = {people[i]["username"] for i in row["mentions"] if i in people}
        return {"id": row["id"], "entity": row["entity"], "record_id": row["record_id"], "text": row["text"],
                "html": markdown.render(row["text"], known), "author_id": row["author_id"], "author": author.get("name"),
                "mentions": [people[i]["name"] for i in row["mentions"] if i in people],
                "created_at": to_json("datetime", row["created_at"]), "edited_at": to_json("datetime", row["edited_at"]) if row["edited_at"] else None,
                "shared": bool(row.get("shared")), "from_party": bool(author.get("contact")),
                "may_edit": mine and now - row["created_at"] <= dt.timedelta(minutes=EDIT_MINUTES),
                "may_delete": mine or self.records.permissions.grants(actor).admin}


def _text(text) -> str:
    if not isinstance(text, str) or not text.strip():
        raise ValidationFailed([FieldError("text", Msg("write something first"))])
    text = text.replace("\r\n", "\n").strip()
    if len(text) > MAX_LENGTH:
        raise ValidationFailed([FieldError("text", Msg("at most %(n)s characters", n=MAX_LENGTH))])
    return text


def _summary(row: dict) -> dict:
    return {"id": row["id"], "text": row["text"][:2000]}


class Mentions:
    """Each person a comment mentions hears of it in the bell (only if they may read the record then)."""

    @hookimpl
    def on_event(self, event, tx):
        if event.type not in (COMMENT_ADDED, COMMENT_EDITED) or not event.data.get("mentions"):
            return
        records = tx.records
        ent = records.app.entity(event.entity)
        who = tx.actor.full_name or tx.actor.username
        text = " ".join(event.data["comment"]["text"].split())
        said = Msg("%(who)s mentioned you: “%(text)s”", who=who, text=text[:140] + ("…" if len(text) > 140 else ""))
        records.deliver_to(tx, event.data["mentions"], ent, event.record_id, "mention", lambda hidden, lang: localize(said, lang),
                           event_id=event.id)


class Conversation:
    """A shared comment reaches the other side: a contact's, the record's owner (in the bell and by e-mail); a colleague's,
    the contacts of the record's party who may read it (by e-mail, as their channels allow, in their language)."""

    @hookimpl
    def on_event(self, event, tx):
        if event.type != COMMENT_ADDED or not event.data.get("shared"):
            return
        records = tx.records
        ent = records.app.entity(event.entity)
        t = records.schema.tables[ent.name]
        record = tx.conn.execute(select(t).where(t.c.id == event.record_id)).mappings().first()
        if record is None:
            return
        who = tx.actor.full_name or tx.actor.username
        text = " ".join(event.data["comment"]["text"].split())
        short = text[:140] + ("…" if len(text) > 140 else "")
        thing = record.get(ent.title_field) if ent.title_field else None
        title = str(thing) if thing is not None else f"#{event.record_id}"
        if event.data.get("from_party"):
            people = [record["owner"]] if record["owner"] is not None else []
            portal = next((r.portal for r in records.app.roles.values() if r.portal is not None and r.name in tx.actor.roles), None)
            party = records.titles_in(tx.conn, SYSTEM, portal.party_entity, {tx.actor.party}).get(tx.actor.party, "") if portal else ""
            said = Msg("%(who)s of %(party)s wrote on %(title)s: “%(text)s”", who=who, party=party, title=title, text=short)
        else:
            u, r = records.schema.user, records.schema.user_role
            people = []
            for f in ent.fields.values():  # each party the record links to: the contacts of that party entity's portal roles
                roles = party_roles(records.app, f.entity) if f.type == "link" else []
                if record.get(f.name) is not None and roles:
                    people += [i for (i,) in tx.conn.execute(select(u.c.id).select_from(u.join(r, r.c.user_id == u.c.id)).where(
                        u.c.party == record[f.name], r.c.role.in_(roles), u.c.active.is_(True)).distinct())]
            said = Msg("%(who)s wrote to you about %(title)s: “%(text)s”", who=who, title=title, text=short)
        people = [i for i in people if i != tx.actor.id]
        if people:
            records.deliver_to(tx, people, ent, event.record_id, "comment", lambda hidden, lang: localize(said, lang),
                               channels=("in_app", "email"), event_id=event.id)


class Cleanup:
    """A deleted record's comments go with it (a subscriber of `deleted`)."""

    @hookimpl
    def on_event(self, event, tx):
        if event.type == DELETED and event.record_id is not None:
            c = tx.records.schema.comment
            tx.conn.execute(c.delete().where(c.c.entity == event.entity, c.c.record_id == event.record_id))
