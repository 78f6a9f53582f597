"""Countersign: a state with a `review` opens one task per reviewing role each time a record
enters it. Reviewers record approve or reject with an opinion; the state's completion rule
decides the outcome, the tasks no longer needed are skipped, and an `on_approved` /
`on_rejected` transition fires by itself in the same transaction. Guards read the latest
round's outcome as `review.outcome`, `review.approved`, `review.rejected`, `review.pending`.

Recording an opinion locks the record's row first, so two reviewers finishing at the same
moment are serialised and the completion is decided, and fired, once."""
from __future__ import annotations

from typing import Any

from sqlalchemy import and_, select

from engine.core.actor import Actor
from engine.core.errors import Conflict, FieldError, Forbidden, Msg, NotFound, ValidationFailed
from engine.core.values import to_json
from engine.events.bus import emit
from engine.events.model import OPINION_GIVEN, Tx
from engine.metadata.model import Entity, Workflow
from engine.records.service import Records
from engine.workflow import rules, steps
from engine.workflow.review_tasks import _facts, _latest
from engine.workflow.rules import review_outcome

DECISIONS = {"approve": "approved", "reject": "rejected"}


def summary(records: Records, actor: Actor, entity: str, record_id: int, lang: str = "en") -> dict:
    """The record's latest review: its tasks with opinions, the outcome, and which tasks this user may answer. The
    departments' opinions are the company's own: a party's contact is refused."""
    ent, wf = _workflow(records, entity)
    records.permissions.require(actor, ent.name, "read")
    with records.db.read() as conn:
        rec = records._visible(conn, actor, ent, record_id)  # a record they may not read: 404 first, as everywhere
        if actor.party is not None:
            raise Forbidden(Msg("the departments' opinions are internal"))
        return _summary(records, conn, actor, wf, rec, lang)


def _summary(records: Records, conn, actor: Actor, wf: Workflow, rec: dict, lang: str) -> dict:
    tasks = _latest(conn, records.schema, wf.entity, rec["id"])
    mine = records.permissions.role_closure(actor)
    current = tasks and tasks[0]["state"] == rec[wf.state_field]
    out = _facts(wf, tasks)
    out["record_state"] = rec[wf.state_field]
    st = wf.states.get(out["state"]) if out["state"] else None
    out.update(waiting=list(out["waiting"]), rule=(st.review.rule if st is not None and st.review else None),
               at_least=(st.review.at_least if st is not None and st.review else None),
               state_label=st.label.get(lang) if st is not None else None)
    out["tasks"] = [{
        "id": t["id"], "role": t["role"], "role_label": rules.role_label(records.app, t["role"], lang), "status": t["status"],
        "opinion": t["opinion"], "decided_by": t["decided_by_name"], "decided_at": to_json("datetime", t["decided_at"]),
        "yours": bool(current and t["status"] == "pending" and t["role"] in mine),
    } for t in tasks]
    return out


def decide(records: Records, actor: Actor, entity: str, record_id: int, decision: Any, opinion: Any = None, role: Any = None,
           lang: str = "en") -> dict:
    """Record this user's approve or reject on the record's open review; fires the completion
    transition when the rule is met. Returns the review summary."""
    ent, wf = _workflow(records, entity)
    records.permissions.require(actor, ent.name, "read")
    errors = []
    if not isinstance(decision, str) or decision not in DECISIONS:
        errors.append(FieldError("decision", "either 'approve' or 'reject'"))
    if opinion is not None and (not isinstance(opinion, str) or len(opinion) > 4000):
        errors.append(FieldError("opinion", "text of at most 4,000 characters"))
    elif decision == "reject" and not (opinion or "").strip():
        errors.append(FieldError("opinion", "say why you reject, so the owner knows what to fix"))
    if role is not None and not isinstance(role, str):
        errors.append(FieldError("role", "the name of one of your reviewing roles"))
    if errors:
        raise ValidationFailed(errors)
    rt = records.schema.review_task
    with records.db.write() as conn:
        rec = records._visible(conn, actor, ent, record_id, lock=True)
        state = rec[wf.state_field]
        tasks = _latest(conn, records.schema, ent.name, record_id)
        open_tasks = [t for t in tasks if t["status"] == "pending" and t["state"] == state]
        if not open_tasks:
            raise Conflict(Msg("this %(thing)s has no open review (it is %(state)s); reload it", thing=Msg.label(ent.label, lower=True),
                               state=Msg.label(wf.states[state].label)))
        mine = records.permissions.role_closure(actor)
        candidates = [t for t in open_tasks if t["role"] in mine and (role is None or t["role"] == role)]
        if not candidates:
            waiting = ", ".join(rules.role_label(records.app, t["role"], lang) for t in open_tasks)
            answered = [t for t in tasks if t["state"] == state and t["role"] in mine and t["status"] != "pending" and role in (None, t["role"])]
            if answered:
                raise Conflict(Msg("the %(role)s opinion is already recorded (%(status)s); still waiting for: %(waiting)s",
                                   role=rules.role_label(records.app, answered[0]["role"], lang), status=Msg(answered[0]["status"]), waiting=waiting))
            raise Forbidden(Msg("this review waits for: %(waiting)s; your roles (%(roles)s) are not among them", waiting=waiting,
                                roles=", ".join(sorted(actor.roles)) or Msg("none")))
        if len(candidates) > 1 and role is None:
            raise ValidationFailed([FieldError("role", Msg("you hold several reviewing roles here; say which one you answer for: %(roles)s",
                                                           roles=", ".join(t["role"] for t in candidates)))])
        task = candidates[0]
        now = records.clock()
        res = conn.execute(rt.update().where(rt.c.id == task["id"], rt.c.status == "pending").values(
            status=DECISIONS[decision], opinion=(opinion or "").strip() or None, decided_by=actor.id, decided_by_name=actor.username, decided_at=now))
        if res.rowcount != 1:  # pragma: no cover - the record's row lock serialises reviewers
            raise Conflict("this review task was answered at the same moment; reload the record")
        tx = Tx(conn, records, actor, now, lang)
        emit(tx, OPINION_GIVEN, ent.name, record_id,
             {"review": {"role": task["role"], "decision": DECISIONS[decision], "opinion": (opinion or "").strip() or None}}, "review", record=rec)
        outcome = review_outcome(wf.states[state].review, [DECISIONS[decision] if t["id"] == task["id"] else t["status"]
                                                           for t in tasks])
        if outcome != "pending":
            conn.execute(rt.update().where(rt.c.entity == ent.name, rt.c.record_id == record_id, rt.c.round == task["round"],
                                           rt.c.status == "pending").values(status="skipped", decided_at=now))
            follow = getattr(wf.states[state].review, f"on_{outcome}")
            if follow is not None:
                rec = steps.fire_in(Tx(conn, records, steps.WORKFLOW, now, lang), ent, wf, wf.transitions[follow], record_id, {},
                                    f"review {outcome}", automatic=True)
        # the reviewer may no longer read the record once it moved on; they still learn how their review ended
        return _summary(records, conn, actor, wf, rec, lang)


def pending_for(records: Records, actor: Actor, limit: int = 50, lang: str = "en") -> list[dict]:
    """Open review tasks this user may answer, on records they may read, oldest first."""
    mine = records.permissions.role_closure(actor)
    rt = records.schema.review_task
    out = []
    with records.db.read() as conn:
        for wf in records.app.workflows.values():
            roles = {r for st in wf.states.values() if st.review for r in st.review.roles} & mine
            if not roles or not records.permissions.grants(actor).can(wf.entity, "read"):
                continue
            ent = records.app.entity(wf.entity)
            t = records.schema.tables[ent.name]
            title = t.c[ent.title_field] if ent.title_field in t.c else t.c.id
            scope = records._scope(conn, actor, ent.name, "read")
            q = (select(rt.c.id, rt.c.record_id, rt.c.role, rt.c.created_at, title.label("title"), t.c[wf.state_field].label("state"))
                 .join(t, and_(t.c.id == rt.c.record_id, t.c[wf.state_field] == rt.c.state))
                 .where(rt.c.entity == ent.name, rt.c.status == "pending", rt.c.role.in_(sorted(roles)))
                 .order_by(rt.c.created_at, rt.c.id).limit(limit))
            if scope is not None:
                q = q.where(scope)
            for r in conn.execute(q).mappings():
                out.append({"entity": ent.name, "entity_label": ent.label.get(lang), "record_id": r["record_id"], "title": r["title"],
                            "role": r["role"], "role_label": rules.role_label(records.app, r["role"], lang),
                            "since": to_json("datetime", r["created_at"])})
    out.sort(key=lambda x: x["since"])
    return out[:limit]


def _workflow(records: Records, entity: str) -> tuple[Entity, Workflow]:
    ent = records.entity(entity)
    wf = records.workflow_of(ent.name)
    if wf is None:
        raise NotFound(Msg("%(entity)s has no workflow", entity=ent.name))
    return ent, wf
