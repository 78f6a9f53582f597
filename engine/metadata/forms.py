"""Build forms from forms/<entity>.yaml and check them against their entity, the roles and the
workflow: a form lists only its entity's fields, each once; a widget fits its field; conditions
compile; a section shown to some roles names real roles, and one shown in some states names
states of the entity's workflow. A form whose entity, roles.yaml or workflow failed its own checks
is not checked against what failed (that is reported once, where it is wrong)."""
from __future__ import annotations

from types import MappingProxyType

from engine.core.errors import message_of
from engine.core.values import BadValue, coerce
from engine.metadata.model import Field, Form, FormField, FormSection, Label, Option, PublicForm
from engine.metadata.report import compile_or_report
from engine.metadata.scopes import scope_for

WIDGETS = {"input": None, "textarea": {"string", "text"}, "radio": {"select"}, "select": {"select"},
           "checkbox": {"boolean"}, "date": {"date"}, "currency": {"decimal"}}


def build_form(ctx, file, doc, stem, raw: dict, forms: dict, roles: dict, with_workflow: set) -> Form | None:
    """`raw`: entity name -> (file, document); `with_workflow`: the entities a workflow file names."""
    d = doc.data
    entity = d["entity"]
    before = len(ctx.problems)
    if entity not in raw:
        if not ctx.failed.entity(entity):
            ctx.add("E016", file, doc, ("entity",), f"form for '{entity}', which is not an entity; known: {', '.join(sorted(raw))}")
        return None
    if stem in forms:
        ctx.add("E011", file, doc, (), f"form '{stem}' is defined twice")
        return None
    efields = raw[entity][1].data["fields"]
    seen: set = set()
    sections = []
    tabs = []
    groups = [(None, ("sections",), d["sections"])] if "sections" in d else \
        [(t, ("tabs", ti, "sections"), tab["sections"]) for ti, tab in enumerate(d["tabs"]) for t in [ti]]
    if "tabs" in d:
        tabs = [Label.of(t["label"]) for t in d["tabs"]]
    scope = scope_for(efields, raw, False, ctx)
    states = _states_check(ctx, file, doc, entity, groups, with_workflow)

    def condition(path, source):
        return compile_or_report(ctx, file, doc, path, source, scope)
    names: dict[str, tuple] = {}
    for path, part in [(("tabs", ti), t) for ti, t in enumerate(d.get("tabs", ()))] + [(base + (i,), sec) for _, base, secs in groups for i, sec in enumerate(secs)]:
        if "name" in part:
            key = (path[0] == "tabs" and len(path) == 2, part["name"])
            if key in names:
                ctx.add("E011", file, doc, path + ("name",), f"the name '{part['name']}' is given twice on this form")
            names[key] = path
    for tab, base, secs in groups:
        for i, sec in enumerate(secs):
            for k, r in enumerate(sec.get("roles", ())):
                if roles and r not in roles:
                    ctx.add("E031", file, doc, base + (i, "roles", k), f"the section is for role '{r}', which is not in roles.yaml")
            for k, st in enumerate(sec.get("states", ())):
                if states is not None and st not in states:
                    ctx.add("E038", file, doc, base + (i, "states", k), f"'{st}' is not a state of {entity}'s workflow")
            fields = []
            for j, item in enumerate(sec["fields"]):
                path = base + (i, "fields", j)
                name = item if isinstance(item, str) else item["field"]
                if name not in efields:
                    ctx.add("E017", file, doc, path, f"'{name}' is not a field of {entity}")
                    continue
                if name in seen:
                    ctx.add("E018", file, doc, path, f"'{name}' is already on this form")
                    continue
                seen.add(name)
                if isinstance(item, str):
                    fields.append(FormField(name))
                    continue
                widget = item.get("widget")
                ftype = efields[name].get("type") if isinstance(efields[name], dict) else None
                if widget and WIDGETS[widget] is not None and ftype not in WIDGETS[widget]:
                    ctx.add("E014", file, doc, path + ("widget",), f"widget '{widget}' does not fit a {ftype} field; it fits {', '.join(sorted(WIDGETS[widget]))}")
                conds = {k: condition(path + (k,), item[k]) if k in item else None for k in ("visible_when", "required_when", "readonly_when")}
                fields.append(FormField(name, *(Label.of(item[k]) if k in item else None for k in ("label", "help", "placeholder")), widget,
                                        **conds, required_message=Label.of(item["required_message"]) if "required_message" in item else None,
                                        required=bool(item.get("required", False))))
            sections.append(FormSection(Label.of(sec["label"]) if "label" in sec else None, sec.get("columns", 2), tuple(fields), tab,
                                        condition(base + (i, "visible_when"), sec["visible_when"]) if "visible_when" in sec else None,
                                        tuple(sec.get("roles", ())), tuple(sec.get("states", ()))))
    for k, name in enumerate(d.get("hidden", ())):
        spec = efields.get(name)
        if not isinstance(spec, dict):
            ctx.add("E017", file, doc, ("hidden", k), f"'{name}' is not a field of {entity}")
        elif name in seen:
            ctx.add("E018", file, doc, ("hidden", k), f"'{name}' is on the form and left off it at once")
        elif spec.get("required") and not any(key in spec for key in ("default", "default_expr", "series", "fill")):
            ctx.add("E046", file, doc, ("hidden", k), f"'{name}' is required and has no default, so it cannot be left off the form")
    public = _public(ctx, file, doc, entity, efields, seen, d["public"], states) if "public" in d else None
    if len(ctx.problems) > before:
        return None
    return Form(stem, entity, Label.of(d["label"]) if "label" in d else None, tuple(sections), tuple(tabs), file, tuple(d.get("hidden", ())),
                public)


def _public(ctx, file, doc, entity: str, efields: dict, shown: set, spec: dict, states) -> PublicForm | None:
    """A public form's block: `set` names stored fields with values of their types; whatever the entity requires
    without a default is on the form or set, or no submission could ever be saved (E056)."""
    fixed = {}
    for name, value in (spec.get("set") or {}).items():
        f = efields.get(name)
        if not isinstance(f, dict) or f.get("type") in ("table", "computed", "file"):
            ctx.add("E056", file, doc, ("public", "set", name), f"set names '{name}', which is not a field of {entity} a value can be given to")
            continue
        try:
            fixed[name] = coerce(Field(name, f["type"], Label.of(name), options=tuple(
                Option(o["value"] if isinstance(o, dict) else o, Label.of(name)) for o in f.get("options", ())), entity=f.get("entity")), value)
        except BadValue as exc:
            ctx.add("E056", file, doc, ("public", "set", name), f"set gives {name} the value {value!r}: {message_of(exc)}")
    for name, f in efields.items():
        if isinstance(f, dict) and f.get("required") and name not in shown and name not in fixed and f.get("type") != "computed" and \
                not any(key in f for key in ("default", "default_expr", "series", "fill")):
            ctx.add("E056", file, doc, ("public",), f"{entity}.{name} is required and has no default: put it on the public form or under set")
    start = spec.get("state")
    if start is not None and (states is None or start not in states) and not ctx.failed.states_unknown(entity):
        ctx.add("E056", file, doc, ("public", "state"), f"state '{start}' is not a state of {entity}'s workflow" if states is not None
                else f"{entity} has no workflow, so its submissions cannot start in a state")
    return PublicForm(Label.of(spec["intro"]) if "intro" in spec else None, Label.of(spec["done"]) if "done" in spec else None,
                      MappingProxyType(fixed), spec.get("per_address", 5), spec.get("per_day", 500), start)


def _states_check(ctx, file, doc, entity: str, groups: list, with_workflow: set) -> frozenset | None:
    """The states the form's sections may name, or None when they cannot be checked. An entity
    without a workflow is reported once, at the first section that names a state."""
    if entity in ctx.states:
        return ctx.states[entity]
    if entity in with_workflow or ctx.failed.states_unknown(entity):
        return None  # its workflow failed before its states were known: reported there
    naming = [base + (i, "states") for _, base, secs in groups for i, sec in enumerate(secs) if sec.get("states")]
    if naming:
        more = f" ({len(naming)} sections do)" if len(naming) > 1 else ""
        ctx.add("E038", file, doc, naming[0], f"{entity} has no workflow, so its form's sections cannot depend on a state{more}",
                hint=f"add a workflow for {entity} under workflows/, or remove states: from the sections")
    return None
