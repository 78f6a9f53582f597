"""The record service: every create, read, update, delete and list goes through here.

One transaction per call: coercion, defaults, hooks, computed fields, validation (every
error at once), naming series, SQL, line items, audit entry. Nothing is half-written: any
error rolls the whole call back. Updates are compare-and-set on `version`, so a stale
version is a 409 and overwrites nothing.
"""
from __future__ import annotations

import datetime as dt
import json
import weakref
from typing import Any

from sqlalchemy import and_, bindparam, false, func, or_, select
from sqlalchemy.exc import IntegrityError

from engine.access.permissions import Permissions
from engine.access.users import actor_for_id, user_exists
from engine.access.users import contacts as user_contacts
from engine.core.actor import Actor
from engine.core.errors import Conflict, ErrorCollector, FieldError, Forbidden, Msg, NotFound, ValidationFailed, message_of
from engine.core.values import BadValue, coerce, parse_id, to_json
from engine.events.bus import emit, emit_all
from engine.events.model import CREATED, DELETED, STATE_ENTERED, UPDATED, Notice, Tx
from engine.metadata.model import App, Entity, Workflow
from engine.metadata.workflow_parts import people_of
from engine.metadata.workflows import inputs_into
from engine.records import conditions, deadlines, listing, lookups, notifications
from engine.records.compute import apply_defaults, compute, refuse_changes, refuse_immutable, validate
from engine.records.inputs import parse_lines, parse_values
from engine.records.serialize import has_file_fields
from engine.storage import memo, naming
from engine.storage.db import Database, flush
from engine.storage.schema import Schema


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


class Records:
    def __init__(self, app: App, schema: Schema, db: Database, hooks):
        self.app = app
        self.schema = schema
        self.db = db
        self.plugin_manager = hooks
        self.hooks = hooks.hook
        self.permissions = Permissions(app, schema)
        self._shapes: dict[tuple, tuple[list, Any]] = {}
        self._with_files: dict[str, bool] = {}  # entity -> whether it or its lines have file fields
        self._statements: dict[tuple, Any] = {}  # statements built once per entity (the schema is fixed for this service)
        self._in_tx: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # connection -> statements over its transaction's scope clauses
        self.clock = _now  # the time every write stamps; tests set their own to move through deadlines
        self.wake = None  # called after a commit that emitted events: the task queue delivers the outbox (engine.app.tasks)

    # ------------------------------------------------------------------ lookup
    def workflow_of(self, entity: str) -> Workflow | None:
        return self.app.workflows.get(entity)

    def entity(self, name: str) -> Entity:
        ent = self.app.entities.get(name)
        if ent is None or ent.child:
            known = ", ".join(e.name for e in self.app.top_entities())
            raise NotFound(Msg("there is no entity '%(name)s'; known entities: %(known)s", name=name, known=known))
        return ent

    # ------------------------------------------------------------------ read
    def get(self, actor: Actor, entity: str, record_id: int) -> dict:
        ent = self.entity(entity)
        self.permissions.require(actor, ent.name, "read")
        with self.db.read() as conn:
            return self._strip(actor, ent, self._visible(conn, actor, ent, record_id))

    def find(self, actor: Actor, entity: str, field: str, raw) -> list[tuple[int, int]]:
        """(id, version) of the records whose `field` (id or a stored field) equals `raw` (text, read as the
        field reads a query value), among those the actor may read; at most two, enough to tell one from many."""
        ent = self.entity(entity)
        self.permissions.require(actor, ent.name, "read")
        f = listing.field_for(ent, field)
        if f is None:
            raise ValidationFailed([FieldError(field, Msg("not a stored field of %(entity)s", entity=ent.name))])
        try:
            value = coerce(f, raw, from_query=True)
        except BadValue as exc:
            raise ValidationFailed([FieldError(field, message_of(exc))]) from None
        t = self.schema.tables[ent.name]
        with self.db.read() as conn:
            scope = self._scope(conn, actor, ent.name, "read")
            return [tuple(r) for r in conn.execute(select(t.c.id, t.c.version).where(t.c[field] == value, *_given(scope)).limit(2))]

    def can(self, actor: Actor, entity: str, action: str, record_id: int | None = None) -> bool:
        """May `actor` do `action` on the entity (and, given an id, on that record)?"""
        if not self.permissions.grants(actor).can(entity, action):
            return False
        if record_id is None:
            return True
        with self.db.read() as conn:
            return self._in_scope(conn, entity, record_id, self._scope(conn, actor, entity, action))

    def scope_clause(self, conn, actor: Actor, entity: str, action: str = "read"):
        """The WHERE clause of the records the actor may `action` (None: all of them), for readers that add
        records up (engine.reports) - the same clause every list, count and export uses."""
        return self._scope(conn, actor, entity, action)

    def _scope(self, conn, actor: Actor, entity: str, action: str):
        return self.permissions.where(conn, actor, entity, action)

    def _visible(self, conn, actor: Actor, ent: Entity, record_id, lock: bool = False) -> dict:
        """The record and its lines if the actor may read it; NotFound otherwise (as if it did not exist)."""
        return self._load(conn, ent, record_id, lock=lock, scope=self._scope(conn, actor, ent.name, "read"))

    def _in_scope(self, conn, entity: str, record_id, *scopes) -> bool:
        """Is the record there and inside every one of these scope clauses? The statement is built once
        per transaction (the scope clauses are: engine.access.permissions), for the writes that follow."""
        given = _given(*scopes)
        t = self.schema.tables[entity]
        stmt = self._per_tx(conn, ("in_scope", entity), given, lambda: select(t.c.id).where(t.c.id == bindparam("rid"), *given))
        return conn.execute(stmt, {"rid": record_id}).first() is not None

    def _per_tx(self, conn, name: tuple, clauses, build):
        """What `build` makes of these clauses, made once per transaction: the key holds the clauses'
        ids and the entry the clauses themselves, so an id stays theirs for as long as it is a key."""
        built = self._in_tx.setdefault(conn, {})
        key = (*name, *map(id, clauses))
        if key not in built:
            built[key] = (tuple(clauses), build())
        return built[key][1]

    def _all_of(self, conn, scopes: list):
        """The clause that holds where every one of `scopes` holds (None for none), the same object each time in a transaction."""
        if len(scopes) < 2:
            return scopes[0] if scopes else None
        return self._per_tx(conn, ("and",), scopes, lambda: and_(*scopes))

    def _strip(self, actor: Actor, ent: Entity, record: dict) -> dict:
        """The record without the fields this actor may not see."""
        hidden = self.permissions.grants(actor).hidden(ent.name)
        return {k: v for k, v in record.items() if k not in hidden} if hidden else record

    def _load(self, conn, ent: Entity, record_id, lock: bool = False, scope=None) -> dict:
        """The record and its lines; NotFound when it does not exist or `scope` excludes it."""
        if not isinstance(record_id, int) or isinstance(record_id, bool):
            raise NotFound(Msg("no %(entity)s with id %(id)s", entity=ent.name, id=repr(record_id)))
        stmt = self._statements.get(("load", ent.name))
        if stmt is None:  # built once per entity: every read and write of a record runs it
            t = self.schema.tables[ent.name]
            stmt = self._statements[("load", ent.name)] = select(*[c for c in t.c if c.name != "search_text"]).where(t.c.id == bindparam("rid"))
        if scope is not None:  # built once per transaction and scope (the scope clauses are: engine.access.permissions)
            stmt = self._per_tx(conn, ("load", ent.name), (scope,), lambda: stmt.where(scope))
        if lock:
            stmt = stmt.with_for_update()
        row = conn.execute(stmt, {"rid": record_id}).mappings().first()
        if row is None:
            raise NotFound(Msg("no %(entity)s with id %(id)s", entity=ent.name, id=record_id))
        record = dict(row)
        for tf in ent.table_fields():
            record[tf.name] = self._lines(conn, ent, tf, record_id)
        return record

    def _lines(self, conn, ent: Entity, tf, parent_id: int) -> list[dict]:
        stmt = self._statements.get(("lines", tf.entity))
        if stmt is None:
            ct = self.schema.tables[tf.entity]
            stmt = self._statements[("lines", tf.entity)] = (select(*[c for c in ct.c if c.name != "parent_id"])
                                                            .where(ct.c.parent_id == bindparam("pid")).order_by(ct.c.idx, ct.c.id))
        return [dict(r) for r in conn.execute(stmt, {"pid": parent_id}).mappings()]

    def lines_of(self, actor: Actor, entity: str, table: str, parent_ids: list[int], action: str = "read") -> dict[int, list[dict]]:
        """{record id: its lines of the table field `table`, in order}, for the records among `parent_ids`
        the actor may `action`, without the line fields hidden from them: one query per call."""
        ent = self.entity(entity)
        grants = self.permissions.require(actor, ent.name, action)
        tf = ent.fields[table]
        ct, t = self.schema.tables[tf.entity], self.schema.tables[ent.name]
        hidden = grants.hidden(tf.entity)
        out: dict[int, list[dict]] = {}
        if not parent_ids:
            return out
        with self.db.read() as conn:
            scope = self._scope(conn, actor, ent.name, action)
            visible = select(t.c.id).where(t.c.id.in_(parent_ids), *_given(scope))
            stmt = (select(*[c for c in ct.c if c.name not in hidden]).where(ct.c.parent_id.in_(visible))
                    .order_by(ct.c.parent_id, ct.c.idx, ct.c.id))
            for r in conn.execute(stmt).mappings():
                out.setdefault(r["parent_id"], []).append(dict(r))
        return out

    def list(self, actor: Actor, entity: str, query: listing.ListQuery, action: str = "read") -> dict:
        """A page of the records `actor` may `action` (read, or export), filtered and sorted."""
        ent = self.entity(entity)
        t = self.schema.tables[ent.name]
        hidden = self.permissions.require(actor, ent.name, action).hidden(ent.name)
        errors = ErrorCollector()
        where = listing.filter_clauses(ent, t, query.filters, errors, hidden)
        spec = listing.sort_spec(ent, query.sort, errors, hidden)
        errors.raise_if_any()
        s = listing.search_clause(ent, t, query.q, self.db.dialect)
        if s is not None:
            where.append(s)
        cursor_value = cursor_id = None
        if query.cursor:
            cursor_value, cursor_id = listing.decode_cursor(ent, spec, query.cursor)
        fields = query.fields
        if hidden:
            fields = tuple(n for n in (fields if fields is not None else [c.name for c in t.c]) if n not in hidden)
        cols, from_ = self._list_shape(ent, fields, spec.name, query.with_titles)
        with self.db.read() as conn:
            scope = self._scope(conn, actor, ent.name, action)
            count, exact = listing.capped_count(conn, t, where + _given(scope), query.exact_count)
            if scope is not None and (not exact or count > 1000) and \
                    not self.permissions.ordered_by_owner_index(actor, ent.name, action, spec.name):
                scope = self.permissions.where(conn, actor, ent.name, action, walk=True)  # many matches: walk the sort index
            if scope is not None:
                where.append(scope)
            rows: list = []
            for cond in listing.page_conditions(t, spec, self.db.dialect, cursor_value, cursor_id):
                need = query.limit + 1 - len(rows)
                if need <= 0:
                    break
                stmt = (select(*cols).select_from(from_).where(*where, *([cond] if cond is not None else []))
                        .order_by(*listing.order_by(t, spec)).limit(need))
                result = conn.execute(stmt)
                keys = tuple(result.keys())
                rows.extend(dict(zip(keys, r)) for r in result)
            more = len(rows) > query.limit
            rows = rows[: query.limit]
            flags = {}
            if "sla_due" in t.c:  # the deadline columns serve the flags; they are not fields
                flags = deadlines.flags(rows, self.clock())
                for r in rows:
                    r.pop("sla_due", None)
                    r.pop("sla_risk", None)
        next_cursor = listing.encode_cursor(spec, rows[-1][spec.name], rows[-1]["id"]) if more and rows else None
        page = {"items": rows, "next_cursor": next_cursor, "count": count, "count_exact": exact}
        if flags:  # records at risk of missing, or past, their state's deadline
            page["sla"] = flags
        return page

    def _list_shape(self, ent: Entity, fields: tuple | None, sort_name: str, with_titles: bool) -> tuple[list, Any]:
        """The columns and FROM clause of a list query, built once per shape: building joins and
        aliases costs more than running the query on a first page."""
        key = (ent.name, fields, sort_name, with_titles)
        shape = self._shapes.get(key)
        if shape is not None:
            return shape
        t = self.schema.tables[ent.name]
        cols = [c for c in t.c if c.name != "search_text"]
        if fields is not None:
            wanted = {"id", sort_name, "sla_due", "sla_risk", *fields}
            cols = [c for c in cols if c.name in wanted]
        from_ = t
        if with_titles:  # each shown link's title from its table's primary key, in this query
            for f in ent.stored_fields():
                if f.type == "link" and (fields is None or f.name in fields):
                    target = self.app.entity(f.entity)
                    other = self.schema.tables[f.entity].alias(f"t_{f.name}")
                    from_ = from_.outerjoin(other, other.c.id == t.c[f.name])
                    cols.append(other.c[target.title_field or "id"].label(f"{f.name}__title"))
        if len(self._shapes) < 1000:  # shapes come from metadata and screens, but fields can come from a URL
            self._shapes[key] = (cols, from_)
        return cols, from_

    def history(self, actor: Actor, entity: str, record_id: int) -> list[dict]:
        """The audit entries of a record the actor may read (a deleted record's: only with an
        `all` read scope), without the fields hidden from them."""
        ent = self.entity(entity)
        grants = self.permissions.require(actor, ent.name, "read")
        a = self.schema.audit
        with self.db.read() as conn:
            flush(conn)  # inside a write: the entries it holds back are part of the history
            scope = self._scope(conn, actor, ent.name, "read")
            exists = self._in_scope(conn, ent.name, record_id, scope)
            if not exists and (scope is not None or self._in_scope(conn, ent.name, record_id)):
                raise NotFound(Msg("no %(entity)s with id %(id)s", entity=ent.name, id=record_id))
            rows = conn.execute(select(a).where(a.c.entity == ent.name, a.c.record_id == record_id).order_by(a.c.id)).mappings().all()
        if not exists and not rows:
            raise NotFound(Msg("no %(entity)s with id %(id)s", entity=ent.name, id=record_id))
        hidden = grants.hidden(ent.name)
        wf = self.workflow_of(ent.name)
        out = [{"id": r["id"], "action": r["action"], "actor": r["actor"], "actor_id": r["actor_id"], "via": r["via"],
                "at": to_json("datetime", r["at"]), "changes": without_hidden(json.loads(r["changes"]), hidden, wf)} for r in rows]
        return out if actor.party is None else [e for e in map(_for_party, out) if e is not None]

    # ------------------------------------------------------------------ write
    def create(self, actor: Actor, entity: str, data: Any, start: str | None = None) -> dict:
        """A new record; `start`: the workflow state it starts in when not the workflow's first (a public form's
        submissions, `public.state`) - for the engine's own callers, never from what a user sends."""
        ent = self.entity(entity)
        self.permissions.require(actor, ent.name, "create")
        self._refuse_locked_fields(actor, ent, data)
        errors = ErrorCollector()
        values = parse_values(ent, data, errors, None, text=_text(actor))
        lines = self._parse_tables(ent, data, errors, None, _text(actor), actor)
        user = actor.context()
        apply_defaults(ent, values, user, errors)
        wf = self.workflow_of(ent.name)
        first = start if wf is not None and start in wf.states else wf.initial if wf is not None else None
        if wf is not None:  # a new record starts in the workflow's initial state
            if values.get(wf.state_field) not in (None, first):
                errors.add(wf.state_field, "a new %(thing)s starts as %(state)s; it moves on by transitions",
                           thing=Msg.label(ent.label, lower=True), state=Msg.label(wf.states[first].label))
            values[wf.state_field] = first
        for tf in ent.table_fields():
            for i, row in enumerate(lines.get(tf.name, [])):
                apply_defaults(self.app.entity(tf.entity), row, user, errors, f"{tf.name}[{i}].")
        with self.db.write() as conn:
            lookups.apply_fills(conn, self.app, self.schema, ent, values, lines, scope=self._reader(conn, actor))
            self.hooks.before_create(entity=ent, values=values, actor=actor, conn=conn)
            self._check(conn, ent, values, lines, actor, errors, None)
            now = self.clock()
            for f in ent.stored_fields():
                if f.series is not None and values.get(f.name) is None:
                    values[f.name] = naming.next_value(conn, self.schema, f"{ent.name}.{f.name}", f.series, now.date())
            row = {f.name: values.get(f.name) for f in ent.stored_fields()}
            for f in ent.file_fields():  # a new file gets its attachment once the record has an id (below)
                row[f.name] = None
            row.update(owner=self.permissions.owner_for_new(conn, actor), created_at=now, created_by=actor.id, updated_at=now,
                       updated_by=actor.id, version=1)
            if "search_text" in self.schema.tables[ent.name].c:
                row["search_text"] = listing.search_text(ent, values)
            try:  # the record and its lines as stored come back from the inserts themselves (RETURNING)
                record = dict(conn.execute(self._inserting(ent.name), row).mappings().one())
            except IntegrityError:
                raise self._unique_error(ent) from None
            new_id = record["id"]
            tx = Tx(conn, self, actor, now, actor.language or "en")
            files = self._keep_files(ent, new_id, values, lines, None, tx)
            if files:
                given = {f.name: values[f.name] for f in ent.file_fields() if values.get(f.name) is not None}
                if given:
                    conn.execute(self.schema.tables[ent.name].update().where(self.schema.tables[ent.name].c.id == new_id).values(**given))
                    record.update(given)
            for tf in ent.table_fields():
                record[tf.name] = self._write_lines(conn, tf, new_id, [], lines.get(tf.name, []), returning=True)
            self._must_stay_in_scope(conn, actor, ent, new_id, "create")
            events = [(CREATED, ent.name, new_id, _with_files(self._changes(ent, {}, record), files), "create", {"record": record})]
            if wf is not None:  # and the first state it enters: both stored at once
                events.append((STATE_ENTERED, ent.name, new_id, {"workflow": wf.name, "transition": None, "from": None, "to": first}, None,
                               {"record": record}))
            emit_all(tx, events)
            self.hooks.after_create(entity=ent, record=record, actor=actor, conn=conn)
            return self._strip(actor, ent, record)

    def update(self, actor: Actor, entity: str, record_id: int, data: Any, version: Any) -> dict:
        ent = self.entity(entity)
        if version is None:
            raise ValidationFailed([FieldError("version", "send the version you last read, so a concurrent change is not overwritten")])
        if isinstance(version, bool) or not isinstance(version, int):
            raise ValidationFailed([FieldError("version", "expected a whole number")])
        self.permissions.require(actor, ent.name, "update")
        self._refuse_locked_fields(actor, ent, data)
        with self.db.write() as conn:
            current = self._load_for(conn, actor, ent, record_id, "update")
            if current["version"] != version:
                raise Conflict(Msg("this %(entity)s was changed by someone else (you sent version %(sent)s, it is now at version %(now)s); "
                                   "reload it and apply your change again", entity=ent.name, sent=version, now=current["version"]),
                               current=self._strip(actor, ent, current))
            errors = ErrorCollector()
            if not isinstance(data, dict):
                raise ValidationFailed([FieldError("body", "expected a JSON object of field names and values")])
            values = {f.name: current.get(f.name) for f in ent.stored_fields()}
            values.update(parse_values(ent, data, errors, current, text=_text(actor)))
            lines = {tf.name: [dict(r) for r in current[tf.name]] for tf in ent.table_fields()}
            lines.update(self._parse_tables(ent, data, errors, current, _text(actor), actor))
            user = actor.context()
            for tf in ent.table_fields():
                for i, row in enumerate(lines.get(tf.name, [])):
                    if "id" not in row:
                        apply_defaults(self.app.entity(tf.entity), row, user, errors, f"{tf.name}[{i}].")
            lookups.apply_fills(conn, self.app, self.schema, ent, values, lines, scope=self._reader(conn, actor))
            self.hooks.before_update(entity=ent, old=current, values=values, actor=actor, conn=conn)
            self._check(conn, ent, values, lines, actor, errors, record_id, current)
            proposed = {**values, **lines}
            changes = self._changes(ent, current, proposed)
            if not changes:
                return self._strip(actor, ent, current)
            changed = {n for n in changes.get("fields", {}) if ent.fields[n].type != "computed"} | set(changes.get("lines", {}))
            self._refuse_in_state(ent, current, changed)
            refuse_immutable(ent, current, changed)
            back = self._reapproval(ent, current, changed)
            if back is not None:  # a key field changed after approval: the record goes back to review, in this write
                values[back[0]] = back[1]
            t = self.schema.tables[ent.name]
            now = self.clock()
            tx = Tx(conn, self, actor, now, actor.language or "en")
            files = self._keep_files(ent, record_id, values, lines, current, tx)
            row = {f.name: values.get(f.name) for f in ent.stored_fields() if values.get(f.name) != current.get(f.name)}  # what changed only
            row.update(updated_at=now, updated_by=actor.id, version=t.c.version + 1)
            touched = set(changes.get("fields", {})) | ({back[0]} if back is not None else set())
            if "search_text" in t.c and not touched.isdisjoint(ent.search_fields):  # the search index is rewritten only when
                row["search_text"] = listing.search_text(ent, values)              # what it covers changed
            try:
                scope = self._scope(conn, actor, ent.name, "update")  # the scope guards the statement itself too
                res = conn.execute(t.update().where(t.c.id == record_id, t.c.version == version, *_given(scope)).values(**row))
            except IntegrityError:
                raise self._unique_error(ent) from None
            if res.rowcount != 1:  # pragma: no cover - the row lock makes this unreachable on PostgreSQL
                raise Conflict(Msg("this %(entity)s was changed by someone else; reload it and apply your change again", entity=ent.name))
            for tf in ent.table_fields():
                self._write_lines(conn, tf, record_id, current[tf.name], lines[tf.name])
            record = self._reload_in_scope(conn, actor, ent, record_id, "update")
            if back is not None:  # back to review: a step of the record's timeline, and the review state entered again
                wf = self.workflow_of(ent.name)
                emit(tx, STATE_ENTERED, ent.name, record_id, {
                    "workflow": wf.name, "transition": "reapproval", "from": current[wf.state_field], "to": back[1],
                    "comment": "changed: " + ", ".join(sorted(changed & set(wf.reapproval.key_fields))), "inputs": {}},
                    record=record, before=current)
            emit(tx, UPDATED, ent.name, record_id, _with_files(self._changes(ent, current, record), files), "update", record=record,
                 before=current)
            self.hooks.after_update(entity=ent, old=current, record=record, actor=actor, conn=conn)
            return self._strip(actor, ent, record)

    def delete(self, actor: Actor, entity: str, record_id: int, version: Any = None) -> None:
        ent = self.entity(entity)
        self.permissions.require(actor, ent.name, "delete")
        with self.db.write() as conn:
            current = self._load_for(conn, actor, ent, record_id, "delete")
            self._refuse_in_state(ent, current, set(), deleting=True)
            if version is not None and version != current["version"]:
                raise Conflict(Msg("this %(entity)s was changed by someone else (now version %(now)s); reload it before deleting",
                                   entity=ent.name, now=current["version"]), current=current)
            self._refuse_if_referenced(conn, ent, record_id)
            self.hooks.before_delete(entity=ent, record=current, actor=actor, conn=conn)
            for tf in ent.table_fields():
                ct = self.schema.tables[tf.entity]
                conn.execute(ct.delete().where(ct.c.parent_id == record_id))
            t = self.schema.tables[ent.name]
            scope = self._scope(conn, actor, ent.name, "delete")
            conn.execute(t.delete().where(t.c.id == record_id, *_given(scope)))
            emit(Tx(conn, self, actor, self.clock(), actor.language or "en"), DELETED, ent.name, record_id, self._changes(ent, current, {}), "delete",
                 before=current)
            self.hooks.after_delete(entity=ent, record=current, actor=actor, conn=conn)

    def announce(self, actor: Actor, entity: str, type_: str, data: dict, action: str | None = None) -> int:
        """Emit an event about an entity as a whole rather than one record (an import finished), in the
        caller's transaction when there is one; its id. `action` makes it an audit entry too."""
        self.permissions.require(actor, self.entity(entity).name, "read")
        with self.db.write() as conn:
            return emit(Tx(conn, self, actor, self.clock(), actor.language or "en"), type_, entity, None, data, action).id

    def preview(self, actor: Actor, entity: str, data: Any, record_id: int | None = None,
                changed: tuple | None = None) -> tuple[dict, dict, list, list]:
        """Defaults, lookups and computed values for unsaved input, exactly as a save would
        compute them; `changed` = (table or None, row or None, field) refills what depends on
        that field. Returns (values, lines, field errors, filled paths) and writes nothing."""
        ent = self.entity(entity)
        self.permissions.require(actor, ent.name, "create" if record_id is None else "update")
        errors = ErrorCollector()
        with self.db.read() as conn:
            current = self._visible(conn, actor, ent, record_id) if record_id is not None else None
            values = {f.name: current.get(f.name) for f in ent.stored_fields()} if current else {}
            values.update(parse_values(ent, data, errors, current, text=_text(actor)))
            lines = {tf.name: [dict(r) for r in current[tf.name]] for tf in ent.table_fields()} if current else {}
            lines.update(self._parse_tables(ent, data, errors, current, _text(actor)))
            user = actor.context()
            if current is None:
                apply_defaults(ent, values, user, errors)
            force = {(changed[0], changed[1]): changed[2]} if changed else None
            filled = lookups.apply_fills(conn, self.app, self.schema, ent, values, lines, force, scope=self._reader(conn, actor))
        compute(self.app, ent, values, lines, user, errors)
        return values, lines, errors.errors, filled

    def fill_history(self, actor: Actor, field, context: dict, limit: int = 10) -> list[dict]:
        """The rows behind a fill's first source (e.g. the prices this customer paid), newest first."""
        source = field.fill.sources[0]
        extra = ("parent.id",) if self.app.entity(source.entity).child else ()
        with self.db.read() as conn:
            return [dict(r) for r in lookups.find(conn, self.app, self.schema, source, context, limit, extra, scope=self._reader(conn, actor))]

    def shown(self, actor: Actor, show, context: dict) -> list[dict]:
        with self.db.read() as conn:
            return lookups.show_rows(conn, self.app, self.schema, show, context, scope=self._reader(conn, actor))

    def titles(self, actor: Actor, entity: str, ids) -> dict[int, str]:
        """The display title of each record id (for links): one query for all of them."""
        with self.db.read() as conn:
            return self.titles_in(conn, actor, entity, ids)

    def titles_in(self, conn, actor: Actor, entity: str, ids) -> dict[int, str]:
        """The same, in the caller's transaction."""
        ids = {i for i in ids if isinstance(i, int)}
        if not ids:
            return {}
        if entity == "@user":
            u = self.schema.user
            return {r[0]: r[1] or r[2] for r in conn.execute(select(u.c.id, u.c.full_name, u.c.username).where(u.c.id.in_(ids)))}
        ent = self.app.entity(entity)
        t = self.schema.tables[entity]
        title = ent.title_field or "id"
        if not self.permissions.grants(actor).can(entity, "read"):
            return {}
        scope = self._scope(conn, actor, entity, "read")
        rows = conn.execute(select(t.c.id, t.c[title]).where(t.c.id.in_(ids), *_given(scope))).all()
        return {r[0]: str(r[1]) if r[1] is not None else f"#{r[0]}" for r in rows}

    # ------------------------------------------------------------------ permission helpers
    def _reader(self, conn, actor: Actor):
        """entity -> the actor's read scope on it (false() when they may not read it): for lookups."""
        def scope(entity: str):
            if not self.permissions.grants(actor).can(entity, "read"):
                return false()
            return self._scope(conn, actor, entity, "read")
        return scope

    def _load_for(self, conn, actor: Actor, ent: Entity, record_id, action: str) -> dict:
        """The record, locked, for `action`: 404 when the actor cannot read it, 403 when they can
        read it but not `action` it."""
        current = self._visible(conn, actor, ent, record_id, lock=True)
        scope = self._scope(conn, actor, ent.name, action)
        if scope is not None and not self._in_scope(conn, ent.name, record_id, scope):
            raise Forbidden(Msg("you may read this %(thing)s but not %(action)s it", thing=Msg.label(ent.label, lower=True), action=Msg(action)))
        return current

    def attached_to(self, conn, actor: Actor, ent: Entity, record_id, change: bool = False) -> dict:
        """The record whose files and comments the actor reads or, with `change`, whose files they add and remove, in
        the caller's transaction: one they may read (NotFound otherwise, as if it did not exist); to
        change its files also one they may update, inside their update scope (Forbidden), in a state
        that does not lock it (Conflict)."""
        record = self._visible(conn, actor, ent, record_id, lock=change)
        if change:
            self.permissions.require(actor, ent.name, "update")
            if not self._in_scope(conn, ent.name, record_id, self._scope(conn, actor, ent.name, "update")):
                raise self._out_of_scope(actor, ent, "update")
            self._refuse_in_state(ent, record, set(), deleting=True)
        return record

    def _reload_in_scope(self, conn, actor: Actor, ent: Entity, record_id: int, action: str) -> dict:
        """After a write, in its transaction: the record as written, which must still be one the actor
        may `action` and read (no creating records for other owners or regions, no moving a record out
        of reach) - read and checked in one query."""
        scopes = self._kept_within(conn, actor, ent, action)
        try:
            return self._load(conn, ent, record_id, scope=self._all_of(conn, scopes))
        except NotFound:
            raise self._out_of_scope(actor, ent, action) from None

    def _must_stay_in_scope(self, conn, actor: Actor, ent: Entity, record_id: int, action: str) -> None:
        """The same check, for a write that has the record as written already (a create: RETURNING)."""
        scopes = self._kept_within(conn, actor, ent, action)
        if scopes and not self._in_scope(conn, ent.name, record_id, *scopes):
            raise self._out_of_scope(actor, ent, action)

    def _kept_within(self, conn, actor: Actor, ent: Entity, action: str) -> list:
        """The scope clauses a record must stay within after the actor's `action` on it: that action's and read's."""
        return _given(self._scope(conn, actor, ent.name, action), self._scope(conn, actor, ent.name, "read"))

    def _out_of_scope(self, actor: Actor, ent: Entity, action: str) -> Forbidden:
        return Forbidden(Msg("you may not %(action)s a %(thing)s like this one; your roles allow it only within: %(scope)s", action=Msg(action),
                             thing=Msg.label(ent.label, lower=True), scope=self.permissions.describe(actor, ent.name, action)))

    def sla_flag(self, record: dict) -> dict | None:
        """The at-risk / overdue flag of a record the caller has read."""
        return deadlines.flags([record], self.clock()).get(record["id"])

    # ------------------------------------------------------------------ notifications
    def deliver(self, tx: Tx, names, ent: Entity, record: dict, kind: str, message, skip: int | None = None, **how) -> int:
        """Tell the people a notify list names (roles, relations, user fields of the record) about the
        record - only those who may read it at this moment, in this transaction. `skip`: the user who
        caused it (no one is told of what they just did). `how`: as deliver_to. Returns how many were told."""
        ids = [i for i in notifications.recipients(tx.conn, self.schema, self.app, names, record, people_of(ent)) if i != skip]
        return self.deliver_to(tx, ids, ent, record["id"], kind, message, **how)

    def deliver_to(self, tx: Tx, user_ids, ent: Entity, record_id: int, kind: str, message, channels=("in_app",), subject=None,
                   event_id: int | None = None) -> int:
        """Notify these users of the record, each only if they may read it now, in their language, on
        the `channels` (in_app, email, sms) they have not turned off and have an address for; someone
        whom no channel beyond the bell reaches still finds it in the bell. `message` and `subject`: a
        text, or a function of (the fields hidden from the reader, the reader's language) that gives
        the text for them. E-mails and text messages go to the `send_notice` hook (the connectors make
        them deliveries, keyed by `event_id` and the person). Returns how many were told."""
        conn, now = tx.conn, tx.now
        readers = self.readers(conn, user_ids, ent, record_id)
        beyond = [c for c in channels if c != "in_app"] if event_id is not None else []
        people = user_contacts(conn, self.schema, [r.id for r in readers]) if readers else {}
        texts: dict = {}
        for reader in readers:
            person = people.get(reader.id) or {}
            lang = person.get("language") if person.get("language") in self.app.languages else self.app.default_language
            hidden = self.permissions.grants(reader).hidden(ent.name)
            if (hidden, "*") not in texts:  # in every language: the bell shows it in the reader's language of the moment they read it
                texts[hidden, "*"] = {code: _worded(message, hidden, code) for code in {*self.app.languages, lang}}
            if (hidden, lang) not in texts:
                texts[hidden, lang] = texts[hidden, "*"][lang], _worded(subject, hidden, lang)
            text, about = texts[hidden, lang]
            reached = False
            for channel in beyond:
                address = person.get("email" if channel == "email" else "phone")
                if not address or person["channels"].get(channel) is False or (event_id, reader.id, channel) in tx.noticed:
                    continue
                tx.noticed.add((event_id, reader.id, channel))
                notice = Notice(channel, event_id, reader.id, address, person.get("full_name") or person["username"], lang,
                                " ".join((about or text).split())[:200], text, ent.name, record_id, kind)
                reached |= any(self.plugin_manager.hook.send_notice(notice=notice, tx=tx))
            if "in_app" in channels or not reached:
                notifications.send(conn, self.schema, [reader.id], ent.name, record_id, kind, text, now,
                                   {code: texts[hidden, "*"][code] for code in self.app.languages})
        return len(readers)

    def readers(self, conn, user_ids, ent: Entity, record_id: int) -> list[Actor]:
        """Those of these (active) users who may read the record now, as they would read it (not as
        "system", which reads everything): whom a notification or a mention may reach."""
        out = []
        for uid in user_ids:
            reader = actor_for_id(conn, self.schema, uid, via="api")
            if reader is None or not self.permissions.grants(reader).can(ent.name, "read") or \
                    not self._in_scope(conn, ent.name, record_id, self._scope(conn, reader, ent.name, "read")):
                continue
            out.append(reader)
        return out

    def _notices_visible(self, conn, actor: Actor, everything: bool = False):
        """A WHERE clause on sys_notification: notices about no record, or about a record the actor may read now."""
        n = self.schema.notification
        clauses = [n.c.entity.is_(None)]
        grants = self.permissions.grants(actor)
        for name in notifications.unread_entities(conn, self.schema, actor.id, everything):
            ent = self.app.entities.get(name) if name is not None else None
            if ent is None or ent.child or not grants.can(name, "read"):
                continue
            t = self.schema.tables[name]
            clauses.append(and_(n.c.entity == name, n.c.record_id.in_(select(t.c.id).where(*_given(self._scope(conn, actor, name, "read"))))))
        return or_(*clauses)

    def notifications(self, actor: Actor, limit: int = 20, lang: str | None = None) -> tuple[list[dict], int]:
        """The actor's unread notifications about records they may still read, newest first (each in
        `lang` where it was written in it), and how many."""
        with self.db.read() as conn:
            rows, total = notifications.unread(conn, self.schema, actor.id, self._notices_visible(conn, actor), limit)
        return [{"id": r["id"], "entity": r["entity"], "record_id": r["record_id"], "kind": r["kind"],
                 "message": (r["texts"] or {}).get(lang) or r["message"], "at": to_json("datetime", r["created_at"])} for r in rows], total

    def inbox(self, actor: Actor, lang: str, limit: int = 8, before: int | None = None, everything: bool = False) -> tuple[list[dict], int]:
        """The actor's notifications about records they may still read - the unread first (the bell) or,
        with `everything`, all newest first (the page) - each in `lang` where it was written in it; and
        how many are unread."""
        with self.db.read() as conn:
            visible = self._notices_visible(conn, actor, everything=True)
            rows = notifications.latest(conn, self.schema, actor.id, visible, limit, before, everything)
            unread = notifications.count_unread(conn, self.schema, actor.id, visible)
        return [{"id": r["id"], "entity": r["entity"], "record_id": r["record_id"], "kind": r["kind"],
                 "text": (r["texts"] or {}).get(lang) or r["message"], "at": to_json("datetime", r["created_at"]),
                 "read_at": to_json("datetime", r["read_at"]) if r["read_at"] else None} for r in rows], unread

    def open_notification(self, actor: Actor, notification_id: int) -> dict | None:
        """One of the actor's notifications, marked read, if its record is one they may still read."""
        n = self.schema.notification
        with self.db.write() as conn:
            visible = self._notices_visible(conn, actor, everything=True)
            row = conn.execute(select(n.c.id, n.c.entity, n.c.record_id, n.c.read_at).where(
                n.c.id == notification_id, n.c.user_id == actor.id, visible)).mappings().first()
            if row is None:
                return None
            if row["read_at"] is None:
                conn.execute(n.update().where(n.c.id == notification_id).values(read_at=self.clock()))
            return dict(row)

    def mark_read(self, actor: Actor, ids=None) -> int:
        with self.db.write() as conn:
            return notifications.mark_read(conn, self.schema, actor.id, self.clock(), self._notices_visible(conn, actor), ids)

    def _reapproval(self, ent: Entity, current: dict, changed: set[str]) -> tuple[str, str] | None:
        """(state field, state to go back to) when this change touches a key field after approval."""
        wf = self.workflow_of(ent.name)
        r = wf.reapproval if wf is not None else None
        if r is None or current.get(wf.state_field) not in r.sources or not changed & set(r.key_fields):
            return None
        return wf.state_field, r.target

    def _refuse_in_state(self, ent: Entity, current: dict, changed: set[str], deleting: bool = False) -> None:
        """The workflow's say on a change: the state itself moves only by transitions, a locking
        state refuses everything, deleting included (409), and a state may keep fields fixed (422 per field)."""
        wf = self.workflow_of(ent.name)
        if wf is None:
            return
        errors = ErrorCollector()
        if wf.state_field in changed:
            errors.add(wf.state_field, "changes only through the workflow's transitions: %(transitions)s", transitions=", ".join(wf.transitions))
        state = current.get(wf.state_field)
        locked = refuse_changes(wf, ent, state, {"(delete)"} if deleting else changed - {wf.state_field},
                                               ErrorCollector() if deleting else errors)
        if locked:
            raise Conflict(locked)
        errors.raise_if_any()

    def _refuse_locked_fields(self, actor: Actor, ent: Entity, data) -> None:
        """A field hidden from or read-only for the actor's roles cannot be written: 422 naming it."""
        grants = self.permissions.grants(actor)
        if grants.unrestricted or not isinstance(data, dict):
            return
        errors = ErrorCollector()
        for name in data:
            level = grants.level(ent.name, name)
            if level == "read_only":
                errors.add(name, "'%(field)s' is read-only for your roles (%(roles)s); leave it out", field=name, roles=", ".join(sorted(actor.roles)))
            elif level == "hidden":
                errors.add(name, "unknown field '%(field)s'", field=name)
        errors.raise_if_any()

    # ------------------------------------------------------------------ helpers
    def _parse_tables(self, ent: Entity, data, errors: ErrorCollector, current: dict | None, text: bool = False,
                      actor: Actor | None = None) -> dict:
        """The lines given, parsed; with `actor`, their fields read-only for the actor's roles kept as they were."""
        out = {}
        if not isinstance(data, dict):
            return out
        grants = self.permissions.grants(actor) if actor is not None else None
        for tf in ent.table_fields():
            if tf.name in data:
                child = self.app.entity(tf.entity)
                locked = frozenset(n for n in child.fields if grants.level(child.name, n) == "read_only") if grants is not None else frozenset()
                rows = parse_lines(ent, child, tf.name, data[tf.name], errors, current[tf.name] if current else None, text, locked)
                if rows is not None:
                    out[tf.name] = rows
            elif current is None:
                out[tf.name] = []
        return out

    def _check(self, conn, ent: Entity, values: dict, lines: dict, actor: Actor, errors: ErrorCollector, self_id,
               current: dict | None = None) -> None:
        """Compute, validate, check links and uniqueness; raise with every error. Links the write
        adds must point at records the actor may read; links the record already had stay valid."""
        user = actor.context()
        compute(self.app, ent, values, lines, user, errors)
        validate(self.app, ent, values, lines, user, errors)
        sf = conditions.state_field(self.app, ent)  # the form's required-when and read-only-when hold here, for every path
        conditions.enforce(self.app, ent, values, lines, user, self.permissions.role_closure(actor), values.get(sf) if sf else None,
                           current, errors)
        refs = self._references(ent, values, "")
        for tf in ent.table_fields():
            child = self.app.entity(tf.entity)
            for i, row in enumerate(lines.get(tf.name, [])):
                refs += self._references(child, row, f"{tf.name}[{i}].")
        kept = set()
        if current is not None:
            kept = {(t, v) for t, _, v in self._references(ent, current, "")}
            for tf in ent.table_fields():
                for row in current.get(tf.name, []):
                    kept |= {(t, v) for t, _, v in self._references(self.app.entity(tf.entity), row, "")}
        self._check_links(conn, refs, errors, actor, kept)
        self._check_unique(conn, ent, values, self_id, errors)
        self._check_duplicates(conn, ent, values, self_id, errors)
        errors.raise_if_any()

    @staticmethod
    def _references(ent: Entity, values: dict, prefix: str) -> list[tuple[str, str, int]]:
        """(target entity or '@user', field path, id) for every link and user value."""
        out = []
        for f in ent.stored_fields():
            v = values.get(f.name)
            if v is not None and f.type in ("link", "user"):
                out.append((f.entity if f.type == "link" else "@user", prefix + f.name, v))
        return out

    def _check_links(self, conn, refs: list[tuple[str, str, int]], errors: ErrorCollector, actor: Actor, kept: set = frozenset()) -> None:
        """One query per linked entity the write adds links to, however many lines point at it; a record
        the actor may not read is as absent as one that does not exist. Links the record already had
        (`kept`) are not looked up again."""
        by_target: dict[str, set] = {}
        for target, _, v in refs:
            by_target.setdefault(target, set()).add(v)
        found: dict[str, set] = {}
        for target, wanted in by_target.items():
            new = {v for v in wanted if (target, v) not in kept}  # a link the record already had stays valid: what it
            if not new:                                             # points at cannot be deleted while it is referenced
                found[target] = set()
            elif target == "@user":
                found[target] = user_exists(conn, self.schema, new)
            else:
                t = self.schema.tables[target]
                scope = self._reader(conn, actor)(target)
                remembered = memo.current()  # within an import: ids already found visible are not looked up again
                key = ("visible", target, *map(id, _given(scope)))  # the scope clause lives as long as the transaction's permissions cache
                owner = self.app.entity(target).parent or target  # a line's writes are its record's events
                known = remembered.get(owner, key) if remembered is not None else memo.MISSING
                known = set() if known is memo.MISSING else known
                ask = new - known
                found[target] = (new & known) | (set(conn.execute(select(t.c.id).where(t.c.id.in_(ask), *_given(scope))).scalars()) if ask else set())
                if remembered is not None:
                    remembered.put(owner, key, known | found[target])
                    remembered.keep(_given(scope))
        for target, path, v in refs:
            if (target, v) not in kept and v not in found[target]:
                if target == "@user":
                    errors.add(path, "there is no user with id %(id)s", id=v)
                else:
                    errors.add(path, "there is no %(entity)s with id %(id)s", entity=target, id=v)

    def _check_unique(self, conn, ent: Entity, values: dict, self_id, errors: ErrorCollector) -> None:
        t = self.schema.tables[ent.name]
        for f in ent.stored_fields():
            v = values.get(f.name)
            if not f.unique or v is None or f.series is not None:
                continue
            stmt = select(t.c.id).where(t.c[f.name] == v)
            if self_id is not None:
                stmt = stmt.where(t.c.id != self_id)
            if conn.execute(stmt.limit(1)).first() is not None:
                errors.add(f.name, "'%(value)s' is already used by another %(entity)s; it must be unique", value=v, entity=ent.name)

    def _check_duplicates(self, conn, ent: Entity, values: dict, self_id, errors: ErrorCollector) -> None:
        """The entity's `duplicates` rules: another record with the same values in each field of a rule (text compared
        without case and surrounding spaces) is refused, naming the fields - whoever writes, whatever they may read."""
        t = self.schema.tables[ent.name]
        for rule in ent.duplicates:
            given = [(n, values.get(n)) for n in rule]
            if any(v is None or v == "" for _, v in given):
                continue
            stmt = select(t.c.id)
            for n, v in given:
                stmt = stmt.where(func.lower(func.trim(t.c[n])) == v.strip().lower() if isinstance(v, str) else t.c[n] == v)
            if self_id is not None:
                stmt = stmt.where(t.c.id != self_id)
            if conn.execute(stmt.limit(1)).first() is None:
                continue
            if len(rule) == 1:
                errors.add(rule[0], "a %(thing)s with this %(field)s is already registered", thing=Msg.label(ent.label, lower=True),
                           field=Msg.label(ent.fields[rule[0]].label, lower=True))
            else:
                errors.add(rule[0], "a %(thing)s with these values of %(fields)s is already registered", thing=Msg.label(ent.label, lower=True),
                           fields=", ".join(rule))

    def _unique_error(self, ent: Entity) -> ValidationFailed:
        names = [f.name for f in ent.stored_fields() if f.unique]
        return ValidationFailed([FieldError(n, "must be unique; another record was saved with this value at the same moment, try again") for n in names[:1] or ["id"]])

    def _refuse_if_referenced(self, conn, ent: Entity, record_id: int) -> None:
        users = []
        for other in self.app.entities.values():
            for f in other.stored_fields():
                if f.type == "link" and f.entity == ent.name:
                    t = self.schema.tables[other.name]
                    n = conn.execute(select(func.count()).select_from(select(t.c.id).where(t.c[f.name] == record_id).limit(1001).subquery())).scalar_one()
                    if n:
                        users.append(f"{'1000+' if n > 1000 else n} {other.label_plural.get('en') if not other.child else other.label.get('en') + ' rows'} ({f.name})")
        if users:
            raise Conflict(Msg("this %(entity)s cannot be deleted while it is used by %(users)s; change or delete those first",
                               entity=ent.name, users=", ".join(users)))

    def _keep_files(self, ent: Entity, record_id: int, values: dict, lines: dict, old: dict | None, tx: Tx) -> dict:
        """New files of the record's and its lines' file fields kept, those no longer held forgotten (engine.files.fields):
        {attachment id: name} of both, for the record's timeline; nothing to do for an entity without file fields."""
        has = self._with_files.get(ent.name)
        if has is None:
            has = self._with_files[ent.name] = has_file_fields(self.app, ent)
        if not has:
            return {}
        return self.hooks.keep_files(entity=ent, record_id=record_id, values=values, lines=lines, old=old, tx=tx) or {}

    def _inserting(self, entity: str):
        """INSERT of a record (or, for a child entity, of lines) returning what a read of it gives:
        every column but search_text (and a line's parent_id), in the order the rows were given."""
        stmt = self._statements.get(("insert", entity))
        if stmt is None:
            t = self.schema.tables[entity]
            cols = [c for c in t.c if c.name not in ("search_text", "parent_id")]
            stmt = self._statements[("insert", entity)] = t.insert().returning(*cols, sort_by_parameter_order=True)
        return stmt

    def _write_lines(self, conn, tf, parent_id: int, old: list[dict], new: list[dict], returning: bool = False) -> list[dict] | None:
        """Bring the lines of `tf` from `old` to `new`; with `returning` (all lines new: a create), the lines as stored."""
        child = self.app.entity(tf.entity)
        ct = self.schema.tables[tf.entity]
        kept = {r["id"] for r in new if "id" in r}
        removed = [r["id"] for r in old if r["id"] not in kept]
        if removed:
            conn.execute(ct.delete().where(ct.c.id.in_(removed)))
        old_by_id = {r["id"]: r for r in old}
        names = [f.name for f in child.stored_fields()]
        inserts = []
        for idx, row in enumerate(new):
            values = {n: row.get(n) for n in names}
            if "id" in row:
                prev = old_by_id[row["id"]]
                if any(prev.get(n) != values[n] for n in names) or prev.get("idx") != idx:
                    conn.execute(ct.update().where(and_(ct.c.id == row["id"], ct.c.parent_id == parent_id)).values(idx=idx, **values))
            else:
                inserts.append({"parent_id": parent_id, "idx": idx, **values})
        if returning:
            return [dict(r) for r in conn.execute(self._inserting(tf.entity), inserts).mappings()] if inserts else []
        if inserts:
            conn.execute(ct.insert(), inserts)  # one executemany for all new lines
        return None

    def _changes(self, ent: Entity, old: dict, new: dict) -> dict:
        """Field-level old/new values, and lines added, removed and changed."""
        out: dict = {}
        fields = {}
        for f in ent.stored_fields():
            a, b = old.get(f.name), new.get(f.name)
            if a != b:
                fields[f.name] = [to_json(f.value_type, a), to_json(f.value_type, b)]
        if fields:
            out["fields"] = fields
        for tf in ent.table_fields():
            child = self.app.entity(tf.entity)
            names = [f for f in child.stored_fields()]
            old_rows = {r["id"]: r for r in old.get(tf.name, []) if "id" in r}
            new_rows = new.get(tf.name, [])
            new_ids = {r["id"] for r in new_rows if "id" in r}
            added = [{"id": r.get("id"), **{f.name: to_json(f.value_type, r.get(f.name)) for f in names if r.get(f.name) is not None}}
                     for r in new_rows if "id" not in r or r["id"] not in old_rows]
            removed = [{"id": i, **{f.name: to_json(f.value_type, r.get(f.name)) for f in names if r.get(f.name) is not None}}
                       for i, r in old_rows.items() if i not in new_ids]
            changed = []
            for r in new_rows:
                if r.get("id") in old_rows:
                    o = old_rows[r["id"]]
                    diff = {f.name: [to_json(f.value_type, o.get(f.name)), to_json(f.value_type, r.get(f.name))]
                            for f in names if o.get(f.name) != r.get(f.name)}
                    if diff:
                        changed.append({"id": r["id"], "fields": diff})
            entry = {k: v for k, v in (("added", added), ("removed", removed), ("changed", changed)) if v}
            if entry:
                out.setdefault("lines", {})[tf.name] = entry
        return out


def _with_files(changes: dict, files: dict) -> dict:
    """A change with the names of the files it kept or forgot (`files`: {attachment id: name}), which the timeline shows."""
    if files:
        changes["files"] = {str(k): v for k, v in files.items()}
    return changes


def _given(*clauses) -> list:
    """The clauses that are there: a scope of None means every row, so it adds no condition."""
    return [c for c in clauses if c is not None]


def without_hidden(changes: dict, hidden: frozenset, wf=None) -> dict:
    """An audit entry's changes without hidden fields, nor a transition's inputs that filled them."""
    if not hidden:
        return changes
    out = dict(changes)
    if "fields" in out:
        fields = {k: v for k, v in out.pop("fields").items() if k not in hidden}
        if fields:
            out["fields"] = fields
    step = out.get("transition")
    if wf is not None and isinstance(step, dict) and isinstance(step.get("inputs"), dict):
        secret = inputs_into(wf.transitions.get(step.get("name")), hidden)
        out["transition"] = {**step, "inputs": {k: v for k, v in step["inputs"].items() if k not in secret}}
    return out


PARTY_HISTORY = ("create", "update", "delete", "transition")  # what a party's contact reads of a record's history


def _for_party(entry: dict) -> dict | None:
    """An audit entry as a party's contact may read it: the record's changes and its steps (without the staff's notes and
    inputs on them), the comments shared with them; not opinions, internal comments, files or reassignments."""
    changes = entry["changes"] if isinstance(entry["changes"], dict) else {}
    if entry["action"] in ("comment", "comment_edit", "comment_delete"):
        return entry if changes.get("shared") is True else None
    if entry["action"] not in PARTY_HISTORY:
        return None
    step = changes.get("transition")
    if isinstance(step, dict):
        return {**entry, "changes": {**changes, "transition": {k: v for k, v in step.items() if k not in ("comment", "inputs")}}}
    return entry


def record_id(raw: str) -> int:
    """A record id from a URL path segment; anything else is a record that does not exist."""
    rid = parse_id(raw)
    if rid is None:
        raise NotFound(Msg("'%(raw)s' is not a record id: ids are whole numbers like 42", raw=raw[:30]))
    return rid


def _text(actor: Actor) -> bool:
    """Screens and imports send every value as text; the API sends JSON types."""
    return actor.via in ("screen", "import")


def _worded(text, hidden, lang: str) -> str | None:
    """A notification's text for one reader: given as it is, per language (a Label), or made for them (a function of hidden fields and language)."""
    if callable(text):
        return text(hidden, lang)
    return text.get(lang) if hasattr(text, "get") else text
