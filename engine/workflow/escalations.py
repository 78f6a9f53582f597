"""Firing what is due of the SLA timers (engine.workflow.timers): each timer is claimed by an UPDATE
that compares its status, in the same transaction as its effect - the deadline reached (reminders and
escalations tell people), a reassignment to the owner's manager, an automatic transition - so any
number of processes may run it at once and each timer fires exactly once. The task queue
(engine.app.tasks) calls `run_due` every minute; tests call it with a clock of their own."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from engine.core.errors import Conflict, Forbidden, Msg, NotFound, ValidationFailed
from engine.events.bus import emit
from engine.events.model import DEADLINE_REACHED, UPDATED, Tx
from engine.records.service import Records
from engine.workflow import review_tasks, steps


def run_due(records: Records, now: dt.datetime | None = None, limit: int = 500) -> list[dict]:
    """Fire every timer due by `now` (default: the records' clock). Returns what each did."""
    now = now or records.clock()
    tm = records.schema.timer
    with records.db.read() as conn:
        due = conn.execute(select(tm.c.id).where(tm.c.status == "pending", tm.c.kind != "deadline", tm.c.due_at <= now)
                           .order_by(tm.c.due_at, tm.c.id).limit(limit)).scalars().all()
    out = []
    for timer_id in due:
        try:
            with records.db.write() as conn:
                result = _fire_one(records, conn, timer_id, now)
        except (Conflict, Forbidden, NotFound, ValidationFailed) as exc:
            detail = exc.reason
            with records.db.write() as conn:  # the effect could not happen: say so once, never retry forever
                claimed = conn.execute(tm.update().where(tm.c.id == timer_id, tm.c.status == "pending")
                                       .values(status="failed", fired_at=now, result=detail[:2000])).rowcount
            result = {"id": timer_id, "status": "failed", "detail": detail} if claimed else None
        if result is not None:
            out.append(result)
    return out


def _fire_one(records: Records, conn, timer_id: int, now: dt.datetime) -> dict | None:
    tm = records.schema.timer
    timer = conn.execute(select(tm).where(tm.c.id == timer_id)).mappings().first()
    # the claim: of several processes, the one whose UPDATE finds the timer still pending fires it
    if conn.execute(tm.update().where(tm.c.id == timer_id, tm.c.status == "pending").values(status="done", fired_at=now)).rowcount != 1:
        return None
    ent = records.app.entity(timer["entity"])
    wf = records.workflow_of(ent.name)
    try:
        record = records._load(conn, ent, timer["record_id"], lock=True)
    except NotFound:
        conn.execute(tm.update().where(tm.c.id == timer_id).values(status="cancelled", result="the record is gone"))
        return {"id": timer_id, "status": "cancelled"}
    st = wf.states.get(timer["state"]) if wf is not None else None
    if st is None or st.sla is None or record[wf.state_field] != timer["state"]:
        conn.execute(tm.update().where(tm.c.id == timer_id).values(status="cancelled", result="the record left the state"))
        return {"id": timer_id, "status": "cancelled"}
    title = record.get(ent.title_field) or f"#{record['id']}"
    lang = records.app.default_language
    state_label = st.label.get(lang)
    due = record["sla_due"]  # written with the timers when the record entered the state
    tx = Tx(conn, records, steps.WORKFLOW, now, lang)
    did = []
    reached = {"kind": timer["kind"], "step": timer["step"], "state": timer["state"], "due": due.isoformat() if due else None}
    if timer["kind"] == "reminder":
        who, channels = st.sla.reminders[timer["step"]].notify, st.sla.reminders[timer["step"]].channels
        if st.review is not None:  # reviewers who already gave their opinion are not reminded
            waiting = set(review_tasks.facts(conn, records.schema, wf, ent.name, record["id"])["waiting"])
            who = tuple(n for n in who if n not in st.review.roles or n in waiting)
        message = Msg("%(thing)s %(title)s is due out of '%(state)s' by %(due)s UTC", thing=Msg.label(ent.label), title=title,
                      state=Msg.label(st.label), due=f"{due:%Y-%m-%d %H:%M}")  # said in each reader's language
        event = emit(tx, DEADLINE_REACHED, ent.name, record["id"], {**reached, "notify": list(who), "channels": list(channels), "message": message}, record=record)
        did.append(f"reminded {tx.told.get(event.id, 0)}")
    else:
        esc = st.sla.escalations[timer["step"]]
        message = Msg("%(thing)s %(title)s is overdue in '%(state)s' (due %(due)s UTC)", thing=Msg.label(ent.label), title=title,
                      state=Msg.label(st.label), due=f"{due:%Y-%m-%d %H:%M}")
        event = emit(tx, DEADLINE_REACHED, ent.name, record["id"],
                     {**reached, "notify": list(esc.notify), "channels": list(esc.channels), "message": message if esc.notify else None},
                     record=record)
        if esc.notify:
            did.append(f"notified {tx.told.get(event.id, 0)}")
        if esc.reassign == "owner_manager":
            did.append(_reassign(tx, ent, record))
        if esc.fire is not None:
            steps.fire_in(tx, ent, wf, wf.transitions[esc.fire], record["id"], {}, f"overdue in {state_label}", automatic=True)
            did.append(f"fired {esc.fire}")
    result = "; ".join(did) or "nothing to do"
    conn.execute(tm.update().where(tm.c.id == timer_id).values(result=result))
    return {"id": timer_id, "status": "done", "kind": timer["kind"], "record_id": record["id"], "result": result}


def _reassign(tx: Tx, ent, record: dict) -> str:
    """Pass the record to its owner's manager (the escalation's `reassign: owner_manager`): an update
    of its owner, audited as a reassignment, and the manager is told."""
    records, conn = tx.records, tx.conn
    u = records.schema.user
    manager = conn.execute(select(u.c.manager_id).where(u.c.id == record["owner"])).scalar() if record.get("owner") else None
    if manager is None:
        return "no manager to reassign to"
    t = records.schema.tables[ent.name]
    conn.execute(t.update().where(t.c.id == record["id"]).values(owner=manager, updated_at=tx.now, version=t.c.version + 1))
    after = records._load(conn, ent, record["id"])
    emit(tx, UPDATED, ent.name, record["id"], {"fields": {"owner": {"from": record["owner"], "to": manager}}}, "reassign",
         record=after, before=record)
    return f"reassigned to user {manager}"
