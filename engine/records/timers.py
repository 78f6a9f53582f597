"""SLA timers as durable rows. Entering a state with an `sla` writes one row per reminder, the
deadline and each escalation; leaving the state cancels the rows still pending. `run_due`
fires what is due: each timer is claimed by an UPDATE that compares its status, in the same
transaction as its effect (notification, reassignment or automatic transition), so any number
of processes may run it at once and each timer fires exactly once. The task queue (engine.tasks)
calls `run_due` every minute; tests call it with a clock of their own.

The deadline row itself fires nothing: it marks the record at risk (`at_risk` before it) and
overdue (after it) on lists."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from engine import audit, sla
from engine.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.metadata.model import Sla
from engine.records import review_tasks


def schedule(conn, records, ent, record_id: int, state: str, s: Sla | None, now: dt.datetime) -> None:
    """The state's timers, and its deadline and at-risk moment on the record's row (cleared for a
    state without an SLA), so lists flag without a query."""
    hours = records.app.working_hours
    plan = sla.plan(s, now, hours) if s is not None else []
    if plan:
        conn.execute(records.schema.timer.insert(), [dict(entity=ent.name, record_id=record_id, state=state, kind=kind, step=step,
                                                          due_at=due, status="pending", entered_at=now) for kind, step, due in plan])
    due = next((d for kind, _, d in plan if kind == "deadline"), None)
    risk = sla.at_risk_from(s, now, hours) if s is not None else None
    t = records.schema.tables[ent.name]
    conn.execute(t.update().where(t.c.id == record_id).values(sla_due=due, sla_risk=risk))


def cancel(conn, schema, entity: str, record_id: int, now: dt.datetime) -> None:
    tm = schema.timer
    conn.execute(tm.update().where(tm.c.entity == entity, tm.c.record_id == record_id, tm.c.status == "pending")
                 .values(status="cancelled", fired_at=now))


def flags(rows, now: dt.datetime) -> dict[int, dict]:
    """{record id: {"flag": "overdue" | "at_risk", "due": datetime}} from the rows' own deadline columns."""
    out = {}
    for r in rows:
        due = r.get("sla_due")
        if due is None:
            continue
        if now >= due:
            out[r["id"]] = {"flag": "overdue", "due": due}
        elif r.get("sla_risk") is not None and now >= r["sla_risk"]:
            out[r["id"]] = {"flag": "at_risk", "due": due}
    return out


def run_due(records, now: dt.datetime | None = None, limit: int = 500) -> list[dict]:
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


def _fire_one(records, conn, timer_id: int, now: dt.datetime) -> dict | None:
    from engine.records import steps
    tm = records.schema.timer
    timer = conn.execute(select(tm).where(tm.c.id == timer_id)).mappings().first()
    # the claim: of several processes, the one whose UPDATE finds the timer still pending fires it
    if conn.execute(tm.update().where(tm.c.id == timer_id, tm.c.status == "pending").values(status="done", fired_at=now)).rowcount != 1:
        return None
    ent = records.app.entity(timer["entity"])
    wf = records.workflows.of(ent.name)
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
    did = []
    if timer["kind"] == "reminder":
        who = st.sla.reminders[timer["step"]].notify
        if st.review is not None:  # reviewers who already gave their opinion are not reminded
            waiting = set(review_tasks.facts(conn, records.schema, wf, ent.name, record["id"])["waiting"])
            who = tuple(n for n in who if n not in st.review.roles or n in waiting)
        message = f"{ent.label.get(lang)} {title} is due out of '{state_label}' by {due:%Y-%m-%d %H:%M} UTC"
        n = records.deliver(conn, who, ent, record, "reminder", message, now)
        did.append(f"reminded {n}")
    else:
        esc = st.sla.escalations[timer["step"]]
        if esc.notify:
            message = f"{ent.label.get(lang)} {title} is overdue in '{state_label}' (due {due:%Y-%m-%d %H:%M} UTC)"
            n = records.deliver(conn, esc.notify, ent, record, "escalation", message, now)
            did.append(f"notified {n}")
        if esc.reassign == "owner_manager":
            did.append(_reassign(records, conn, ent, record, now))
        if esc.fire is not None:
            steps.fire_in(records, conn, steps.WORKFLOW, ent, wf, wf.transitions[esc.fire], record["id"], {},
                          f"overdue in {state_label}", lang, automatic=True)
            did.append(f"fired {esc.fire}")
    result = "; ".join(did) or "nothing to do"
    conn.execute(tm.update().where(tm.c.id == timer_id).values(result=result))
    return {"id": timer_id, "status": "done", "kind": timer["kind"], "record_id": record["id"], "result": result}


def _reassign(records, conn, ent, record: dict, now) -> str:
    """Pass the record to its owner's manager (the escalation's `reassign: owner_manager`)."""
    from engine.records import steps
    u = records.schema.user
    manager = conn.execute(select(u.c.manager_id).where(u.c.id == record["owner"])).scalar() if record.get("owner") else None
    if manager is None:
        return "no manager to reassign to"
    t = records.schema.tables[ent.name]
    conn.execute(t.update().where(t.c.id == record["id"]).values(owner=manager, updated_at=now, version=t.c.version + 1))
    audit.append(conn, records.schema, steps.WORKFLOW, ent.name, record["id"], "reassign",
                 {"fields": {"owner": {"from": record["owner"], "to": manager}}})
    records.deliver_to(conn, [manager], ent, record["id"], "reassigned",
                       f"{ent.label.get(records.app.default_language)} {record.get(ent.title_field) or record['id']} is now yours (overdue)", now)
    return f"reassigned to user {manager}"
