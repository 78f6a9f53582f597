"""The workflow rules over one record, as plain decisions: which transitions a user may fire
now and why not, the inputs a transition takes, the values it writes, and how a review round
comes out. engine.workflow.steps applies them in the record's transaction; nothing here writes.
(Which fields a state lets change is the record service's to enforce: engine.records.compute.)

Who may fire a transition: any of its `roles` (inherited roles count), or a relation to the
record - `owner`, `owner_manager` (the owner's direct manager), `owner_managers` (anyone above the
owner in the reporting line). A transition that names neither may be fired by anyone who may
update the record.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select

from engine.core.actor import Actor
from engine.core.errors import ErrorCollector, Msg, message_of
from engine.core.values import BadValue, coerce, to_json
from engine.expressions.language import EvaluationError
from engine.metadata.model import App, Review, Transition, Workflow
from engine.metadata.workflows import REVIEW_FACTS
from engine.records.service import Records
from engine.storage.schema import Schema


@dataclass(frozen=True)
class Option:
    """A transition as one user sees it on one record."""

    transition: Transition
    allowed: bool  # the user may fire it (roles / relations)
    guard_ok: bool
    message: str = ""  # why not, when not allowed or the guard fails


def options(records: Records, conn, actor: Actor, wf: Workflow, record: dict, lines: dict, review: dict, lang: str = "en") -> list[Option]:
    """The transitions out of the record's state, each with whether this user may fire it."""
    state = record.get(wf.state_field)
    out = []
    for t in wf.transitions.values():
        if state not in t.sources:
            continue
        allowed, why = may_fire(records, conn, actor, wf, t, record)
        guard_ok, message = possible(records.app, wf, t, state, record, lines, actor, {}, review, lang)
        out.append(Option(t, allowed, guard_ok, why if not allowed else message))
    return out

def possible(app: App, wf: Workflow, t: Transition, state: str, record: dict, lines: dict, actor: Actor, inputs: dict,
             review: dict, lang: str) -> tuple[bool, str]:
    """Whether the transition may happen now, and why not: an open review holds the state, then the guard."""
    ok, message = waits_for_review(app, wf, t, state, review, lang)
    return guard(t, record, lines, actor, inputs, review, lang) if ok else (ok, message)

def waits_for_review(app: App, wf: Workflow, t: Transition, state: str, review: dict, lang: str) -> tuple[bool, str]:
    """A state with a review is left only once the review is complete, except towards a
    draft or cancelled state (returning the record to its owner, cancelling it)."""
    st = wf.states[state]
    if st.review is None or review.get("outcome") != "pending" or wf.states[t.target].category in ("draft", "cancelled"):
        return True, ""
    waiting = ", ".join(role_label(app, r, lang) for r in review.get("waiting", ()))
    return False, Msg("the review is not complete; waiting for: %(waiting)s", waiting=waiting)

def role_label(app: App, role: str, lang: str) -> str:
    """A role's label in `lang` (its name when the app does not define it)."""
    r = app.roles.get(role)
    return r.label.get(lang) if r is not None else role

def may_fire(records: Records, conn, actor: Actor, wf: Workflow, t: Transition, record: dict) -> tuple[bool, str]:
    grants = records.permissions.grants(actor)
    if grants.unrestricted and actor.via == "system":
        return True, ""
    if not t.roles and not t.relations:
        if grants.can(wf.entity, "update"):
            return True, ""
        return False, Msg("'%(transition)s' needs permission to update %(entity)s", transition=t.name, entity=wf.entity)
    if t.roles and records.permissions.role_closure(actor) & set(t.roles):
        return True, ""
    owner = record.get("owner")
    if "owner" in t.relations and owner is not None and owner == actor.id:
        return True, ""
    if owner is not None and {"owner_manager", "owner_managers"} & set(t.relations):
        for depth, manager in enumerate(managers(conn, records.schema, owner)):  # read up the line only as far as needed
            if manager == actor.id and (depth == 0 or "owner_managers" in t.relations):
                return True, ""
            if "owner_managers" not in t.relations:
                break
    who = ", ".join([*t.roles, *(r.replace("_", " ") for r in t.relations)])
    return False, Msg("'%(transition)s' may be fired by: %(who)s", transition=t.name, who=who)

def managers(conn, schema: Schema, user_id: int):
    """The user's managers one by one, nearest first, each read when it is asked for (stops at a loop)."""
    u = schema.user
    seen: set[int] = set()
    current = user_id
    while True:
        m = conn.execute(select(u.c.manager_id).where(u.c.id == current)).scalar()
        if m is None or m in seen or m == user_id:
            return
        seen.add(m)
        yield m
        current = m

def guard(t: Transition, record: dict, lines: dict, actor: Actor, inputs: dict, review: dict, lang: str) -> tuple[bool, str]:
    if t.guard is None:
        return True, ""
    ctx = {**record, **lines, "user": actor.context(), "inputs": {n: inputs.get(n) for n in t.inputs},
           "review": {k: review.get(k) for k in REVIEW_FACTS}}
    try:
        ok = t.guard.evaluate(ctx)
    except EvaluationError:
        ok = False
    return (True, "") if ok else (False, t.guard_message.get(lang) if t.guard_message else Msg("'%(transition)s' is not possible now", transition=t.name))

def inputs(t: Transition, raw, errors: ErrorCollector, text: bool) -> dict:
    """The transition's inputs from the request's `fields`, coerced; every problem at once."""
    if raw is not None and not isinstance(raw, dict):
        errors.add("fields", "expected an object of input names and values")
    raw = raw if isinstance(raw, dict) else {}
    out = {}
    for name in raw:
        if name not in t.inputs:
            if t.inputs:
                errors.add(f"fields.{name}", "'%(transition)s' takes no input '%(input)s'; it takes: %(inputs)s", transition=t.name, input=name,
                           inputs=", ".join(t.inputs))
            else:
                errors.add(f"fields.{name}", "'%(transition)s' takes no input '%(input)s'", transition=t.name, input=name)
    for name, f in t.inputs.items():
        value = raw.get(name)
        if isinstance(value, str) and not value.strip():
            value = None
        if value is None:
            if f.required:
                errors.add(f"fields.{name}", "'%(transition)s' needs %(what)s", transition=Msg.label(t.label), what=Msg.label(f.label, lower=True))
            continue
        try:
            out[name] = coerce(f, value, from_query=text)
        except BadValue as exc:
            errors.add(f"fields.{name}", message_of(exc))
    return out

def effects(app: App, wf: Workflow, t: Transition, record: dict, lines: dict, inputs: dict, actor: Actor,
            now: dt.datetime, errors: ErrorCollector) -> dict:
    """The values the transition writes: the new state, `set` expressions, stamps."""
    ent = app.entity(wf.entity)
    values = {wf.state_field: t.target}
    ctx = {**record, **lines, "user": actor.context(), "inputs": {n: inputs.get(n) for n in t.inputs}}
    for name, expr in t.sets.items():
        try:
            raw = expr.evaluate(ctx)
            values[name] = coerce(ent.fields[name], to_json(ent.fields[name].value_type, raw) if raw is not None else None, from_query=False)
        except (EvaluationError, BadValue) as exc:
            errors.add(name, "'%(transition)s' could not set %(field)s: %(why)s", transition=t.name, field=name, why=message_of(exc))
    if t.stamp_at:
        values[t.stamp_at] = now
    if t.stamp_by:
        values[t.stamp_by] = actor.id
    return values


def review_outcome(review: Review, statuses: list[str]) -> str:
    """'approved', 'rejected' or 'pending' for one round of review tasks under the review's rule."""
    approved = statuses.count("approved")
    rejected = statuses.count("rejected")
    pending = statuses.count("pending")
    if review.rule == "any_reject" and rejected:
        return "rejected"
    if review.rule == "any" and approved:
        return "approved"
    if review.rule == "at_least":
        if approved >= review.at_least:
            return "approved"
        if approved + pending < review.at_least:
            return "rejected"
        return "pending"
    if pending:
        return "pending"
    return "approved" if (approved if review.rule == "any" else not rejected) else "rejected"
