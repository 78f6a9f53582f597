"""The one permission choke point: who may do what to which records and fields.

Role-level questions (may a role read orders, and within which scope; which fields are
hidden or read-only for it) are answered by casbin from a policy generated from roles.yaml:
`p, role, entity, action, scope` and `p, role, entity, field:<name>, level`, with
`g, role, parent` for inheritance. Each distinct set of roles is expanded once with
get_implicit_permissions_for_user and cached for the life of the app model, so a change to a
user's roles applies on their next request and `enforce()` never runs per row.

Row scopes compile to one SQLAlchemy clause with bound parameters (`own`: the owner or a
co-owner is the user; `team`: the owner is the user or anyone below them in the reporting
line, read at the time of the query; a condition over `record` and `user`). Every read and
write path - lists, counts, search, detail, link pickers, lookups, history, updates, deletes
and the API - asks here; nothing else decides.

An app without roles.yaml has no rules: every signed-in user may do everything.
"""
from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import casbin
from casbin.model import Model
from sqlalchemy import bindparam, false, or_, select

from engine.access import users
from engine.core.actor import Actor
from engine.core.errors import Forbidden, Msg
from engine.expressions.to_sql import to_sql
from engine.metadata.model import ACTIONS, FIELD_LEVELS, App, Entity, Grant
from engine.storage.schema import Schema

_MODEL = """
[request_definition]
r = sub, obj, act
[policy_definition]
p = sub, obj, act, scope
[role_definition]
g = _, _
[policy_effect]
e = some(where (p.eft == allow))
[matchers]
m = g(r.sub, p.sub) && (p.obj == r.obj || p.obj == "*") && (p.act == r.act || p.act == "*")
"""
_RANK = {level: i for i, level in enumerate(FIELD_LEVELS)}


@dataclass
class Grants:
    """What one set of roles may do: scopes per (entity, action), field levels per entity."""

    roles: frozenset
    scopes: dict[tuple[str, str], list[Grant]] = field(default_factory=dict)
    fields: dict[str, dict[str, str]] = field(default_factory=dict)  # entity -> field -> level, only restricted ones
    admin: bool = False
    unrestricted: bool = False  # the system, or an app without roles
    integration: bool = False  # a role marked `integration: true` (or inheriting one): the event feed is open to it
    portal: object = None  # a portal user's Portal (metadata): /portal only, their party's records

    def rules(self, entity: str, action: str) -> list[Grant]:
        return self.scopes.get((entity, action), [])

    def can(self, entity: str, action: str) -> bool:
        return self.unrestricted or any(g.scope != "none" for g in self.rules(entity, action))

    def level(self, entity: str, name: str) -> str:
        return "editable" if self.unrestricted else self.fields.get(entity, {}).get(name, "editable")

    def hidden(self, entity: str) -> frozenset:
        return frozenset() if self.unrestricted else frozenset(n for n, lv in self.fields.get(entity, {}).items() if lv == "hidden")


class Permissions:
    def __init__(self, app: App, schema: Schema):
        self.app = app
        self.schema = schema
        self.open = not app.roles
        model = Model()
        model.load_model_from_text(_MODEL)
        self.enforcer = casbin.Enforcer(model)
        self._grant_of: dict[tuple, Grant] = {}
        for role in app.roles.values():
            for parent in role.inherits:
                self.enforcer.add_grouping_policy(role.name, parent)
            for g in role.grants:
                self.enforcer.add_policy(role.name, g.entity, g.action, g.scope)
                self._grant_of[(role.name, g.entity, g.action, g.scope)] = g
            for r in role.field_rules:
                self.enforcer.add_policy(role.name, r.entity, "field:" + r.field, r.level)
        self._cache: dict[frozenset, Grants] = {}
        self._teams: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # connection -> {user id: team}, see team()
        self._clauses: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # connection -> {(user, entity, action, walk): clause}, see where()
        self._team_stmt = None  # the recursive reporting-line query, built on first use

    # ------------------------------------------------------------------ role level
    def grants(self, actor: Actor) -> Grants:
        if self.open or actor.via == "system":
            return Grants(frozenset(actor.roles), admin=True, unrestricted=True)
        key = frozenset(r for r in actor.roles if r in self.app.roles)
        cached = self._cache.get(key)
        if cached is None:
            cached = self._expand(key)
            if len(self._cache) < 10_000:
                self._cache[key] = cached
        return cached

    def _expand(self, roles: frozenset) -> Grants:
        out = Grants(roles, admin=any(self._is_admin(r) for r in roles),
                     integration=any(self.app.roles[r].integration for role in roles for r in [role, *self.enforcer.get_implicit_roles_for_user(role)]
                                     if r in self.app.roles),
                     portal=users.portal_of(self.app, roles))
        entities = [e.name for e in self.app.top_entities()]
        per_role_fields: list[tuple[set, dict]] = []
        for role in sorted(roles):
            levels: dict[tuple[str, str], str] = {}
            readable: set[str] = set()
            for owner, obj, act, scope in self.enforcer.get_implicit_permissions_for_user(role):
                if act.startswith("field:"):
                    key = (obj, act[6:])
                    if key not in levels or _RANK[scope] > _RANK[levels[key]]:
                        levels[key] = scope  # the most permissive rule in the role's line of inheritance
                    continue
                g = self._grant_of[(owner, obj, act, scope)]
                for ent in (entities if obj == "*" else [obj]):
                    for a in (ACTIONS if act == "*" else [act]):
                        bucket = out.scopes.setdefault((ent, a), [])
                        if g not in bucket:
                            bucket.append(g)
                        if a == "read" and scope != "none":
                            readable.add(ent)
            per_role_fields.append((readable, levels))
        for ent in [*entities, *(e.name for e in self.app.entities.values() if e.child)]:
            # across roles, the most permissive level wins, counting only roles that may read the entity (a line: its record)
            owner = self.app.entity(ent).parent or ent
            roles_here = [levels for readable, levels in per_role_fields if owner in readable]
            names = {f for levels in roles_here for (e, f) in levels if e == ent}
            for name in names:
                best = max((levels.get((ent, name), "editable") for levels in roles_here), key=_RANK.__getitem__)
                if best != "editable":
                    out.fields.setdefault(ent, {})[name] = best
        return out

    def _is_admin(self, role: str) -> bool:
        return any(self.app.roles[r].admin for r in [role, *self.enforcer.get_implicit_roles_for_user(role)] if r in self.app.roles)

    def role_closure(self, actor: Actor) -> set[str]:
        """The actor's roles and every role they inherit."""
        out = set(actor.roles)
        for r in actor.roles:
            out.update(self.enforcer.get_implicit_roles_for_user(r))
        return out

    def require(self, actor: Actor, entity: str, action: str) -> Grants:
        grants = self.grants(actor)
        if not grants.can(entity, action):
            ent = self.app.entities.get(entity)
            what = Msg.label(ent.label_plural, lower=True) if ent is not None else entity
            raise Forbidden(Msg("your roles (%(roles)s) may not %(action)s %(what)s", roles=", ".join(sorted(actor.roles)) or Msg("none"),
                                action=Msg(action), what=what))
        return grants

    # ------------------------------------------------------------------ row level
    def where(self, conn, actor: Actor, entity: str, action: str, walk: bool = False):
        """The SQL condition selecting the rows `actor` may `action`: None for every row,
        false() for none. One clause, with bound parameters. With `walk`, the owner columns are
        wrapped (`owner + 0`) so the database cannot pick their index: for a scope that matches many
        rows, walking the sort's index and filtering beats collecting every match and sorting them."""
        grants = self.grants(actor)
        if grants.unrestricted:
            return None
        rules = [g for g in grants.rules(entity, action) if g.scope != "none"]
        if not rules:
            return false()
        if any(g.scope == "all" for g in rules):
            return None
        key = (actor.id, actor.roles, entity, action, walk)
        known = self._clauses.setdefault(conn, {}) if conn is not None and actor.id is not None else {}
        if key not in known:  # built once per transaction: a write checks the scope several times, an import for every record
            parts = [self.rule_clause(conn, actor, self.app.entity(entity), g, walk) for g in rules]
            known[key] = parts[0] if len(parts) == 1 else or_(*parts)
        return known[key]

    def rule_clause(self, conn, actor: Actor, ent: Entity, g: Grant, walk: bool = False):
        t = self.schema.tables[ent.name]
        owners = [t.c.owner] + [t.c[f] for f in ent.co_owners]
        if walk:
            owners = [c + 0 for c in owners]
        if g.scope == "all":
            return None
        if g.scope == "none" or actor.id is None:
            return false()
        if g.scope == "own":
            return or_(*[c == actor.id for c in owners])
        if g.scope == "team":
            team = sorted(self.team(conn, actor.id))
            return or_(*[c.in_(bindparam(None, team, expanding=True, unique=True)) for c in owners])
        cols = {c.name: c for c in t.c} | {f"record.{c.name}": c for c in t.c}
        return to_sql(g.condition, cols, {"user": actor.context()})

    def owner_for_new(self, conn, actor: Actor) -> int | None:
        """Who owns a record the actor creates: the actor - or, for a portal user, whoever owns their party record (the
        customer's rep), so an order a customer places is the rep's to handle and in the rep's scope."""
        if actor.party is None:
            return actor.id
        portal = users.portal_of(self.app, actor.roles)
        if portal is None:
            return actor.id
        t = self.schema.tables[portal.party_entity]
        owner = conn.execute(select(t.c.owner).where(t.c.id == actor.party)).scalar()
        return owner if owner is not None else actor.id

    def team(self, conn, user_id: int) -> set[int]:
        """The user and everyone below them in the reporting line, at any depth, as it is now:
        read once per transaction (a write checks the scope several times; a list, twice)."""
        known = self._teams.setdefault(conn, {})
        if user_id not in known:
            if self._team_stmt is None:  # built once: the statement is the same for every user
                u = self.schema.user
                base = select(u.c.id).where(u.c.id == bindparam("user_id")).cte("team", recursive=True)
                below = base.union(select(u.c.id).where(u.c.manager_id == base.c.id))  # union, not union all: a loop ends
                self._team_stmt = select(below.c.id)
            known[user_id] = set(conn.execute(self._team_stmt, {"user_id": user_id}).scalars())
        return known[user_id]

    def ordered_by_owner_index(self, actor: Actor, entity: str, action: str, sort_name: str) -> bool:
        """Does an owner index (owner, default sort, id), or (owner, a calendar's or Gantt's start, id), give this scope's rows
        in this order? Only for a scope of one owner column and one user (`own`)."""
        ent = self.app.entity(entity)
        rules = [g for g in self.grants(actor).rules(entity, action) if g.scope != "none"]
        return (bool(rules) and all(g.scope == "own" for g in rules) and not ent.co_owners
                and (sort_name == ent.default_sort[0][0] or any(v.start == sort_name for v in ent.views.values())))

    def visible_fields(self, actor: Actor, ent: Entity) -> frozenset:
        """Names of the entity's fields this actor may see."""
        hidden = self.grants(actor).hidden(ent.name)
        return frozenset(n for n in ent.fields if n not in hidden)

    # ------------------------------------------------------------------ explanations
    def describe(self, actor: Actor, entity: str, action: str) -> str:
        """The scopes the actor's roles give for `action` on `entity`, in words."""
        rules = [g for g in self.grants(actor).rules(entity, action) if g.scope != "none"]
        words = {"own": "records they own", "team": "records owned by them or their team", "all": "every record"}
        return "; ".join(f"{words.get(g.scope, g.scope)} (role {g.role})" for g in rules) or "nothing"

    def explain(self, conn, actor: Actor, entity: str, action: str, record_id: int | None = None) -> dict:
        """May `actor` do `action` on `entity` (and on record `record_id`), and which rule decided."""
        grants = self.grants(actor)
        subject = f"{actor.username} ({', '.join(sorted(actor.roles)) or 'no roles'})"
        if grants.unrestricted:
            why = "the system acts without limits" if actor.via == "system" else "this app has no roles.yaml, so every user may do everything"
            return {"allowed": True, "rule": None, "where": None, "reason": why, "rules": []}
        rules = grants.rules(entity, action)
        if not rules or all(g.scope == "none" for g in rules):
            return {"allowed": False, "rule": rules[0].rule if rules else None, "where": rules[0].where if rules else None,
                    "reason": f"no role of {subject} grants {action} on {entity}", "rules": [_rule_dict(g, False) for g in rules]}
        checked = []
        decided = None
        t = self.schema.tables[entity]
        exists = record_id is None or conn.execute(select(t.c.id).where(t.c.id == record_id)).first() is not None
        for g in rules:
            if g.scope == "none":
                checked.append(_rule_dict(g, False))
                continue
            if record_id is None or not exists:
                matches = exists
            else:
                clause = self.rule_clause(conn, actor, self.app.entity(entity), g)
                stmt = select(t.c.id).where(t.c.id == record_id, *([clause] if clause is not None else []))
                matches = conn.execute(stmt).first() is not None
            checked.append(_rule_dict(g, matches))
            if matches and decided is None:
                decided = g
        if not exists:
            return {"allowed": False, "rule": None, "where": None, "reason": f"there is no {entity} with id {record_id}", "rules": checked}
        if decided is not None:
            on = f" record {record_id}" if record_id is not None else f" {entity} records within its scope"
            return {"allowed": True, "rule": decided.rule, "where": decided.where,
                    "reason": f"{subject} may {action}{on}: role {decided.role} grants {decided.scope}", "rules": checked}
        return {"allowed": False, "rule": None, "where": None,
                "reason": f"record {record_id} is outside every scope {subject} has for {action}: {self.describe(actor, entity, action)}",
                "rules": checked}

    def table(self, role: str) -> dict:
        """A role's effective permissions (its own and inherited): scope per entity and action, and field levels."""
        grants = self._expand(frozenset({role}))
        rows = []
        for ent in self.app.top_entities():
            row = {"entity": ent.name, "label": ent.label_plural}
            for a in ACTIONS:
                scopes = [g.scope for g in grants.rules(ent.name, a) if g.scope != "none"]
                row[a] = " or ".join(dict.fromkeys(scopes)) or "none"
            row["fields"] = dict(grants.fields.get(ent.name, {}))
            rows.append(row)
        return {"role": role, "admin": grants.admin, "inherits": list(self.enforcer.get_implicit_roles_for_user(role)), "entities": rows}


def _rule_dict(g: Grant, matches: bool) -> dict:
    return {"rule": g.rule, "role": g.role, "scope": g.scope, "where": g.where, "matches": matches}
