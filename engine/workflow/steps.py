"""One workflow step inside an open transaction: the transition checked and applied with a
compare-and-set UPDATE, and everything that comes with entering the new state - the old
state's open review tasks closed and its timers cancelled, the new state's review tasks opened
and its SLA timers scheduled, the transition's notifications written, the history row and the
audit entry. A user's transition, a review's completion and an escalation all go this one way."""
from __future__ import annotations

import functools

from jinja2 import TemplateError
from jinja2.sandbox import SandboxedEnvironment
from sqlalchemy import select

from engine.core.actor import Actor
from engine.core.errors import Conflict, ErrorCollector, FieldError, Forbidden, Msg, ValidationFailed
from engine.core.values import to_json
from engine.events.bus import emit
from engine.events.model import STATE_ENTERED, TRANSITIONED, Event, Tx
from engine.metadata.model import Entity, Transition, Workflow
from engine.metadata.workflows import inputs_into
from engine.records import listing
from engine.records.compute import refuse_immutable
from engine.workflow import review_tasks, rules, timers

WORKFLOW = Actor(id=None, username="workflow", via="workflow")
_TEMPLATES = SandboxedEnvironment(autoescape=False)


def fire_in(tx: Tx, ent: Entity, wf: Workflow, t: Transition, record_id: int, inputs: dict, comment: str | None,
            version: int | None = None, automatic: bool = False) -> dict:
    """Fire `t` on the record inside the transaction `tx`. `automatic` steps (review completion,
    escalation) skip the who-may-fire check and the data scope, never the state, the review or the
    guard. Emits the state entered (timeline, review tasks, deadlines) and the transition (audit,
    notifications)."""
    records, conn, actor, lang = tx.records, tx.conn, tx.actor, tx.lang
    if automatic:
        current = records._load(conn, ent, record_id, lock=True)
    else:
        current = records._visible(conn, actor, ent, record_id, lock=True)
    state = current[wf.state_field]
    if version is not None and version != current["version"]:
        raise Conflict(Msg("this %(entity)s was changed by someone else (you sent version %(sent)s, it is now at version %(now)s); "
                           "reload it and try again", entity=ent.name, sent=version, now=current["version"]), current=records._strip(actor, ent, current))
    if state not in t.sources:
        raise Conflict(Msg("'%(transition)s' is not possible from %(state)s (only from: %(sources)s); reload the record",
                           transition=Msg.label(t.label), state=Msg.label(wf.states[state].label),
                           sources=", ".join(wf.states[s].label.get(lang) for s in t.sources)))
    if not automatic:
        allowed, why = rules.may_fire(records, conn, actor, wf, t, current)
        if not allowed:
            raise Forbidden(why)
    lines = {tf.name: current.get(tf.name, []) for tf in ent.table_fields()}
    # the latest review round is read only where it counts: leaving a review state, or a guard that reads it
    needs_review = wf.states[state].review is not None or (t.guard is not None and "review" in t.guard.names)
    review = review_tasks.facts(conn, records.schema, wf, ent.name, record_id) if needs_review else dict(review_tasks.NO_REVIEW)
    ok, message = rules.possible(records.app, wf, t, state, current, lines, actor, inputs, review, lang)
    if not ok:
        raise ValidationFailed([FieldError("transition", message)])
    now = tx.now
    errors = ErrorCollector()
    values = rules.effects(records.app, wf, t, current, lines, inputs, actor, now, errors)
    errors.raise_if_any()
    refuse_immutable(ent, current, {n for n, v in values.items() if v != current.get(n)})
    table = records.schema.tables[ent.name]
    row = {**values, "updated_at": now, "updated_by": actor.id, "version": table.c.version + 1}
    if "search_text" in table.c and not set(values).isdisjoint(ent.search_fields):  # the state or a `set` field is searched
        row["search_text"] = listing.search_text(ent, {**current, **values})
    res = conn.execute(table.update().where(table.c.id == record_id, table.c[wf.state_field] == state,
                                            table.c.version == current["version"]).values(**row))
    if res.rowcount != 1:  # pragma: no cover - the row lock (or SQLite's write lock) serialises firing
        raise Conflict(Msg("this %(entity)s changed while the transition was being applied; reload it and try again", entity=ent.name))
    text_inputs = {n: to_json(t.inputs[n].value_type, v) for n, v in inputs.items()}
    # the record as the UPDATE left it, without reading it back: only `values` and the stamps changed
    record = {**current, **values, "updated_at": now, "updated_by": actor.id, "version": current["version"] + 1}
    step = {"workflow": wf.name, "transition": t.name, "from": state, "to": t.target, "comment": comment or None, "inputs": text_inputs}
    emit(tx, STATE_ENTERED, ent.name, record_id, step, record=record, before=current)
    changes = records._changes(ent, current, record)
    changes["transition"] = {"name": t.name, "from": state, "to": t.target, "comment": comment or None, "inputs": text_inputs}
    emit(tx, TRANSITIONED, ent.name, record_id, changes, "transition", record=record, before=current, inputs=inputs)
    return record


def enter(tx: Tx, ent: Entity, wf: Workflow, record: dict, from_state: str | None, to_state: str) -> None:
    """The record has just entered `to_state` (from `from_state`, or new when None)."""
    records, conn, now = tx.records, tx.conn, tx.now
    schema = records.schema
    left = wf.states.get(from_state) if from_state is not None else None
    if left is not None and left.review is not None:
        review_tasks.close_open(conn, schema, ent.name, record["id"], now)
    if left is not None and left.sla is not None:
        timers.cancel(conn, schema, ent.name, record["id"], now)
    st = wf.states[to_state]
    if st.review is not None:
        review_tasks.open_round(conn, schema, ent.name, record["id"], to_state, st.review.roles, now)
    if st.sla is not None or (left is not None and left.sla is not None):  # timers, and the deadline kept on the row
        timers.schedule(conn, records, ent, record["id"], to_state, st.sla, now)


def record_step(tx: Tx, event: Event) -> None:
    """One row of the record's workflow timeline (a state entered by a transition), with the time spent in the state it leaves."""
    h, d, actor = tx.records.schema.workflow_history, event.data, event.actor
    last = tx.conn.execute(select(h.c.at).where(h.c.entity == event.entity, h.c.record_id == event.record_id)
                           .order_by(h.c.id.desc()).limit(1)).scalar()
    since = last or event.before["created_at"]
    tx.conn.execute(h.insert().values(entity=event.entity, record_id=event.record_id, workflow=d["workflow"], transition=d["transition"],
                                      from_state=d["from"], to_state=d["to"], actor_id=actor.id, actor=actor.username, at=event.at,
                                      comment=d.get("comment") or None, inputs=d.get("inputs") or None,
                                      seconds_in_state=int((event.at - since).total_seconds())))


def notify_transition(tx: Tx, ent: Entity, t: Transition, record: dict, inputs: dict, event_id: int | None = None) -> None:
    """The transition's `notify` lists, each on its channels, told in each reader's language (each
    reader only if they may read the record, and without the fields hidden from them)."""
    records, actor = tx.records, tx.actor
    for n in t.notify:
        def words(template, hidden, lang):  # each reader's text leaves out the fields hidden from them, and the inputs that fill them
            secret = inputs_into(t, hidden)
            return render(template.get(lang), {k: v for k, v in record.items() if k not in hidden},
                          inputs={k: v for k, v in inputs.items() if k not in secret}, user=actor.context(), transition=t.label.get(lang))

        def subject(hidden, lang, n=n):
            if n.subject is not None:
                return words(n.subject, hidden, lang)
            return f"{ent.label.get(lang)} {record.get(ent.title_field) or '#%s' % record['id']}: {t.label.get(lang)}"
        records.deliver(tx, n.to, ent, record, "transition", lambda hidden, lang, n=n: words(n.message, hidden, lang),
                        skip=actor.id, channels=n.channels, subject=subject, event_id=event_id)  # no one is told of what they just did


@functools.lru_cache(maxsize=512)
def _compiled(template: str):
    """A notification template compiled once (compiling took most of a notification's time); the
    templates come from the metadata, so there are as many as the workflows have messages."""
    return _TEMPLATES.from_string(template)


def render(template: str, record: dict, **extra) -> str:
    """A notification text from its template (sandboxed: templates cannot reach Python objects)."""
    values = {k: v for k, v in record.items() if not isinstance(v, list)}
    try:
        return _compiled(template).render(**values, **extra)
    except TemplateError:
        return template


def notify_reduction(tx: Tx, ent: Entity, wf: Workflow, old: dict, new: dict) -> None:
    """In a state with `notify_on_reduction`, tell its roles when lines go or quantities drop."""
    records, actor = tx.records, tx.actor
    st = wf.states.get(old.get(wf.state_field))
    r = st.reduction if st is not None else None
    if r is None:
        return
    after = {row["id"]: row.get(r.quantity) for row in new.get(r.table, [])}
    changes = []
    for row in old.get(r.table, []):
        before, now_qty = row.get(r.quantity), after.get(row["id"], 0)
        if row["id"] not in after:
            changes.append(f"line {(row.get('idx') or 0) + 1} removed (quantity {before})")
        elif before is not None and (now_qty or 0) < before:
            changes.append(f"line {(row.get('idx') or 0) + 1}: quantity {before} → {now_qty}")
    if not changes:
        return
    lang = records.app.default_language
    title = new.get(ent.title_field) or f"#{new['id']}"
    message = f"{ent.label.get(lang)} {title} was reduced while {st.label.get(lang).lower()} by {actor.username}: " + "; ".join(changes)
    records.deliver(tx, r.notify, ent, new, "reduced", message, skip=actor.id)
