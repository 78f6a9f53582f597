"""SLA timers as durable rows. Entering a state with an `sla` writes one row per reminder, the
deadline and each escalation; leaving the state cancels the rows still pending; engine.workflow.escalations
fires them when they are due.

The deadline row itself fires nothing: it sets the record's own `sla_due` and `sla_risk` columns,
from which lists flag it at risk and overdue (engine.records.deadlines)."""
from __future__ import annotations

import datetime as dt

from engine.metadata.model import Sla
from engine.records.service import Records
from engine.workflow import sla


def schedule(conn, records: Records, ent, record_id: int, state: str, s: Sla | None, now: dt.datetime) -> None:
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
