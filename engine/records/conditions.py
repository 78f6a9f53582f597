"""The form's conditions, evaluated once for screens and the server alike: which sections and
fields show (`visible_when`, a section's `roles` and `states`), which are required
(`required`, `required_when`) and which are read-only (`readonly_when`). The record service enforces them on
every write - form, API, import - and the form screen shows them and re-asks after each change,
so a conditional requirement holds exactly as the screen shows it.

A condition that cannot be evaluated (a value is missing) counts as false."""
from __future__ import annotations

from dataclasses import dataclass

from engine.core.errors import ErrorCollector, Msg
from engine.expressions.language import EvaluationError
from engine.metadata.model import App, Entity, Form, FormSection


@dataclass(frozen=True)
class FieldState:
    visible: bool = True
    required: bool = False
    readonly: bool = False


@dataclass(frozen=True)
class FormState:
    sections: tuple[bool, ...]  # per form section: shown
    fields: dict  # name -> FieldState, for fields on the form whose state depends on something


def _true(expr, ctx: dict) -> bool:
    try:
        return bool(expr.evaluate(ctx))
    except EvaluationError:
        return False


def section_applies(sec: FormSection, roles: set, state: str | None) -> bool:
    """A section's static part: for these roles, in this workflow state."""
    return (not sec.roles or bool(roles & set(sec.roles))) and (not sec.states or state in sec.states)


def evaluate(form: Form, values: dict, lines: dict, user: dict, roles: set, state: str | None) -> FormState:
    ctx = {**values, **lines, "user": user}
    shown = []
    fields = {}
    for sec in form.sections:
        visible = section_applies(sec, roles, state) and (sec.visible_when is None or _true(sec.visible_when, ctx))
        shown.append(visible)
        conditional = sec.visible_when is not None or sec.roles or sec.states
        for ff in sec.fields:
            if not (conditional or ff.visible_when or ff.required_when or ff.readonly_when or ff.required):
                continue
            v = visible and (ff.visible_when is None or _true(ff.visible_when, ctx))
            fields[ff.name] = FieldState(v, v and (ff.required or (ff.required_when is not None and _true(ff.required_when, ctx))),
                                         ff.readonly_when is not None and _true(ff.readonly_when, ctx))
    return FormState(tuple(shown), fields)


def form_for(app: App, ent: Entity) -> Form | None:
    form = app.forms.get(ent.name)
    return form if form is not None and form.entity == ent.name else None


def enforce(app: App, ent: Entity, values: dict, lines: dict, user: dict, roles: set, state: str | None,
            current: dict | None, errors: ErrorCollector) -> None:
    """Required-when on the values to be saved; read-only-when on the record as it was."""
    form = form_for(app, ent)
    if form is None:
        return
    now = evaluate(form, values, lines, user, roles, state)
    by_name = {ff.name: ff for sec in form.sections for ff in sec.fields}
    for name, st in now.fields.items():
        if not st.required:
            continue
        v = lines.get(name) if ent.fields[name].type == "table" else values.get(name)
        if v is None or v == "" or v == []:
            ff = by_name[name]
            if ff.required_message:
                errors.add(name, Msg.label(ff.required_message))
            else:
                errors.add(name, "required for this %(thing)s", thing=Msg.label(ent.label, lower=True))
    if current is None:
        return
    sf = state_field(app, ent)
    before = evaluate(form, {k: current.get(k) for k in values}, {k: current.get(k, []) for k in lines}, user, roles,
                      current.get(sf) if sf else None)
    for name, st in before.fields.items():
        if st.readonly and name in values and values.get(name) != current.get(name):
            errors.add(name, "cannot be changed now")


def state_field(app: App, ent: Entity) -> str | None:
    wf = app.workflows.get(ent.name)
    return wf.state_field if wf is not None else None
