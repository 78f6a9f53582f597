"""Firing workflow transitions through the record service: in one transaction the record is
read within the user's scope and locked, the transition checked (state, who, inputs, guard),
and state, effects, version, history and audit written together. The UPDATE compares state and
version, so of two users firing at the same moment exactly one succeeds; the other gets 409."""
from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import select

from engine import audit
from engine.actor import Actor
from engine.errors import Conflict, ErrorCollector, FieldError, Forbidden, NotFound, ValidationFailed
from engine.records.service import refuse_immutable
from engine.values import to_json


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _workflow(records, entity: str):
    ent = records.entity(entity)
    wf = records.workflows.of(ent.name)
    if wf is None:
        raise NotFound(f"{ent.name} has no workflow")
    return ent, wf


def available(records, actor: Actor, entity: str, record_id: int, lang: str = "en") -> dict:
    """The record's state and the transitions this user may fire now (with guard results)."""
    ent, wf = _workflow(records, entity)
    records.permissions.require(actor, ent.name, "read")
    with records.db.read() as conn:
        rec = records._visible(conn, actor, ent, record_id)
        lines = {tf.name: rec.get(tf.name, []) for tf in ent.table_fields()}
        options = records.workflows.options(conn, actor, wf, rec, lines, lang)
    state = wf.states[rec[wf.state_field]]
    return {
        "state": state.name, "state_label": state.label.as_dict(), "category": state.category, "color": state.color, "locked": state.lock,
        "transitions": [{
            "name": o.transition.name, "label": o.transition.label.as_dict(), "to": o.transition.target,
            "enabled": o.guard_ok, "message": o.message or None,
            "inputs": [{"name": f.name, "type": f.type, "label": f.label.as_dict(), "required": f.required,
                        "options": [x.value for x in f.options] or None} for f in o.transition.inputs.values()],
        } for o in options if o.allowed],
    }


def fire(records, actor: Actor, entity: str, record_id: int, name: str, comment: Any = None, fields: Any = None,
         version: Any = None, lang: str = "en") -> dict:
    ent, wf = _workflow(records, entity)
    t = wf.transitions.get(name)
    if t is None:
        raise NotFound(f"{wf.name} has no transition '{name}'; transitions: {', '.join(wf.transitions)}")
    records.permissions.require(actor, ent.name, "read")
    errors = ErrorCollector()
    if comment is not None and (not isinstance(comment, str) or len(comment) > 2000):
        errors.add("comment", "text of at most 2,000 characters")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        errors.add("version", "expected a whole number")
    inputs = records.workflows.inputs(t, fields, errors, text=actor.via in ("screen", "import"))
    errors.raise_if_any()
    table = records.schema.tables[ent.name]
    with records.db.write() as conn:
        current = records._visible(conn, actor, ent, record_id, lock=True)
        state = current[wf.state_field]
        if version is not None and version != current["version"]:
            raise Conflict(f"this {ent.name} was changed by someone else (you sent version {version}, it is now at version "
                           f"{current['version']}); reload it and try again", current=records._strip(actor, ent, current))
        if state not in t.sources:
            raise Conflict(f"'{t.label.get(lang)}' is not possible from {wf.states[state].label.get(lang)} "
                           f"(only from: {', '.join(wf.states[s].label.get(lang) for s in t.sources)}); reload the record")
        allowed, why = records.workflows.may_fire(conn, actor, wf, t, current)
        if not allowed:
            raise Forbidden(why)
        lines = {tf.name: current.get(tf.name, []) for tf in ent.table_fields()}
        ok, message = records.workflows.guard(t, current, lines, actor, inputs, lang)
        if not ok:
            raise ValidationFailed([FieldError("transition", message)])
        now = _now()
        values = records.workflows.effects(wf, t, current, lines, inputs, actor, now, errors)
        errors.raise_if_any()
        refuse_immutable(ent, current, {n for n, v in values.items() if v != current.get(n)})
        row = {**values, "updated_at": now, "updated_by": actor.id, "version": table.c.version + 1}
        res = conn.execute(table.update().where(table.c.id == record_id, table.c[wf.state_field] == state,
                                                table.c.version == current["version"]).values(**row))
        if res.rowcount != 1:  # pragma: no cover - the row lock (or SQLite's write lock) serialises firing
            raise Conflict(f"this {ent.name} changed while the transition was being applied; reload it and try again")
        text_inputs = {n: to_json(t.inputs[n].value_type, v) for n, v in inputs.items()}
        records.record_step(conn, ent.name, record_id, wf.name, t.name, state, t.target, actor, now, current, comment, text_inputs)
        record = records._load(conn, ent, record_id)
        changes = records._changes(ent, current, record)
        changes["transition"] = {"name": t.name, "from": state, "to": t.target, "comment": comment or None, "inputs": text_inputs}
        audit.append(conn, records.schema, actor, ent.name, record_id, "transition", changes)
        return records._strip(actor, ent, record)


def timeline(records, actor: Actor, entity: str, record_id: int) -> list[dict]:
    """Every transition of a record the user may read, oldest first."""
    ent, wf = _workflow(records, entity)
    records.permissions.require(actor, ent.name, "read")
    h = records.schema.workflow_history
    with records.db.read() as conn:
        records._visible(conn, actor, ent, record_id)
        rows = conn.execute(select(h).where(h.c.entity == ent.name, h.c.record_id == record_id).order_by(h.c.id)).mappings().all()
    return [{"transition": r["transition"], "from": r["from_state"], "to": r["to_state"], "actor": r["actor"], "actor_id": r["actor_id"],
             "at": to_json("datetime", r["at"]), "comment": r["comment"], "inputs": _json(r["inputs"]),
             "seconds_in_state": r["seconds_in_state"]} for r in rows]


def _json(value):
    return json.loads(value) if isinstance(value, str) else (value or {})



MAX_BULK = 500


def fire_many(records, actor: Actor, entity: str, ids: Any, name: str, comment: Any = None, fields: Any = None,
              lang: str = "en") -> list[dict]:
    """Fire one transition on many records, each in its own transaction: one record that may not
    move does not hold the others back. Returns, per id, whether it moved and, if not, why."""
    if not isinstance(ids, list) or not ids or len(ids) > MAX_BULK or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids):
        raise ValidationFailed([FieldError("ids", f"a list of 1 to {MAX_BULK} record ids")])
    out = []
    for rid in dict.fromkeys(ids):
        try:
            rec = fire(records, actor, entity, rid, name, comment, fields, None, lang)
            out.append({"id": rid, "ok": True, "status": 200, "version": rec["version"]})
        except (Conflict, Forbidden, NotFound, ValidationFailed) as exc:
            detail = "; ".join(e.message for e in exc.errors) if isinstance(exc, ValidationFailed) else exc.detail
            out.append({"id": rid, "ok": False, "status": exc.status, "detail": detail})
    return out
