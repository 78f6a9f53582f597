"""Build roles and user fields from roles.yaml: grants per entity and action with a scope,
field rules, inheritance. Checks that every role, entity and field named exists, that
inheritance has no cycle, and that each scope condition compiles to a SQL filter. A field rule
`"*"` is written out here into one rule per field it stands for, so the permission layer sees
only ordinary rules and applies them alike on every path."""
from __future__ import annotations

import ast
import os

from sqlalchemy import column

from engine.expressions.language import ExpressionError, Scope, compile_expression
from engine.expressions.to_sql import to_sql
from engine.metadata.codes import Problem
from engine.metadata.graphs import dependency_order
from engine.metadata.model import SCOPE_WORDS, SYSTEM_COLUMNS, Entity, Field, FieldRule, Grant, Label, Option, Portal, Role

BASE_USER_ATTRIBUTES = frozenset({"id", "username", "full_name", "language", "party"})  # party: a portal user's party record


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
            if ent is None:
                ctx.add("E012", file, doc, path, f"field rules for '{ename}', which is not an entity", key=True)
                continue
            if ent.child and any(level == "hidden" for level in fields.values()):  # lines are read whole, with their record
                name = next(n for n, level in fields.items() if level == "hidden")
                ctx.add("E033", file, doc, path + (name,), f"'{name}' is a field of {ename}'s lines, which show whole with their record: "
                        "a line's field may be read_only (not written by these roles), not hidden", hint="make it read_only")
                continue
            rules += _field_rules(ctx, file, doc, path, rname, ent, fields)
        roles[rname] = Role(rname, Label.of(spec.get("label"), rname.replace("_", " ").capitalize()), tuple(spec.get("inherits", ())),
                            bool(spec.get("admin", False)), tuple(g for g in grants if g is not None), tuple(rules),
                            bool(spec.get("integration", False)), _portal(ctx, file, doc, rname, spec, entities))
    _check_cycles(ctx, file, doc, raw_roles)
    _check_portals(ctx, file, doc, raw_roles, roles, entities)
    return roles


def _portal(ctx, file, doc, rname: str, spec: dict, entities: dict) -> Portal | None:
    """A portal role's party: a top-level entity, its `party_active` a boolean field, its `home` entities real ones."""
    p = spec.get("portal")
    if p is None:
        return None
    path = ("roles", rname, "portal")
    party = entities.get(p["party_entity"])
    if party is None or party.child:
        if not ctx.failed.entity(p["party_entity"]):
            ctx.add("E055", file, doc, path + ("party_entity",), f"portal role '{rname}' names '{p['party_entity']}' as its party, which is not "
                    "a top-level entity")
        return None
    active = p.get("party_active")
    if active is not None and (active not in party.fields or party.fields[active].type != "boolean"):
        ctx.add("E055", file, doc, path + ("party_active",), f"party_active names '{active}', which is not a true/false field of {party.name}")
        return None
    for i, name in enumerate(p.get("home", ())):
        if (name not in entities or entities[name].child) and not ctx.failed.entity(name):
            ctx.add("E055", file, doc, path + ("home", i), f"home names '{name}', which is not a top-level entity")
            return None
    for key in ("admin", "integration"):
        if spec.get(key):
            ctx.add("E055", file, doc, ("roles", rname, key), f"portal role '{rname}' cannot be an {key} role: a portal user works only with "
                    "their own party's records", key=True)
    if "*" in (spec.get("permissions") or {}):
        ctx.add("E055", file, doc, ("roles", rname, "permissions", "*"), f"portal role '{rname}' grants on '*': name each entity a portal "
                "user may reach", key=True)
    return Portal(party.name, active, tuple(p.get("home", ())))


def _mentions_party(expr) -> bool:
    return any(isinstance(n, ast.Attribute) and isinstance(n.value, ast.Name) and n.value.id == "user" and n.attr == "party"
               for n in ast.walk(expr.tree))


def _belongs_to_party(entities: dict, name: str, portal: Portal) -> bool:
    """Whether an entity's records belong to parties: it is the party entity or links to it (a catalogue does not)."""
    ent = entities.get(name)
    return ent is not None and (ent.name == portal.party_entity or any(f.type == "link" and f.entity == portal.party_entity
                                                                        for f in ent.fields.values()))


def _check_portals(ctx, file, doc, raw_roles: dict, roles: dict[str, Role], entities: dict) -> None:
    """A portal role inherits only portal roles of its party (never the back office's grants); only portal roles name
    user.party (a back-office user has none); W001 for a portal role's read scope that does not narrow to the party."""
    for rname, role in roles.items():
        portal = role.portal
        if portal is None and raw_roles[rname].get("portal") is not None:
            continue  # its portal block failed: reported
        for i, parent in enumerate(role.inherits):
            other = roles.get(parent)
            if other is None or raw_roles[parent].get("portal") is not None and other.portal is None:
                continue
            if (portal is None) != (other.portal is None) or portal and other.portal and portal.party_entity != other.portal.party_entity:
                what = "a portal role" if portal else "a back-office role"
                ctx.add("E055", file, doc, ("roles", rname, "inherits", i), f"{what} '{rname}' inherits '{parent}', which is "
                        + ("a back-office role" if other.portal is None else f"a portal role of {other.portal.party_entity}" if portal
                           else "a portal role"))
        for g in role.grants:
            path = ("roles", rname, "permissions", g.entity) + ((g.action,) if isinstance(raw_roles[rname]["permissions"][g.entity], dict) else ())
            if g.condition is not None and _mentions_party(g.condition) and portal is None:
                ctx.add("E055", file, doc, path, f"role '{rname}' is no portal role, so its users have no party: user.party is always empty "
                        "here", hint="give the role `portal: {party_entity: ...}`, or use another condition")
            elif portal is not None and g.action in ("read", "*") and g.scope != "none" and _belongs_to_party(entities, g.entity, portal) \
                    and (g.condition is None or not _mentions_party(g.condition)):
                m = doc.mark(path)
                ctx.warnings.append(Problem("W001", file, m.line, m.col, f"portal role '{rname}' reads {g.entity} with the scope '{g.scope}', "
                                            f"which does not mention user.party: each party's users see every party's {g.entity} records",
                                            ".".join(str(x) for x in path)))


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
