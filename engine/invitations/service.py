"""Invitations and password resets: a link with a random token (only its SHA-256 is kept), single-use, expiring,
sent by e-mail through the app's e-mail connector.

- invite: a colleague who may update a party record (a customer) makes a new contact of it - a portal user with
  the portal role of that party entity, their party, their address - and sends them a link to set a password
  (INVITE_DAYS). Without an e-mail connector, the link is handed back to show to the colleague once instead.
- reset: anyone asks for a link by user name or address (REQUEST_LIMIT per client address, and per user, within a
  quarter of an hour); the answer never says whether such a user exists; the link works for RESET_HOURS.
- redeem: the link's owner sets a password; the link is then used up, the user's other sessions end and their
  tokens are revoked. An expired, used or unknown link says so and that a new one is needed.

Each link sent is an event (`access_link`, on the party record for an invitation, audited) and its e-mail a delivery
of the outbox, like every e-mail of the engine; the token is in the e-mail only."""
from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import secrets

from sqlalchemy import func, or_, select

from engine.access import logins, sessions, users
from engine.core.actor import SYSTEM, Actor
from engine.core.errors import ErrorCollector, FieldError, Gone, Msg, ValidationFailed
from engine.core.i18n import localize
from engine.events.bus import emit
from engine.events.hooks import hookimpl
from engine.events.model import ACCESS_LINK, TRANSITIONED, Notice, Tx
from engine.storage import audit

INVITE_DAYS = 7
RESET_HOURS = 2
REQUEST_LIMIT = 5  # reset requests per client address, and per user, within logins.WINDOW


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Invitations:
    def __init__(self, records):
        self.records = records
        self.schema = records.schema
        self.db = records.db

    # ------------------------------------------------------------------ inviting a party's contact
    def contacts(self, actor: Actor, entity: str, record_id: int) -> list[dict]:
        """The party record's contacts (its portal users) with whether they have set a password yet; for those who may read it."""
        ent = self.records.entity(entity)
        u, r, link = self.schema.user, self.schema.user_role, self.schema.account_link
        roles = users.party_roles(self.schema.app, ent.name)
        with self.db.read() as conn:
            self.records.attached_to(conn, actor, ent, record_id)
            rows = conn.execute(select(u.c.id, u.c.username, u.c.full_name, u.c.email, u.c.active).distinct()
                                .select_from(u.join(r, r.c.user_id == u.c.id))
                                .where(u.c.party == record_id, r.c.role.in_(roles)).order_by(u.c.username)).all()
            waiting = {i for (i,) in conn.execute(select(link.c.user_id).where(
                link.c.user_id.in_([r.id for r in rows]), link.c.purpose == "invite", link.c.used_at.is_(None)))} if rows else set()
            joined = {i for (i,) in conn.execute(select(link.c.user_id).where(
                link.c.user_id.in_([r.id for r in rows]), link.c.purpose == "invite", link.c.used_at.is_not(None)))} if rows else set()
        return [{"id": r.id, "username": r.username, "name": r.full_name or r.username, "email": r.email, "active": r.active,
                 "joined": r.id in joined or r.id not in waiting} for r in rows]

    def invite(self, actor: Actor, entity: str, record_id: int, email, full_name, language, base_url: str) -> dict:
        """A new contact of the party record, and their invitation: {user_id, username, sent, link (None once e-mailed)}."""
        ent = self.records.entity(entity)
        role = next(iter(users.party_roles(self.records.app, ent.name)), None)
        errors = ErrorCollector()
        if role is None:
            errors.add("entity", "no portal role is for %(thing)s: declare one in roles.yaml (portal: {party_entity: %(entity)s})",
                       thing=Msg.label(ent.label_plural, lower=True), entity=ent.name)
        contact = users.check_contact(email if isinstance(email, str) else None, None, errors)
        if not contact.get("email"):
            errors.add("email", "give the address the invitation goes to")
        name = full_name.strip()[:140] if isinstance(full_name, str) else ""
        if not name:
            errors.add("full_name", "give the contact's name")
        lang = language if language in self.records.app.languages else self.records.app.default_language
        errors.raise_if_any()
        unusable = users.hash_password(secrets.token_urlsafe(32))  # the slow part, outside the transaction: no password works yet
        now = self.records.clock()
        with self.db.write() as conn:
            self.records.attached_to(conn, actor, ent, record_id, change=True)  # who may change the customer may invite its people
            made = self.invite_in(Tx(conn, self.records, actor, now, actor.language or "en"), ent, record_id, contact["email"], name, lang,
                                  base_url, unusable)
        return made

    def invite_in(self, tx: Tx, ent, record_id: int, email: str, name: str, lang: str, base_url: str, unusable: str | None = None) -> dict:
        """In the caller's transaction (who may is settled): the party record's new contact and their link by e-mail."""
        conn, actor, now = tx.conn, tx.actor, tx.now
        u = self.schema.user
        role = users.party_roles(self.records.app, ent.name)[0]
        if _contact(conn, self.schema, ent.name, record_id, email):
            errors = ErrorCollector()
            errors.add("email", "%(email)s is a contact of this %(thing)s already", email=email, thing=Msg.label(ent.label, lower=True))
            errors.raise_if_any()
        token = secrets.token_urlsafe(32)
        username = _free_username(conn, self.schema, email)
        uid = users.create_user(conn, self.schema, username, secrets.token_urlsafe(16), [role], full_name=name, language=lang,
                                email=email, party=record_id)
        conn.execute(u.update().where(u.c.id == uid).values(password_hash=unusable or users.hash_password(secrets.token_urlsafe(32))))
        conn.execute(self.schema.account_link.insert().values(token_hash=_hash(token), user_id=uid, purpose="invite", created_at=now,
                                                              expires_at=now + dt.timedelta(days=INVITE_DAYS), created_by=actor.id))
        event = emit(tx, ACCESS_LINK, ent.name, record_id, {"user": username, "purpose": "invite"}, "invite")
        link = f"{base_url.rstrip('/')}/welcome/{token}"
        title = self.records.titles_in(conn, SYSTEM, ent.name, {record_id}).get(record_id, "")
        subject = localize(Msg("Your access to %(app)s", app=Msg.label(self.records.app.label)), lang)
        text = localize(Msg("Hello %(name)s, %(who)s has given you access to %(app)s for %(party)s, where you follow your orders "
                            "and write to us. Your user name is %(username)s. Set your password here (the link works once, for "
                            "%(days)s days): %(link)s", name=name, who=actor.full_name or actor.username, app=Msg.label(self.records.app.label),
                            party=title, username=username, days=INVITE_DAYS, link=link), lang)
        sent = self._send(tx, Notice("email", event.id, uid, email, name, lang, subject, text, ent.name, record_id, "invitation"))
        return {"user_id": uid, "username": username, "sent": sent, "link": None if sent else link}

    # ------------------------------------------------------------------ a forgotten password
    def request_reset(self, who, address: str | None, base_url: str) -> None:
        """A reset link to the user named (user name or e-mail address), if there is one with an address; the same answer
        either way. TooManyRequests after REQUEST_LIMIT requests from one address, or for one user."""
        who = who.strip()[:254] if isinstance(who, str) else ""
        now = self.records.clock()
        u = self.schema.user
        with self.db.write() as conn:
            if address:
                logins.count_request(conn, self.schema, "reset-addr", address, REQUEST_LIMIT, now)
        if not who:
            return
        token = secrets.token_urlsafe(32)
        with self.db.write() as conn:
            row = conn.execute(select(u.c.id, u.c.username, u.c.full_name, u.c.email, u.c.language, u.c.party).where(
                u.c.active.is_(True), u.c.email.is_not(None),
                or_(u.c.username == who.lower(), func.lower(u.c.email) == who.lower()))).first()
            if row is None:
                return
            logins.count_request(conn, self.schema, "reset-user", str(row.id), REQUEST_LIMIT, now)
            conn.execute(self.schema.account_link.insert().values(token_hash=_hash(token), user_id=row.id, purpose="reset", created_at=now,
                                                                  expires_at=now + dt.timedelta(hours=RESET_HOURS)))
            actor = Actor(row.id, row.username, frozenset(), via="screen", full_name=row.full_name or row.username, party=row.party)
            tx = Tx(conn, self.records, actor, now, row.language or "en")
            event = emit(tx, ACCESS_LINK, "", None, {"user": row.username, "purpose": "reset"})
            lang = row.language if row.language in self.records.app.languages else self.records.app.default_language
            link = f"{base_url.rstrip('/')}/password/reset/{token}"
            subject = localize(Msg("Set a new password for %(app)s", app=Msg.label(self.records.app.label)), lang)
            text = localize(Msg("Hello %(name)s, someone (we hope you) asked to set a new password for your user %(username)s. The link "
                                "works once, for %(hours)s hours: %(link)s - if it was not you, ignore this e-mail; your password stays "
                                "as it is.", name=row.full_name or row.username, username=row.username, hours=RESET_HOURS, link=link), lang)
            self._send(tx, Notice("email", event.id, row.id, row.email, row.full_name or row.username, lang, subject, text, "", None, "password_reset"))
            audit.append(conn, self.schema, actor, "sys_user", row.id, "password_reset_asked", {"address": address})

    # ------------------------------------------------------------------ following a link
    def check(self, token) -> dict:
        """{user_id, username, purpose} of a link that still works; Gone (410) for one expired, used or unknown."""
        with self.db.read() as conn:
            return self._valid(conn, token)

    def redeem(self, token, password) -> dict:
        """The link's user gets this password (the link is used up, their sessions end, their tokens are revoked)."""
        errors = ErrorCollector()
        if not isinstance(password, str) or len(password) < 8:
            errors.add("password", "use at least 8 characters")
        elif len(password) > 200:
            errors.add("password", "use at most 200 characters")
        errors.raise_if_any()
        new_hash = users.hash_password(password)
        link, u = self.schema.account_link, self.schema.user
        now = self.records.clock()
        with self.db.write() as conn:
            found = self._valid(conn, token)
            if conn.execute(link.update().where(link.c.id == found["link_id"], link.c.used_at.is_(None)).values(used_at=now)).rowcount != 1:
                raise Gone(Msg("this link was used already; ask for a new one"))  # used by a parallel request a moment ago
            conn.execute(u.update().where(u.c.id == found["user_id"]).values(password_hash=new_hash))
            conn.execute(link.update().where(link.c.user_id == found["user_id"], link.c.used_at.is_(None)).values(used_at=now))  # older ones too
            ended = sessions.end_all(conn, self.schema, found["user_id"], sessions.PASSWORD_RESET)
            revoked = users.revoke_all_tokens(conn, self.schema, found["user_id"])
            who = Actor(found["user_id"], found["username"], frozenset(), via="screen")
            audit.append(conn, self.schema, who, "sys_user", found["user_id"], "password_set",
                         {"link": found["purpose"], "sessions_ended": ended, "tokens_revoked": revoked})
        return found

    def _valid(self, conn, token) -> dict:
        link, u = self.schema.account_link, self.schema.user
        row = None
        if isinstance(token, str) and 20 <= len(token) <= 100:
            row = conn.execute(select(link.c.id, link.c.user_id, link.c.purpose, link.c.expires_at, link.c.used_at, u.c.username, u.c.active)
                               .select_from(link.join(u, u.c.id == link.c.user_id)).where(link.c.token_hash == _hash(token))).first()
        if row is None or not row.active:
            raise Gone(Msg("this link is not valid (mistyped, or its user was deactivated); ask for a new one"))
        if row.used_at is not None:
            raise Gone(Msg("this link was used already; ask for a new one"))
        if row.expires_at <= self.records.clock():
            raise Gone(Msg("this link has expired; ask for a new one"))
        return {"link_id": row.id, "user_id": row.user_id, "username": row.username, "purpose": row.purpose}

    def _send(self, tx: Tx, notice: Notice) -> bool:
        """The e-mail, as a delivery of the app's e-mail connector; False when none carries e-mail now."""
        return any(self.records.plugin_manager.hook.send_notice(notice=notice, tx=tx))


def _contact(conn, schema, entity: str, record_id: int, email: str) -> bool:
    """Whether the party record has a contact with this address already (a portal user of its party entity's roles)."""
    u, r = schema.user, schema.user_role
    return conn.execute(select(u.c.id).select_from(u.join(r, r.c.user_id == u.c.id)).where(
        func.lower(u.c.email) == email.lower(), u.c.party == record_id, r.c.role.in_(users.party_roles(schema.app, entity))).limit(1)).first() is not None



def _free_username(conn, schema, email: str) -> str:
    """A user name from the address's local part (lowercase letters, digits, . _ -), with a number when it is taken."""
    base = re.sub(r"[^a-z0-9._-]", "", email.split("@")[0].lower())[:50].strip("._-")
    base = base if len(base) >= 2 else "contact"
    u = schema.user
    taken = {n for (n,) in conn.execute(select(u.c.username).where(u.c.username.like(f"{base}%")))}
    if base not in taken:
        return base
    return next(f"{base}{i}" for i in range(2, 10_000) if f"{base}{i}" not in taken)


def public_url() -> str:
    """Where the app is reached from outside, for links in e-mails written without a request (a workflow step):
    ENGINE_PUBLIC_URL, else the address `run.py` serves by default."""
    return os.environ.get("ENGINE_PUBLIC_URL", "").strip() or "http://127.0.0.1:8000"


class PortalAccounts:
    """A transition with `create_portal_user` (approving a supplier's registration) makes the record's contact a portal
    user of it and e-mails them their invitation, in the transition's transaction: without an address on the record
    the step is refused, saying which field to fill; a contact already made is not made twice."""

    @hookimpl
    def on_event(self, event, tx):
        if event.type != TRANSITIONED or event.record is None:
            return
        records = tx.records
        wf = records.workflow_of(event.entity)
        t = wf.transitions.get(event.data["transition"]["name"]) if wf is not None else None
        if t is None or t.portal_user is None:
            return
        ent = records.app.entity(event.entity)
        email_field, name_field, lang_field = t.portal_user
        email = event.record.get(email_field)
        if not email:
            raise ValidationFailed([FieldError(email_field, Msg("%(field)s is needed to give the %(thing)s a portal account: fill it first",
                                                                field=Msg.label(ent.fields[email_field].label),
                                                                thing=Msg.label(ent.label, lower=True)))])
        if _contact(tx.conn, records.schema, ent.name, event.record_id, email):
            return
        lang = event.record.get(lang_field) if lang_field else None
        lang = lang if lang in records.app.languages else records.app.default_language
        name = str(event.record.get(name_field) or email)[:140]
        Invitations(records).invite_in(tx, ent, event.record_id, email, name, lang, public_url())
