"""Build workflows from metadata/workflows/<name>.yaml and check them as a graph: states are the
options of the entity's state field, every state is reachable from the initial one, no active
state is a dead end, nothing leaves a final state, and every role, field and expression named
exists and compiles."""
from __future__ import annotations

import ast
import difflib
import os
from types import MappingProxyType

from engine.expressions.language import Scope
from engine.metadata import workflow_parts as parts
from engine.metadata.failures import ANY
from engine.metadata.model import (
    CHILD_SYSTEM_COLUMNS,
    FINAL_CATEGORIES,
    SYSTEM_COLUMNS,
    Entity,
    Field,
    Label,
    Option,
    Reapproval,
    State,
    Transition,
    Workflow,
    WorkingHours,
)
from engine.metadata.report import compile_or_report

# what a guard may read of the record's latest review: review.outcome ('pending', 'approved',
# 'rejected' or None when there was none), and counts of approvals, rejections and open tasks
REVIEW_FACTS = frozenset({"outcome", "approved", "rejected", "pending"})
_INPUT_TYPES = {"string": "string", "text": "text", "date": "date", "datetime": "datetime", "integer": "integer",
                "decimal": "decimal", "user": "user", "select": "select"}


def build_workflow(ctx, file: str, doc, entities: dict[str, Entity], roles: dict, user_attributes: frozenset,
                   hours: WorkingHours = WorkingHours()) -> Workflow | None:
    d = doc.data
    before = len(ctx.problems)
    failed = ctx.failed
    ent = entities.get(d["entity"])
    if ent is None or ent.child:
        if not failed.entity(d["entity"]):
            tops = [e.name for e in entities.values() if not e.child]
            ctx.add("E037", file, doc, ("entity",), f"workflow '{d['name']}' is for '{d['entity']}', which is not a top-level entity"
                    + _did_you_mean(d["entity"], tops))
            if ent is None:
                failed.unreadable_workflow = True  # meant for some entity: which one's states are unknown
        failed.workflows.add(d["entity"])
        return None
    sf = ent.fields.get(d["state_field"])
    if sf is None or sf.type != "select":
        if sf is not None or not failed.field(ent.name, d["state_field"]):
            selects = [f.name for f in ent.fields.values() if f.type == "select"]
            ctx.add("E037", file, doc, ("state_field",), f"state_field '{d['state_field']}' must be a select field of {ent.name}"
                    + _did_you_mean(d["state_field"], selects))
        failed.workflows.add(ent.name)
        return None
    options = {o.value for o in sf.options}
    # what form sections may name, even when this workflow has problems (those are reported here)
    ctx.states[ent.name] = frozenset(options) | frozenset(d["states"])

    def unknown(fname: str) -> bool:
        """Is `fname` no field of the entity (and not one that failed its own checks)?"""
        return fname not in ent.fields and not failed.field(ent.name, fname)
    misspelt = _misspelt_states(list(d["states"]), options)
    states: dict[str, State] = {}
    for name, spec in d["states"].items():
        if name not in options:
            near = f" - did you mean '{misspelt[name]}'?" if name in misspelt else ""
            ctx.add("E038", file, doc, ("states", name), f"state '{name}' is not an option of {ent.name}.{sf.name}{near}", key=True)
        editable = spec.get("editable", "all")
        if editable != "all":
            for i, fname in enumerate(editable):
                if unknown(fname):
                    ctx.add("E015", file, doc, ("states", name, "editable", i), f"'{fname}' is not a field of {ent.name}")
        label = spec.get("label") or next((o.label.texts for o in sf.options if o.value == name), name)
        path = ("states", name)
        states[name] = State(name, Label.of(label), spec.get("color", "grey"), spec.get("category", "active"),
                             bool(spec.get("lock", False)), None if editable == "all" else tuple(editable),
                             parts.review(ctx, file, doc, path + ("review",), spec["review"], roles) if "review" in spec else None,
                             parts.sla(ctx, file, doc, path + ("sla",), spec["sla"], roles, hours, parts.people_of(ent)) if "sla" in spec else None,
                             parts.reduction(ctx, file, doc, path + ("notify_on_reduction",), spec["notify_on_reduction"], ent, entities, roles)
                             if "notify_on_reduction" in spec else None, Label.of(spec["portal"]) if spec.get("portal") else None)
    for name in sorted(options - set(states) - set(misspelt.values())):
        ctx.add("E038", file, doc, ("states",), f"{ent.name}.{sf.name} has the option '{name}', which is not a state of this workflow")
    # a name that is an option but not a state was reported just above (or as a misspelt state): only other names are news
    named = set(states) | options
    if d["initial"] not in named:
        ctx.add("E038", file, doc, ("initial",), f"the initial state '{d['initial']}' is not one of the states")
    values = frozenset(f.name for f in ent.stored_fields()) | frozenset(SYSTEM_COLUMNS)
    tables = {f.name: frozenset(entities[f.entity].fields) | failed.fields.get(f.entity, frozenset()) | frozenset(CHILD_SYSTEM_COLUMNS)
              if f.entity in entities else ANY for f in ent.table_fields()}
    tables |= {n: ANY for n in failed.fields.get(ent.name, ())}  # fields that failed their own checks: anything may be said of them
    transitions: dict[str, Transition] = {}
    for tname, spec in d["transitions"].items():
        path = ("transitions", tname)
        if tname == "reapproval":
            ctx.add("E025", file, doc, path, "'reapproval' is the name of the automatic return to review; name the transition otherwise", key=True)
        for i, s in enumerate(spec["from"]):
            if s not in named:
                ctx.add("E038", file, doc, path + ("from", i), f"transition '{tname}' starts from '{s}', which is not a state")
        if spec["to"] not in named:
            ctx.add("E038", file, doc, path + ("to",), f"transition '{tname}' goes to '{spec['to']}', which is not a state")
        for i, r in enumerate(spec.get("roles", ())):
            if roles and r not in roles:
                ctx.add("E031", file, doc, path + ("roles", i), f"transition '{tname}' names role '{r}', which is not in roles.yaml")
        inputs = {}
        for iname, ispec in (spec.get("inputs") or {}).items():
            itype = _INPUT_TYPES[ispec["type"]]
            if itype == "select" and not ispec.get("options"):
                ctx.add("E014", file, doc, path + ("inputs", iname), f"input '{iname}' is a select and needs options")
            inputs[iname] = Field(iname, itype, Label.of(ispec.get("label"), iname.replace("_", " ").capitalize()),
                                  required=bool(ispec.get("required", False)),
                                  options=tuple(Option(o, Label.of(o)) for o in ispec.get("options", ())))
        scope = Scope(values=values, tables=tables, objects={"user": user_attributes, "inputs": frozenset(inputs), "review": REVIEW_FACTS})
        guard = None
        if "guard" in spec:
            guard = compile_or_report(ctx, file, doc, path + ("guard", "check"), spec["guard"]["check"], scope)
        sets = {}
        for fname, source in (spec.get("set") or {}).items():
            if failed.field(ent.name, fname) and fname not in ent.fields:
                continue
            if fname not in ent.fields or not ent.fields[fname].stored or fname == sf.name:
                ctx.add("E015", file, doc, path + ("set", fname), f"transition '{tname}' sets '{fname}', which is not a stored field of "
                        f"{ent.name} other than its state", key=True)
                continue
            e = compile_or_report(ctx, file, doc, path + ("set", fname), source, scope)
            if e is not None:
                sets[fname] = e
        stamp = spec.get("stamp") or {}
        for key, want in (("at", ("datetime",)), ("by", ("user",))):
            fname = stamp.get(key)
            if fname is not None and (unknown(fname) or fname in ent.fields and ent.fields[fname].type not in want):
                ctx.add("E015", file, doc, path + ("stamp", key), f"stamp.{key} names '{fname}', which is not a {want[0]} field of {ent.name}")
        portal_user = None
        if "create_portal_user" in spec:
            cpu = spec["create_portal_user"]
            if not any(r.portal is not None and r.portal.party_entity == ent.name for r in roles.values()) and roles:
                ctx.add("E055", file, doc, path + ("create_portal_user",), f"create_portal_user on a workflow of {ent.name}, which is no "
                        "portal role's party entity: declare a role with portal: {party_entity: " + ent.name + "}", key=True)
            for key, types in (("email", ("email",)), ("name", ("string",)), ("language", ("select", "string"))):
                fname = cpu.get(key)
                if fname is not None and (unknown(fname) or fname in ent.fields and ent.fields[fname].type not in types):
                    ctx.add("E015", file, doc, path + ("create_portal_user", key), f"create_portal_user.{key} names '{fname}', which is not "
                            f"a {' or '.join(types)} field of {ent.name}")
            portal_user = (cpu["email"], cpu["name"], cpu.get("language"))
        transitions[tname] = Transition(
            tname, Label.of(spec.get("label"), tname.replace("_", " ").capitalize()), tuple(spec["from"]), spec["to"],
            tuple(spec.get("roles", ())), tuple(spec.get("relations", ())), guard,
            Label.of(spec["guard"]["message"]) if "guard" in spec else None, MappingProxyType(inputs), MappingProxyType(sets),
            stamp.get("at"), stamp.get("by"), f"{os.path.basename(file)}:{doc.mark(path).line}",
            parts.notify(ctx, file, doc, path + ("notify",), spec.get("notify", ()), roles, parts.people_of(ent)), portal_user)
    reapproval = None
    if "reapproval" in d:
        r = d["reapproval"]
        for i, fname in enumerate(r["key_fields"]):
            if unknown(fname) or fname == sf.name or fname in ent.fields and ent.fields[fname].type == "computed":
                ctx.add("E015", file, doc, ("reapproval", "key_fields", i), f"key field '{fname}' is not a field of {ent.name} that people change")
        for i, s in enumerate(r["from"]):
            if s not in named:
                ctx.add("E038", file, doc, ("reapproval", "from", i), f"reapproval starts from '{s}', which is not a state")
        if r["to"] not in named:
            ctx.add("E038", file, doc, ("reapproval", "to"), f"reapproval goes to '{r['to']}', which is not a state")
        reapproval = Reapproval(tuple(r["key_fields"]), tuple(r["from"]), r["to"],
                                Label.of(r.get("label"), "Back to review after a change"))
    for name, st in states.items():
        if st.review is not None:
            parts.check_review(ctx, file, doc, name, st.review, transitions)
        if st.sla is not None:
            parts.check_sla(ctx, file, doc, name, st.sla, transitions)
    if len(ctx.problems) > before:
        return None
    _check_graph(ctx, file, doc, d["initial"], states, transitions)
    if len(ctx.problems) > before:
        return None
    return Workflow(d["name"], Label.of(d.get("label"), d["name"].replace("_", " ").capitalize()), ent.name, sf.name, d["initial"],
                    MappingProxyType(states), MappingProxyType(transitions), file, reapproval)


def _check_graph(ctx, file, doc, initial: str, states: dict[str, State], transitions: dict[str, Transition]) -> None:
    reached, todo = {initial}, [initial]
    while todo:
        here = todo.pop()
        for t in transitions.values():
            if here in t.sources and t.target not in reached:
                reached.add(t.target)
                todo.append(t.target)
    for name, st in states.items():
        if name not in reached:
            ctx.add("E039", file, doc, ("states", name), f"state '{name}' cannot be reached from '{initial}' by any transition", key=True)
        leaving = [t.name for t in transitions.values() if name in t.sources]
        if st.category in FINAL_CATEGORIES and leaving:
            ctx.add("E041", file, doc, ("states", name), f"'{name}' is a final state ({st.category}), yet these transitions leave it: {', '.join(leaving)}", key=True)
        elif st.category not in FINAL_CATEGORIES and not leaving:
            ctx.add("E040", file, doc, ("states", name), f"no transition leaves '{name}'; records there would be stuck", key=True)


def _misspelt_states(declared: list[str], options: set[str]) -> dict[str, str]:
    """{declared state: the option it misspells}, for states that are no option while a close
    option has no state: one mistake, reported once, with the name meant."""
    free = sorted(options - set(declared))
    out = {}
    for name in declared:
        if name in options:
            continue
        near = difflib.get_close_matches(name, free, n=1, cutoff=0.75)
        if near:
            out[name] = near[0]
            free.remove(near[0])
    return out


def _did_you_mean(name: str, choices: list[str]) -> str:
    near = difflib.get_close_matches(name, choices, n=1, cutoff=0.75)
    return f" - did you mean '{near[0]}'?" if near else ""


def inputs_into(t: Transition | None, fields) -> frozenset:
    """The inputs of `t` whose values its `set` writes into any of `fields`: a reader from whom those
    fields are hidden must not read them as inputs either (in a notice, the timeline, the history)."""
    out: set = set()
    for name, expr in (t.sets.items() if t is not None and fields else ()):
        if name in fields:
            out |= {n.attr for n in ast.walk(expr.tree)
                    if isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "inputs"}
    return frozenset(out)
