"""Defaults, computed fields and validation of a whole record with its lines.

Computed fields are evaluated children first (line amount), then the parent in dependency
order (order total = sum(lines.amount)), with the same expressions the screens preview with.
Validation collects every problem: required, constraints, and the entity's rules.
"""
from __future__ import annotations

from engine.core.errors import ErrorCollector, Msg, message_of
from engine.core.values import BadValue, check_constraints, quantize_result
from engine.expressions.language import EvaluationError
from engine.metadata.model import App, Entity, Workflow


def apply_defaults(ent: Entity, values: dict, user: dict, errors: ErrorCollector, prefix: str = "") -> None:
    """Fill fields that were not given with their default (a literal or an expression)."""
    for f in ent.stored_fields():
        if f.type == "computed" or values.get(f.name) is not None:
            continue
        if f.default_expr is not None:
            try:
                from engine.core.values import coerce
                values[f.name] = coerce(f, f.default_expr.evaluate({**values, "user": user}))
            except (EvaluationError, BadValue) as exc:
                errors.add(prefix + f.name, "default could not be computed: %(why)s", why=message_of(exc))
        elif f.default is not None:
            values[f.name] = f.default


def compute(app: App, ent: Entity, values: dict, lines: dict[str, list[dict]], user: dict, errors: ErrorCollector) -> None:
    for tf in ent.table_fields():
        child = app.entity(tf.entity)
        for i, row in enumerate(lines.get(tf.name, [])):
            _compute_one(child, row, {}, user, errors, f"{tf.name}[{i}].")
    _compute_one(ent, values, lines, user, errors, "")


def _compute_one(ent: Entity, values: dict, lines: dict, user: dict, errors: ErrorCollector, prefix: str) -> None:
    for name in ent.computed_order:
        f = ent.field(name)
        try:
            values[name] = quantize_result(f, f.expression.evaluate({**values, **lines, "user": user}))
        except (EvaluationError, BadValue) as exc:
            values[name] = None
            errors.add(prefix + name, "could not be computed: %(why)s", why=message_of(exc))


def validate(app: App, ent: Entity, values: dict, lines: dict[str, list[dict]], user: dict, errors: ErrorCollector) -> None:
    _validate_one(ent, values, lines, user, errors, "")
    for tf in ent.table_fields():
        child = app.entity(tf.entity)
        rows = lines.get(tf.name, [])
        if tf.required and not rows:
            errors.add(tf.name, "add at least one line")
        for i, row in enumerate(rows):
            _validate_one(child, row, {}, user, errors, f"{tf.name}[{i}].")


def _validate_one(ent: Entity, values: dict, lines: dict, user: dict, errors: ErrorCollector, prefix: str) -> None:
    bad = set()
    said = {e.field for e in errors.errors}  # a value that could not be read is said once: not also "required"
    for f in ent.stored_fields():
        v = values.get(f.name)
        if v is None:
            if f.required and f.type != "computed" and prefix + f.name not in said:
                errors.add(prefix + f.name, "required")
                bad.add(f.name)
            continue
        for msg in check_constraints(f, v):
            errors.add(prefix + f.name, msg)
            bad.add(f.name)
    for rule in ent.rules:
        if rule.check.names & bad:
            continue  # the field errors already say what is wrong
        try:
            ok = rule.check.evaluate({**values, **lines, "user": user})
        except EvaluationError as exc:
            ok = False
            errors.add(prefix + (rule.field or ent.name), "rule could not be checked: %(why)s", why=message_of(exc))
            continue
        if not ok:
            errors.add(prefix + (rule.field or ent.name), Msg.label(rule.message))


def refuse_immutable(ent: Entity, current: dict, changed) -> None:
    """Fields marked immutable_once_set keep their first value: changing it is a 422 naming the field."""
    errors = ErrorCollector()
    for name in sorted(changed):
        f = ent.fields.get(name)
        if f is not None and f.immutable_once_set and current.get(name) is not None:
            errors.add(name, "was set once and can never change")
    errors.raise_if_any()


def refuse_changes(wf: Workflow, ent: Entity, state: str, changed: set[str], errors: ErrorCollector) -> str | None:
    """Why these changes may not be made in `state`: a message for a locked state (returned),
    or field errors for fields the state keeps fixed."""
    st = wf.states.get(state)
    if st is None:
        return None
    thing, state_label = Msg.label(ent.label, lower=True), Msg.label(st.label, lower=True)
    if st.lock and changed:
        return Msg("this %(thing)s is %(state)s; it can no longer change", thing=thing, state=state_label)
    if st.editable is not None:
        for name in sorted(changed - set(st.editable)):
            errors.add(name, "cannot be changed while the %(thing)s is %(state)s", thing=thing, state=state_label)
    return None
