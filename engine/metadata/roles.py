"""Build roles and user fields from roles.yaml: grants per entity and action with a scope,
field rules, inheritance. Checks that every role, entity and field named exists, that
inheritance has no cycle, and that each scope condition compiles to a SQL filter. A field rule
`"*"` is written out here into one rule per field it stands for, so the permission layer sees
only ordinary rules and applies them alike on every path."""
from __future__ import annotations

import os

from sqlalchemy import column

from engine.expressions.language import ExpressionError, Scope, compile_expression
from engine.expressions.to_sql import to_sql
from engine.metadata.graphs import dependency_order
from engine.metadata.model import SCOPE_WORDS, SYSTEM_COLUMNS, Entity, Field, FieldRule, Grant, Label, Option, Role

BASE_USER_ATTRIBUTES = frozenset({"id", "username", "full_name", "language"})


def user_fields(data: dict) -> dict[str, Field]:
    """The extra user attributes declared under `user_fields` (checked against entities later)."""
    out = {}
    for name, spec in (data.get("user_fields") or {}).items():
        out[name] = Field(name, spec["type"], Label.of(spec.get("label"), name.replace("_", " ").capitalize()),
                          options=tuple(Option(o, Label.of(o)) for o in spec.get("options", ())), entity=spec.get("entity"))
    return out


def build_roles(ctx, file: str, doc, entities: dict[str, Entity], ufields: dict[str, Field]) -> dict[str, Role]:
    data = doc.data
    for name, f in ufields.items():
        path = ("user_fields", name)
        if f.type == "select" and not f.options:
            ctx.add("E014", file, doc, path, f"user field '{name}' is a select and needs options")
        if f.type != "select" and f.options:
            ctx.add("E014", file, doc, path + ("options",), f"only a select user field takes options; '{name}' is {f.type}")
        if f.type == "link" and f.entity not in entities and not ctx.failed.entity(f.entity):
            ctx.add("E012", file, doc, path + ("entity",) if f.entity else path, f"user field '{name}' must link to an entity, not '{f.entity}'")
        if f.type != "link" and f.entity:
            ctx.add("E014", file, doc, path + ("entity",), f"only a link user field takes entity; '{name}' is {f.type}")
        if name in BASE_USER_ATTRIBUTES:
            ctx.add("E025", file, doc, path, f"'{name}' is already an attribute of every user")
    raw_roles = data["roles"]
    roles: dict[str, Role] = {}
    for rname, spec in raw_roles.items():
        for i, parent in enumerate(spec.get("inherits", ())):
            if parent not in raw_roles:
                ctx.add("E031", file, doc, ("roles", rname, "inherits", i), f"role '{rname}' inherits '{parent}', which is not a role here")
        grants = []
        for ename, actions in (spec.get("permissions") or {}).items():
            path = ("roles", rname, "permissions", ename)
            ent = entities.get(ename)
            if ename != "*" and ent is None and ctx.failed.entity(ename):
                continue  # the entity's own document failed: reported there
            if ename != "*" and (ent is None or ent.child):
                why = "a child entity: its lines follow their parent's permissions" if ent is not None else "not an entity"
                ctx.add("E012", file, doc, path, f"role '{rname}' grants on '{ename}', which is {why}", key=True)
                continue
            pairs = [("*", actions, path)] if isinstance(actions, str) else [(a, s, path + (a,)) for a, s in actions.items()]
            for action, scope, p in pairs:
                grants.append(_grant(ctx, file, doc, p, rname, ename, action, scope, ent, ufields))
        rules = []
        for ename, fields in (spec.get("fields") or {}).items():
            path = ("roles", rname, "fields", ename)
            ent = entities.get(ename)
            if ent is None and ctx.failed.entity(ename):
                continue  # the entity's own document failed: reported there
            if ent is None or ent.child:
                ctx.add("E012", file, doc, path, f"field rules for '{ename}', which is not a top-level entity", key=True)
                continue
            rules += _field_rules(ctx, file, doc, path, rname, ent, fields)
        roles[rname] = Role(rname, Label.of(spec.get("label"), rname.replace("_", " ").capitalize()), tuple(spec.get("inherits", ())),
                            bool(spec.get("admin", False)), tuple(g for g in grants if g is not None), tuple(rules),
                            bool(spec.get("integration", False)))
    _check_cycles(ctx, file, doc, raw_roles)
    return roles


def _field_rules(ctx, file, doc, path: tuple, rname: str, ent: Entity, levels: dict) -> list[FieldRule]:
    """One role's field rules for one entity. `"*"` stands for every field of the entity that this
    rule set does not name, as if each were written out with that level."""
    named = {n: level for n, level in levels.items() if n != "*"}
    rules = []
    for fname, level in named.items():
        if fname not in ent.fields:
            if not ctx.failed.field(ent.name, fname):
                ctx.add("E015", file, doc, path + (fname,), f"'{fname}' is not a field of {ent.name}", key=True)
        elif level == "hidden" and fname in ent.search_fields:
            ctx.add("E033", file, doc, path + (fname,), f"'{fname}' is searched by {ent.name}'s quick search, so hiding it would leak it")
        elif level == "hidden" and fname == ent.title_field:
            ctx.add("E033", file, doc, path + (fname,), f"'{fname}' is {ent.name}'s title, shown wherever {ent.name} is linked")
        else:
            rules.append(FieldRule(rname, ent.name, fname, level, f"{os.path.basename(file)}:{doc.mark(path + (fname,)).line}"))
    if "*" not in levels:
        return rules
    level = levels["*"]
    others = [n for n in ent.fields if n not in named]
    shown = [n for n in others if n in ent.search_fields or n == ent.title_field]
    if level == "hidden" and shown:
        ctx.add("E033", file, doc, path + ("*",), f"'*': hidden would hide {', '.join(shown)}, which {ent.name}'s quick search or title "
                "shows wherever the record is", key=True, hint=f"name {'them' if len(shown) > 1 else 'it'} in this rule set with the level "
                f"to keep, e.g. {shown[0]}: read_only")
        return rules
    where = f"{os.path.basename(file)}:{doc.key_mark(path + ('*',)).line}"
    return rules + [FieldRule(rname, ent.name, n, level, where) for n in others]


def _grant(ctx, file, doc, path, rname, ename, action, scope, ent, ufields) -> Grant | None:
    where = f"{os.path.basename(file)}:{doc.mark(path).line}"  # roles.yaml sits in the app folder
    if scope in SCOPE_WORDS:
        return Grant(rname, ename, action, scope, None, where)
    if ename == "*":
        ctx.add("E006", file, doc, path, f"a condition needs one entity, not '*'; use one of {', '.join(SCOPE_WORDS)} for every entity")
        return None
    names = frozenset(f.name for f in ent.stored_fields()) | frozenset(SYSTEM_COLUMNS) | frozenset(ctx.failed.fields.get(ename, ()))
    expr_scope = Scope(values=names, objects={"record": names, "user": BASE_USER_ATTRIBUTES | frozenset(ufields)})
    try:
        expr = compile_expression(scope, expr_scope)
        cols = {n: column(n) for n in names} | {f"record.{n}": column(n) for n in names}
        to_sql(expr, cols, {"user": {}})  # it must filter rows in SQL, not only evaluate in Python
    except ExpressionError as exc:
        hint = f"a scope is one of {', '.join(SCOPE_WORDS)}, or a condition like record.region == user.region"
        ctx.add(exc.code, file, doc, path, f"{exc.message} in '{scope[:80]}'", hint=hint)
        return None
    return Grant(rname, ename, action, scope, expr, where)


def _check_cycles(ctx, file, doc, raw_roles: dict) -> None:
    _, cycles = dependency_order({name: list(spec.get("inherits", ())) for name, spec in raw_roles.items()})
    for cycle in cycles:
        ctx.add("E032", file, doc, ("roles", cycle[0], "inherits"), "roles inherit from each other in a cycle: " + " -> ".join(cycle))
