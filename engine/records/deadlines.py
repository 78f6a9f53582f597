"""Overdue and at-risk flags of records, read from their own deadline columns (`sla_due`,
`sla_risk`, set by engine.workflow.timers when a record enters a state with an SLA), so lists and
record pages flag without a query."""
from __future__ import annotations

import datetime as dt


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
