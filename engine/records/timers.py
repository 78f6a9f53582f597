"""SLA timers as durable rows. Entering a state with an `sla` writes one row per reminder, the
deadline and each escalation; leaving the state cancels the rows still pending; engine.records.escalations
fires them when they are due.

The deadline row itself fires nothing: it marks the record at risk (`at_risk` before it) and
overdue (after it) on lists."""
from __future__ import annotations

import datetime as dt


from engine import sla
from engine.metadata.model import Sla


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
