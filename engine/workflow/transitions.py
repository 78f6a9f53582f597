"""Firing workflow transitions through the record service: in one transaction the record is
read within the user's scope and locked, the transition checked (state, who, inputs, guard),
and state, effects, version, history and audit written together. The UPDATE compares state and
version, so of two users firing at the same moment exactly one succeeds; the other gets 409."""
from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from engine.core.actor import Actor
from engine.core.errors import Conflict, ErrorCollector, FieldError, Forbidden, Msg, NotFound, ValidationFailed
from engine.core.i18n import localize, reason
from engine.core.values import INT_MAX, parse_ids, to_json
from engine.events.model import Tx
from engine.metadata.workflows import inputs_into
from engine.records.service import Records
from engine.workflow import review_tasks, rules, steps


def _workflow(records: Records, entity: str):
    ent = records.entity(entity)
    wf = records.workflow_of(ent.name)
    if wf is None:
        raise NotFound(Msg("%(entity)s has no workflow", entity=ent.name))
    return ent, wf


def available(records: Records, actor: Actor, entity: str, record_id: int, lang: str = "en") -> dict:
    """The record's state and the transitions this user may fire now (with guard results)."""
    ent, wf = _workflow(records, entity)
    records.permissions.require(actor, ent.name, "read")
    with records.db.read() as conn:
        rec = records._visible(conn, actor, ent, record_id)
        lines = {tf.name: rec.get(tf.name, []) for tf in ent.table_fields()}
        review = review_tasks.facts(conn, records.schema, wf, ent.name, record_id)
        options = rules.options(records, conn, actor, wf, rec, lines, review, lang)
    state = wf.states[rec[wf.state_field]]
    return {
        "state": state.name, "state_label": state.label.as_dict(), "category": state.category, "color": state.color, "locked": state.lock,
        "review": {k: (list(v) if k == "waiting" else v) for k, v in review.items()},
        "transitions": [{
            "name": o.transition.name, "label": o.transition.label.as_dict(), "to": o.transition.target,
            "enabled": o.guard_ok, "message": localize(o.message, lang) or None,
            "inputs": [{"name": f.name, "type": f.type, "label": f.label.as_dict(), "required": f.required,
                        "options": [x.value for x in f.options] or None} for f in o.transition.inputs.values()],
        } for o in options if o.allowed],
    }


def fire(records: Records, actor: Actor, entity: str, record_id: int, name: str, comment: Any = None, fields: Any = None,
         version: Any = None, lang: str = "en") -> dict:
    ent, wf = _workflow(records, entity)
    t = wf.transitions.get(name)
    if t is None:
        raise NotFound(Msg("%(workflow)s has no transition '%(name)s'; transitions: %(transitions)s", workflow=wf.name, name=name,
                           transitions=", ".join(wf.transitions)))
    records.permissions.require(actor, ent.name, "read")
    errors = ErrorCollector()
    if comment is not None and (not isinstance(comment, str) or len(comment) > 2000):
        errors.add("comment", "text of at most 2,000 characters")
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        errors.add("version", "expected a whole number")
    inputs = rules.inputs(t, fields, errors, text=actor.via in ("screen", "import"))
    errors.raise_if_any()
    with records.db.write() as conn:
        record = steps.fire_in(Tx(conn, records, actor, records.clock(), lang), ent, wf, t, record_id, inputs, comment, version)
        return records._strip(actor, ent, record)


def timeline(records: Records, actor: Actor, entity: str, record_id: int) -> list[dict]:
    """Every transition of a record the user may read, oldest first."""
    ent, wf = _workflow(records, entity)
    hidden = records.permissions.require(actor, ent.name, "read").hidden(ent.name)
    h = records.schema.workflow_history
    with records.db.read() as conn:
        records._visible(conn, actor, ent, record_id)
        rows = conn.execute(select(h).where(h.c.entity == ent.name, h.c.record_id == record_id).order_by(h.c.id)).mappings().all()
    secret = {name: inputs_into(t, hidden) for name, t in wf.transitions.items()} if hidden else {}
    party = actor.party is not None  # a party's contact: the steps, not the staff's notes and inputs on them
    return [{"transition": r["transition"], "from": r["from_state"], "to": r["to_state"], "actor": r["actor"], "actor_id": r["actor_id"],
             "at": to_json("datetime", r["at"]), "comment": None if party else r["comment"],
             "inputs": {} if party else {k: v for k, v in _json(r["inputs"]).items() if k not in secret.get(r["transition"], ())},
             "seconds_in_state": r["seconds_in_state"]} for r in rows]


def _json(value):
    return json.loads(value) if isinstance(value, str) else (value or {})



MAX_BULK = 500


def fire_many(records: Records, actor: Actor, entity: str, ids: Any, name: str, comment: Any = None, fields: Any = None,
              lang: str = "en") -> list[dict]:
    """Fire one transition on many records, each in its own transaction: one record that may not
    move does not hold the others back. Returns, per id, whether it moved and, if not, why."""
    _, wf = _workflow(records, entity)
    if name not in wf.transitions:
        raise NotFound(Msg("%(workflow)s has no transition '%(name)s'; transitions: %(transitions)s", workflow=wf.name, name=name,
                           transitions=", ".join(wf.transitions)))
    ids = parse_ids(ids, MAX_BULK)
    if ids is None:
        raise ValidationFailed([FieldError("ids", Msg("a list of 1 to %(most)s record ids (whole numbers from 1 to %(max)s)", most=MAX_BULK, max=INT_MAX))])
    out = []
    for rid in dict.fromkeys(ids):
        try:
            rec = fire(records, actor, entity, rid, name, comment, fields, None, lang)
            out.append({"id": rid, "ok": True, "status": 200, "version": rec["version"]})
        except (Conflict, Forbidden, NotFound, ValidationFailed) as exc:
            out.append({"id": rid, "ok": False, "status": exc.status, "detail": reason(exc, lang)})
    return out
