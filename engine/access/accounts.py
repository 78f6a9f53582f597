"""User administration: create users, change their roles, manager and attributes, deactivate
them, reset passwords; and what every user may do to their own account (password, language, the
e-mail address and phone number they are told at, and which channels they want to hear by).

Only users with an admin role (roles.yaml `admin: true`, or any user of an app without roles)
may administer others. Every change is an audit entry on `sys_user` with old and new values.
A password change or reset, and a deactivation, end the user's browser sessions on every app
process at once and revoke their API tokens; users see their own live sessions and may end them.
"""
from __future__ import annotations

import functools

from sqlalchemy import select

from engine.access import logins, users
from engine.access import sessions as user_sessions
from engine.core.actor import Actor
from engine.core.errors import ErrorCollector, Forbidden, Msg, NotFound, Unauthenticated
from engine.storage import audit
from engine.storage.schema import Schema

OPT_OUT_CHANNELS = ("email", "sms")  # the channels a user may turn off (in-app notices always stay in the bell)


class Accounts:
    def __init__(self, db, schema: Schema, is_admin, session_policy: user_sessions.Policy | None = None):
        """`is_admin(actor) -> bool` comes from the permissions (roles.yaml)."""
        self.db = db
        self.schema = schema
        self.is_admin = is_admin
        self.session_policy = session_policy or user_sessions.Policy()

    def require_admin(self, actor: Actor) -> None:
        if not self.is_admin(actor):
            raise Forbidden("only administrators may manage users")

    # ------------------------------------------------------------------ reading
    def list(self, actor: Actor) -> list[dict]:
        self.require_admin(actor)
        with self.db.read() as conn:
            return self._rows(conn)

    def get(self, actor: Actor, user_id: int) -> dict:
        self.require_admin(actor)
        with self.db.read() as conn:
            rows = self._rows(conn, user_id)
        if not rows:
            raise NotFound(Msg("no user with id %(id)s", id=user_id))
        return rows[0]

    def _rows(self, conn, user_id: int | None = None) -> list[dict]:
        u, r = self.schema.user, self.schema.user_role
        boss = u.alias("boss")
        stmt = (select(u.c.id, u.c.username, u.c.full_name, u.c.email, u.c.phone, u.c.language, u.c.manager_id, u.c.attributes, u.c.active,
                       u.c.party, u.c.created_at, boss.c.username.label("manager"))
                .select_from(u.outerjoin(boss, boss.c.id == u.c.manager_id)).order_by(u.c.username))
        if user_id is not None:
            stmt = stmt.where(u.c.id == user_id)
        out = [dict(row._mapping) for row in conn.execute(stmt)]
        ids = [row["id"] for row in out]
        roles: dict[int, list] = {}
        if ids:
            for uid, role in conn.execute(select(r.c.user_id, r.c.role).where(r.c.user_id.in_(ids)).order_by(r.c.role)):
                roles.setdefault(uid, []).append(role)
        for row in out:
            row["roles"] = roles.get(row["id"], [])
            row["attributes"] = dict(row["attributes"] or {})
        return out

    # ------------------------------------------------------------------ administering
    def create(self, actor: Actor, username: str, password: str, roles: list[str], manager: str | None = None,
               full_name: str | None = None, attributes: dict | None = None, language: str | None = None,
               email: str | None = None, phone: str | None = None, party: int | None = None) -> int:
        self.require_admin(actor)
        with self.db.write() as conn:
            uid = users.create_user(conn, self.schema, username, password, roles, manager=manager or None, full_name=full_name,
                                    language=language or None, attributes=attributes, email=email, phone=phone, party=party)
            audit.append(conn, self.schema, actor, "sys_user", uid, "user_created",
                         {"username": username, "roles": sorted(set(roles)), "manager": manager or None, "attributes": attributes or {},
                          "email": email or None, "phone": phone or None, **({"party": party} if party is not None else {})})
        return uid

    def update(self, actor: Actor, user_id: int, *, full_name: str | None = None, roles: list[str] | None = None,
               manager: str | None = None, attributes: dict | None = None, active: bool | None = None,
               email: str | None = None, phone: str | None = None, party: int | None = None) -> None:
        """Change what is given; `manager=""` removes the manager, `email=""` and `phone=""` the address and number; a portal
        user's roles and party are checked together (portal roles of one party entity, and one of its records)."""
        self.require_admin(actor)
        u, r = self.schema.user, self.schema.user_role
        app = self.schema.app
        with self.db.write() as conn:
            before = self._rows(conn, user_id)
            if not before:
                raise NotFound(Msg("no user with id %(id)s", id=user_id))
            old = before[0]
            errors = ErrorCollector()
            values: dict = {}
            if full_name is not None:
                values["full_name"] = full_name.strip()[:140] or old["username"]
            if manager is not None:
                values["manager_id"] = self._manager_id(conn, user_id, manager, errors)
            if attributes is not None:
                values["attributes"] = users.check_attributes(app, attributes, errors) or None
            if roles is not None:
                if not roles:
                    errors.add("role", "give at least one role")
                for role in roles:
                    if app.roles and role not in app.roles:
                        errors.add("role", "there is no role '%(role)s'; roles: %(roles)s", role=role, roles=", ".join(app.roles))
            if roles is not None or party is not None:
                values["party"] = users.check_party(conn, self.schema, roles if roles is not None else old["roles"],
                                                    party if party is not None else old["party"], errors)
            if active is False and user_id == actor.id:
                errors.add("active", "you cannot deactivate yourself; ask another administrator")
            if active is not None:
                values["active"] = active
            values.update(users.check_contact(email, phone, errors))
            errors.raise_if_any()
            if values:
                conn.execute(u.update().where(u.c.id == user_id).values(**values))
            if roles is not None and sorted(set(roles)) != old["roles"]:
                conn.execute(r.delete().where(r.c.user_id == user_id))
                for role in sorted(set(roles)):
                    conn.execute(r.insert().values(user_id=user_id, role=role))
            if active is False:  # refused for inactive users anyway; ending them keeps it so if the user is reactivated
                user_sessions.end_all(conn, self.schema, user_id, user_sessions.DEACTIVATED)
                users.revoke_all_tokens(conn, self.schema, user_id)
            new = self._rows(conn, user_id)[0]
            changes = {k: [old[k], new[k]] for k in ("full_name", "roles", "manager", "attributes", "active", "email", "phone", "party")
                       if old[k] != new[k]}
            if changes:
                action = "permissions_changed" if {"roles", "manager", "attributes", "party"} & set(changes) else "user_changed"
                audit.append(conn, self.schema, actor, "sys_user", user_id, action, {"fields": changes})

    def _manager_id(self, conn, user_id: int, manager: str, errors: ErrorCollector):
        if not manager:
            return None
        u = self.schema.user
        mid = conn.execute(select(u.c.id).where(u.c.username == manager)).scalar()
        if mid is None:
            errors.add("manager", "no user '%(username)s'", username=manager)
            return None
        # the new manager must not be the user or anyone below them: the reporting line would loop
        below = select(u.c.id).where(u.c.id == user_id).cte("below", recursive=True)
        below = below.union(select(u.c.id).where(u.c.manager_id == below.c.id))
        if mid in set(conn.execute(select(below.c.id)).scalars()):
            errors.add("manager", "'%(username)s' reports to this user (or is this user); the reporting line would go in a circle", username=manager)
        return mid

    def reset_password(self, actor: Actor, user_id: int, password: str) -> None:
        self.require_admin(actor)
        errors = ErrorCollector()
        _check_password(password, errors)
        errors.raise_if_any()
        u = self.schema.user
        new_hash = users.hash_password(password)  # the slow part, before the transaction
        with self.db.write() as conn:
            if conn.execute(u.update().where(u.c.id == user_id).values(password_hash=new_hash)).rowcount != 1:
                raise NotFound(Msg("no user with id %(id)s", id=user_id))
            ended = user_sessions.end_all(conn, self.schema, user_id, user_sessions.PASSWORD_RESET)
            revoked = users.revoke_all_tokens(conn, self.schema, user_id)
            audit.append(conn, self.schema, actor, "sys_user", user_id, "password_reset", {"sessions_ended": ended, "tokens_revoked": revoked})

    # ------------------------------------------------------------------ one's own account
    def change_password(self, actor: Actor, current: str, new: str, address: str | None = None) -> None:
        """Every session of the user ends (the screen then starts a new one for the device that
        changed it) and every API token is revoked. The current password is checked like a sign-in:
        wrong guesses count towards the lock of the username and of the client `address`
        (TooManyRequests once locked), so a stolen session cannot guess it at leisure."""
        errors = ErrorCollector()
        _check_password(new, errors)
        errors.raise_if_any()
        u = self.schema.user
        new_hash = users.hash_password(new)  # the slow part, before any transaction

        def change(conn, who: Actor) -> None:  # in the transaction that checked the current password
            conn.execute(u.update().where(u.c.id == who.id).values(password_hash=new_hash))
            ended = user_sessions.end_all(conn, self.schema, who.id, user_sessions.PASSWORD_CHANGED)
            revoked = users.revoke_all_tokens(conn, self.schema, who.id)
            audit.append(conn, self.schema, actor, "sys_user", who.id, "password_changed", {"sessions_ended": ended, "tokens_revoked": revoked})
        try:
            logins.sign_in(self.db, self.schema, actor.username, current, address, actor.via, change, purpose="password change")
        except Unauthenticated:
            errors.add("current_password", "this is not your current password")
            errors.raise_if_any()

    def sessions(self, actor: Actor) -> list[dict]:
        """The actor's own live browser sessions, most recently used first, with a device name."""
        with self.db.read() as conn:
            rows = user_sessions.active(conn, self.schema, actor.id, self.session_policy)
        return [{**r, "device": user_sessions.device(r["user_agent"])} for r in rows]

    def end_sessions(self, actor: Actor, session_id: int | None = None, keep: int | None = None) -> int:
        """End one of the actor's own sessions (`session_id`), or all of them but `keep` (this device)."""
        with self.db.write() as conn:
            if session_id is not None:
                if not user_sessions.end_one(conn, self.schema, actor.id, session_id):
                    raise NotFound("no such live session of yours; it may have ended already")
                ended = 1
            else:
                ended = user_sessions.end_all(conn, self.schema, actor.id, user_sessions.ENDED_BY_USER, keep=keep)
            if ended:
                audit.append(conn, self.schema, actor, "sys_user", actor.id, "sessions_ended", {"count": ended, "session": session_id})
        return ended

    def tokens(self, actor: Actor) -> list[dict]:
        with self.db.read() as conn:
            return users.list_tokens(conn, self.schema, actor.id)

    def create_token(self, actor: Actor, label: str) -> str:
        """A new API token for oneself, returned once."""
        with self.db.write() as conn:
            token = users.create_token(conn, self.schema, actor.username, label=(label or "api").strip()[:140] or "api")
            audit.append(conn, self.schema, actor, "sys_user", actor.id, "token_created", {"label": label[:140]})
            return token

    def revoke_token(self, actor: Actor, token_id: int | None = None, token: str | None = None) -> None:
        """Revoke one of one's own tokens, by its id (account page) or by the token itself (API)."""
        with self.db.write() as conn:
            if token is not None:
                users.revoke_token(conn, self.schema, token)
            else:
                users.revoke_token_id(conn, self.schema, actor.id, token_id)
            audit.append(conn, self.schema, actor, "sys_user", actor.id, "token_revoked", {"token": token_id})

    def notice_settings(self, actor: Actor) -> dict:
        """Where the actor is told (e-mail, phone) and which channels they have turned off."""
        with self.db.read() as conn:
            row = users.contacts(conn, self.schema, [actor.id]).get(actor.id)
        if row is None:
            raise NotFound("your account is gone")
        return {"email": row["email"], "phone": row["phone"], "channels": {c: row["channels"].get(c, True) for c in OPT_OUT_CHANNELS}}

    def set_notice_settings(self, actor: Actor, email: str, phone: str, channels: dict) -> None:
        """Change one's own e-mail address, phone number and channel preferences (audited). `channels`:
        {"email": bool, "sms": bool}: False turns that channel off; a channel not named stays as it was."""
        errors = ErrorCollector()
        values = users.check_contact(email, phone, errors)
        for c in channels:
            if c not in OPT_OUT_CHANNELS:
                errors.add("channels", "'%(channel)s' is not a channel you can turn off; these are: %(channels)s", channel=c,
                           channels=", ".join(OPT_OUT_CHANNELS))
        errors.raise_if_any()
        u = self.schema.user
        with self.db.write() as conn:
            old = conn.execute(select(u.c.email, u.c.phone, u.c.channels).where(u.c.id == actor.id)).mappings().first()
            if old is None:
                raise NotFound("your account is gone")
            wanted = {**dict(old["channels"] or {}), **{c: bool(v) for c, v in channels.items()}}
            new = {**values, "channels": {c: False for c, v in wanted.items() if not v} or None}
            changes = {k: [old[k], new[k]] for k in new if (old[k] or None) != (new[k] or None)}
            if changes:
                conn.execute(u.update().where(u.c.id == actor.id).values(**new))
                audit.append(conn, self.schema, actor, "sys_user", actor.id, "user_changed", {"fields": changes})

    def set_language(self, actor: Actor, language: str) -> None:
        app = self.schema.app
        if language and language not in app.languages:
            errors = ErrorCollector()
            errors.add("language", "choose one of: %(languages)s", languages=", ".join(app.languages))
            errors.raise_if_any()
        u = self.schema.user
        with self.db.write() as conn:
            old = conn.execute(select(u.c.language).where(u.c.id == actor.id)).scalar()
            if (old or None) == (language or None):
                return
            conn.execute(u.update().where(u.c.id == actor.id).values(language=language or None))
            audit.append(conn, self.schema, actor, "sys_user", actor.id, "user_changed", {"fields": {"language": [old, language or None]}})


    def set_time_zone(self, actor: Actor, zone: str) -> None:
        """The time zone the screens show this user's times in (an IANA name); empty: the app's."""
        zone = (zone or "").strip()
        if zone and zone not in time_zones():
            errors = ErrorCollector()
            errors.add("time_zone", "choose a time zone from the list, e.g. Asia/Shanghai or Europe/Moscow")
            errors.raise_if_any()
        u = self.schema.user
        with self.db.write() as conn:
            old = conn.execute(select(u.c.time_zone).where(u.c.id == actor.id)).scalar()
            if (old or None) == (zone or None):
                return
            conn.execute(u.update().where(u.c.id == actor.id).values(time_zone=zone or None))
            audit.append(conn, self.schema, actor, "sys_user", actor.id, "user_changed", {"fields": {"time_zone": [old, zone or None]}})


@functools.cache
def time_zones() -> frozenset:
    """The IANA time zones this machine knows (zoneinfo, with the tzdata package as a fallback)."""
    import zoneinfo
    return frozenset(z for z in zoneinfo.available_timezones() if "/" in z and not z.startswith(("Etc/", "SystemV/", "posix/", "right/")))


def _check_password(password, errors: ErrorCollector) -> None:
    if not isinstance(password, str) or len(password) < 8:
        errors.add("password", "use at least 8 characters")
    elif len(password) > 200:
        errors.add("password", "use at most 200 characters")
