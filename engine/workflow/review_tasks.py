"""Review task rows: opened when a record enters a review state, closed when it leaves, and
read back as the latest round's facts (outcome under the state's rule, counts, who is awaited)."""
from __future__ import annotations

from sqlalchemy import func, select

from engine.metadata.model import Workflow
from engine.workflow.rules import review_outcome

NO_REVIEW = {"outcome": None, "approved": 0, "rejected": 0, "pending": 0, "waiting": (), "round": 0, "state": None}


def open_round(conn, schema, entity: str, record_id: int, state: str, roles, now) -> int:
    rt = schema.review_task
    last = conn.execute(select(func.max(rt.c.round)).where(rt.c.entity == entity, rt.c.record_id == record_id)).scalar() or 0
    conn.execute(rt.insert(), [dict(entity=entity, record_id=record_id, round=last + 1, state=state, role=r, status="pending", created_at=now)
                               for r in roles])
    return last + 1


def close_open(conn, schema, entity: str, record_id: int, now) -> None:
    """The record left its review state: tasks still open are closed unanswered."""
    rt = schema.review_task
    conn.execute(rt.update().where(rt.c.entity == entity, rt.c.record_id == record_id, rt.c.status == "pending")
                 .values(status="closed", decided_at=now))


def _latest(conn, schema, entity: str, record_id: int) -> list[dict]:
    rt = schema.review_task
    last = select(func.max(rt.c.round)).where(rt.c.entity == entity, rt.c.record_id == record_id).scalar_subquery()
    return [dict(r) for r in conn.execute(select(rt).where(rt.c.entity == entity, rt.c.record_id == record_id, rt.c.round == last)
                                          .order_by(rt.c.id)).mappings()]


def facts(conn, schema, wf: Workflow, entity: str, record_id: int) -> dict:
    """What guards may read of the record's latest review round."""
    tasks = _latest(conn, schema, entity, record_id)
    return _facts(wf, tasks)


def _facts(wf: Workflow, tasks: list[dict]) -> dict:
    if not tasks:
        return dict(NO_REVIEW)
    st = wf.states.get(tasks[0]["state"])
    statuses = [t["status"] for t in tasks]
    outcome = review_outcome(st.review, statuses) if st is not None and st.review is not None else "pending"
    if outcome == "pending" and "pending" not in statuses:  # the state was left before the review completed
        outcome = None
    return {"outcome": outcome, "approved": statuses.count("approved"), "rejected": statuses.count("rejected"),
            "pending": statuses.count("pending"), "waiting": tuple(t["role"] for t in tasks if t["status"] == "pending"),
            "round": tasks[0]["round"], "state": tasks[0]["state"]}
