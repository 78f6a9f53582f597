"""Users, passwords (argon2) and API tokens (random, stored only as SHA-256 hashes).

The reporting line is each user's `manager_id`; roles are rows in sys_user_role. Tokens
are shown once when created; only their hash is kept, and revoking one stops it at once.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, select

from engine.core.actor import Actor
from engine.core.errors import BadRequest, ErrorCollector, Msg, NotFound, Unauthenticated, message_of
from engine.core.values import BadValue, coerce
from engine.metadata.model import Field, Label, Portal
from engine.storage.schema import Schema

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("not-a-real-password")


def use_cheap_hashing() -> None:
    """For test suites only: hash new passwords with argon2's smallest costs, so creating users
    does not dominate the tests' time. Hashes keep their parameters, so either kind verifies."""
    global _hasher, _DUMMY_HASH
    _hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    _DUMMY_HASH = _hasher.hash("not-a-real-password")


_CONTACT = {"email": Field("email", "email", Label.of("E-mail")), "phone": Field("phone", "phone", Label.of("Phone"))}
USERNAME_RX = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,62}$")


def check_contact(email: str | None, phone: str | None, errors: ErrorCollector) -> dict:
    """The e-mail address and phone number given (not None) as stored ("" is stored as none), each
    checked like a field of its type."""
    out = {}
    for name, value in (("email", email), ("phone", phone)):
        if value is None:
            continue
        try:
            out[name] = coerce(_CONTACT[name], value)
        except BadValue as exc:
            errors.add(name, message_of(exc))
    return out


def contacts(conn, schema: Schema, user_ids) -> dict[int, dict]:
    """What notifying these users needs: id -> e-mail, phone, language and channel preferences
    ({"email": False}: no e-mail; a channel not named is on)."""
    u = schema.user
    rows = conn.execute(select(u.c.id, u.c.email, u.c.phone, u.c.language, u.c.channels, u.c.full_name, u.c.username)
                        .where(u.c.id.in_(list(user_ids)))).mappings()
    return {r["id"]: {**r, "channels": dict(r["channels"] or {})} for r in rows}


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def create_user(conn, schema: Schema, username: str, password: str, roles: list[str], manager: str | None = None,
                full_name: str | None = None, language: str | None = None, attributes: dict | None = None,
                email: str | None = None, phone: str | None = None, party: int | None = None) -> int:
    errors = ErrorCollector()
    app = schema.app
    contact = check_contact(email, phone, errors)
    if app.roles:
        for role in roles or ():
            if role not in app.roles:
                errors.add("role", "there is no role '%(role)s'; roles: %(roles)s", role=role, roles=", ".join(app.roles))
    attributes = check_attributes(app, attributes or {}, errors)
    if not USERNAME_RX.match(username or ""):
        errors.add("username", "use 2-63 lowercase letters, digits, '_', '.' or '-'")
    if not password or len(password) < 4:
        errors.add("password", "at least 4 characters")
    if not roles:
        errors.add("role", "give at least one role")
    t = schema.user
    if conn.execute(select(t.c.id).where(t.c.username == username)).first():
        errors.add("username", "user '%(username)s' already exists", username=username)
    manager_id = None
    if manager:
        manager_id = conn.execute(select(t.c.id).where(t.c.username == manager)).scalar()
        if manager_id is None:
            errors.add("manager", "no user '%(username)s'", username=manager)
    party = check_party(conn, schema, roles, party, errors) if app.roles else None
    errors.raise_if_any()
    uid = conn.execute(t.insert().values(
        username=username, password_hash=hash_password(password), full_name=full_name or username, party=party,
        language=language, manager_id=manager_id, attributes=attributes or None, active=True, created_at=_now(), **contact,
    )).inserted_primary_key[0]
    for role in dict.fromkeys(roles):
        conn.execute(schema.user_role.insert().values(user_id=uid, role=role))
    return uid


def check_attributes(app, attributes: dict, errors: ErrorCollector) -> dict:
    """A user's attributes checked against the app's user_fields (roles.yaml)."""
    out = {}
    if not isinstance(attributes, dict):
        errors.add("attributes", "expected a mapping of user field names to values")
        return out
    for name, value in attributes.items():
        f = app.user_fields.get(name)
        if f is None:
            errors.add(name, "'%(name)s' is not a user field; user fields: %(fields)s", name=name,
                       fields=", ".join(app.user_fields) or Msg("none (declare them in roles.yaml)"))
        elif value in (None, ""):
            continue
        elif f.type == "select" and value not in {o.value for o in f.options}:
            errors.add(name, "'%(value)s' is not one of: %(options)s", value=value, options=", ".join(o.value for o in f.options))
        elif f.type in ("link", "integer") and (isinstance(value, bool) or not isinstance(value, int)):
            if f.entity:
                errors.add(name, "expected a whole number (the id of a %(entity)s)", entity=f.entity)
            else:
                errors.add(name, "expected a whole number")
        elif f.type == "boolean" and not isinstance(value, bool):
            errors.add(name, "expected true or false")
        elif f.type == "string" and (not isinstance(value, str) or len(value) > 200):
            errors.add(name, "expected text of up to 200 characters")
        else:
            out[name] = value
    return out


def _actor(conn, schema: Schema, row, via: str) -> Actor:
    roles = frozenset(r for (r,) in conn.execute(select(schema.user_role.c.role).where(schema.user_role.c.user_id == row.id)))
    return Actor(id=row.id, username=row.username, roles=roles, via=via, full_name=row.full_name or row.username,
                 language=row.language or "", time_zone=getattr(row, "time_zone", None) or "", attributes=dict(row.attributes or {}))


def credentials(conn, schema: Schema, username, lock: bool = False):
    """The user row a password is checked against, or None for an unknown name; `lock`: FOR UPDATE,
    so a password change waits for (or is seen by) the sign-in that holds it."""
    if not isinstance(username, str) or not username:
        return None
    t = schema.user
    stmt = select(t).where(t.c.username == username)
    return conn.execute(stmt.with_for_update() if lock else stmt).first()


def password_matches(row, password) -> bool:
    """The argon2 check of a password against a user row; the same work for an unknown or
    deactivated user (against a dummy hash), so timing does not tell them apart."""
    if row is None or not row.active:
        try:
            _hasher.verify(_DUMMY_HASH, password if isinstance(password, str) else "")
        except VerificationError:
            pass
        return False
    try:
        return _hasher.verify(row.password_hash, password if isinstance(password, str) else "")
    except (VerificationError, InvalidHashError):
        return False


def actor_of(conn, schema: Schema, row, via: str) -> Actor:
    """The Actor of a user row, with their roles."""
    return _actor(conn, schema, row, via)


def authenticate(conn, schema: Schema, username: str, password: str, via: str = "api") -> Actor:
    """Check a password; the same error for unknown users and wrong passwords."""
    row = credentials(conn, schema, username)
    if not password_matches(row, password):
        raise Unauthenticated("wrong username or password")
    return _actor(conn, schema, row, via)


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(conn, schema: Schema, username: str, label: str = "api") -> str:
    t = schema.user
    uid = conn.execute(select(t.c.id).where(t.c.username == username, t.c.active.is_(True))).scalar()
    if uid is None:
        raise NotFound(Msg("no active user '%(username)s'", username=username))
    token = "eng_" + secrets.token_urlsafe(32)
    conn.execute(schema.token.insert().values(user_id=uid, token_hash=_token_hash(token), label=label, created_at=_now()))
    return token


def actor_for_token(conn, schema: Schema, token: str, via: str = "api") -> Actor:
    if not token or len(token) > 200:
        raise Unauthenticated("the bearer token is missing or malformed")
    rows = conn.execute(_actor_by_token_stmt(schema), {"token_hash": _token_hash(token)}).all()
    if not rows:
        raise Unauthenticated("the bearer token is not valid (unknown, revoked, or its user is deactivated)")
    actor = _actor_of(rows, via)
    if actor.party is not None and not party_open(conn, schema, actor):
        raise Unauthenticated("the bearer token's user is a contact of a deactivated party")
    return actor


def _actor_by_token_stmt(schema: Schema):
    """Built once per schema: it runs on every API request. The token's user and roles in one query."""
    stmt = getattr(schema, "_actor_by_token", None)
    if stmt is None:
        tk, u, r = schema.token, schema.user, schema.user_role
        stmt = (select(u.c.id, u.c.username, u.c.full_name, u.c.language, u.c.time_zone, u.c.attributes, u.c.party, r.c.role)
                .select_from(tk.join(u, u.c.id == tk.c.user_id).outerjoin(r, r.c.user_id == u.c.id))
                .where(tk.c.token_hash == bindparam("token_hash"), tk.c.revoked_at.is_(None), u.c.active.is_(True)))
        schema._actor_by_token = stmt
    return stmt


def _actor_of(rows, via: str) -> Actor:
    """The Actor from rows of (user columns, one role each)."""
    first = rows[0]
    return Actor(id=first.id, username=first.username, roles=frozenset(x.role for x in rows if x.role), via=via,
                 full_name=first.full_name or first.username, language=first.language or "", time_zone=first.time_zone or "",
                 attributes=dict(first.attributes or {}), party=first.party)


def _actor_by_id_stmt(schema: Schema):
    """Built once per schema: it runs on every screen request."""
    stmt = getattr(schema, "_actor_by_id", None)
    if stmt is None:
        u, r = schema.user, schema.user_role
        stmt = (select(u.c.id, u.c.username, u.c.full_name, u.c.language, u.c.time_zone, u.c.attributes, u.c.party, r.c.role)
                .select_from(u.outerjoin(r, r.c.user_id == u.c.id))
                .where(u.c.id == bindparam("user_id"), u.c.active.is_(True)))
        schema._actor_by_id = stmt
    return stmt


def actor_for_id(conn, schema: Schema, user_id: int, via: str = "screen") -> Actor | None:
    """The active user with this id and their roles (one query), or None (unknown or deactivated)."""
    rows = conn.execute(_actor_by_id_stmt(schema), {"user_id": user_id}).all()
    actor = _actor_of(rows, via) if rows else None
    return None if actor is not None and actor.party is not None and not party_open(conn, schema, actor) else actor


def portal_of(app, roles) -> Portal | None:
    """The portal (party entity...) of a user with these roles, or None for a back-office user."""
    return next((app.roles[r].portal for r in sorted(roles) if r in app.roles and app.roles[r].portal is not None), None)


def party_roles(app, entity: str) -> list[str]:
    """The portal roles whose users are contacts of `entity`'s records (its customers' people), in the app's order."""
    return [r.name for r in app.roles.values() if r.portal is not None and r.portal.party_entity == entity]


def portal_home(app, portal: Portal) -> list[str]:
    """The entities a portal shows: its `home`, else every top-level entity linking to its party entity."""
    return list(portal.home) or [e.name for e in app.top_entities()
                                 if any(f.type == "link" and f.entity == portal.party_entity for f in e.fields.values())]


def party_open(conn, schema: Schema, actor: Actor) -> bool:
    """Whether a portal user's party record still exists and (with the portal's `party_active`) is active."""
    portal = portal_of(schema.app, actor.roles)
    if portal is None:
        return False
    t = schema.tables[portal.party_entity]
    stmt = select(t.c.id).where(t.c.id == actor.party)
    if portal.party_active:
        stmt = stmt.where(t.c[portal.party_active].is_(True))
    return conn.execute(stmt).first() is not None


def check_party(conn, schema: Schema, roles, party, errors: ErrorCollector) -> int | None:
    """The party of a user with these roles: a portal user's roles are all portal roles of one party entity and it names
    one of its records; a back-office user has none."""
    app = schema.app
    portals = {r: app.roles[r].portal for r in roles or () if r in app.roles}
    if not any(portals.values()):
        if party not in (None, ""):
            errors.add("party", "only a portal user is a contact of a party; these roles are back-office roles")
        return None
    if not all(portals.values()):
        errors.add("role", "a portal user has portal roles only: %(roles)s are back-office roles",
                   roles=", ".join(sorted(r for r, p in portals.items() if p is None)))
        return None
    kinds = {p.party_entity for p in portals.values()}
    if len(kinds) > 1:
        errors.add("role", "these portal roles are for different parties (%(kinds)s): give roles of one", kinds=", ".join(sorted(kinds)))
        return None
    kind = kinds.pop()
    if isinstance(party, str) and party.isdigit():
        party = int(party)
    if isinstance(party, bool) or not isinstance(party, int):
        errors.add("party", "a portal user needs their party: the id of a %(entity)s record", entity=kind)
        return None
    t = schema.tables[kind]
    if conn.execute(select(t.c.id).where(t.c.id == party)).first() is None:
        errors.add("party", "there is no %(entity)s with id %(id)s", entity=kind, id=party)
        return None
    return party


def list_tokens(conn, schema: Schema, user_id: int) -> list[dict]:
    """A user's tokens that still work: id, label, when created (never the token itself)."""
    t = schema.token
    rows = conn.execute(select(t.c.id, t.c.label, t.c.created_at).where(t.c.user_id == user_id, t.c.revoked_at.is_(None)).order_by(t.c.id))
    return [dict(r._mapping) for r in rows]


def revoke_token_id(conn, schema: Schema, user_id: int, token_id: int) -> None:
    """Revoke one of the user's own tokens."""
    t = schema.token
    res = conn.execute(t.update().where(t.c.id == token_id, t.c.user_id == user_id, t.c.revoked_at.is_(None)).values(revoked_at=_now()))
    if res.rowcount == 0:
        raise NotFound("no such active token of yours")


def revoke_all_tokens(conn, schema: Schema, user_id: int) -> int:
    """Revoke every working token of the user (a password change, a reset, a deactivation); how many."""
    t = schema.token
    return conn.execute(t.update().where(t.c.user_id == user_id, t.c.revoked_at.is_(None)).values(revoked_at=_now())).rowcount


def revoke_token(conn, schema: Schema, token: str) -> None:
    res = conn.execute(schema.token.update().where(schema.token.c.token_hash == _token_hash(token), schema.token.c.revoked_at.is_(None)).values(revoked_at=_now()))
    if res.rowcount == 0:
        raise BadRequest("no such active token")


def user_exists(conn, schema: Schema, ids: set[int]) -> set[int]:
    if not ids:
        return set()
    return {r for (r,) in conn.execute(select(schema.user.c.id).where(schema.user.c.id.in_(ids)))}


def search(conn, schema: Schema, text: str, limit: int = 10) -> list[tuple[int, str]]:
    """(id, name) of active users whose username or full name contains `text` (any case), for a picker."""
    u = schema.user
    stmt = select(u.c.id, u.c.username, u.c.full_name).where(u.c.active.is_(True))
    needle = (text or "").strip()[:100].replace("\x00", "")
    if needle:
        stmt = stmt.where(u.c.username.icontains(needle, autoescape=True) | u.c.full_name.icontains(needle, autoescape=True))
    rows = conn.execute(stmt.order_by(u.c.username).limit(limit))
    return [(i, f"{full} ({name})" if full and full != name else name) for i, name, full in rows]


def choices(conn, schema: Schema, limit: int = 500) -> list[tuple[int, str]]:
    """(id, name) of active users, for a transition input that names a person (a specialist)."""
    u = schema.user
    rows = conn.execute(select(u.c.id, u.c.username, u.c.full_name).where(u.c.active.is_(True)).order_by(u.c.username).limit(limit))
    return [(i, f"{full} ({name})" if full else name) for i, name, full in rows]
