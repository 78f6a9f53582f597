"""The tables of users and their access: accounts, roles, API tokens, browser sessions, failed sign-ins, saved list filters.

Declared here, by the package that owns them, and put together with the app's entity tables
into one Schema by engine.app.tables."""
from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Boolean, Column, Index, Integer, MetaData, PrimaryKeyConstraint, String, Table, Text, UniqueConstraint

from engine.storage.schema import ID, UtcDateTime


def declare(md: MetaData) -> dict[str, Table]:
    out: dict[str, Table] = {}
    out["user"] = Table(
        "sys_user", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("username", String(64), nullable=False, unique=True),
        Column("password_hash", String(255), nullable=False),
        Column("full_name", String(140)),
        Column("email", String(254)),
        Column("phone", String(32)),
        Column("channels", JSON),  # notification preferences: {"email": false} turns e-mail off; a channel not named is on
        Column("language", String(8)),
        Column("time_zone", String(64)),  # an IANA zone (Asia/Shanghai) the screens show times in; empty: the app's
        Column("manager_id", BigInteger, index=True),
        Column("attributes", JSON),  # values of roles.yaml's user_fields, e.g. {"region": "east"}
        Column("party", BigInteger, index=True),  # a portal user's party record (its entity: the portal role's party_entity)
        Column("active", Boolean, nullable=False, default=True),
        Column("created_at", UtcDateTime, nullable=False),
        Column("session_epoch", Integer),  # no longer read (sessions live in sys_session); kept so older databases migrate without a drop
    )
    out["user_role"] = Table(
        "sys_user_role", md,
        Column("user_id", BigInteger, primary_key=True),
        Column("role", String(64), primary_key=True),
    )
    out["token"] = Table(
        "sys_api_token", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("user_id", BigInteger, nullable=False, index=True),
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("label", String(140)),
        Column("created_at", UtcDateTime, nullable=False),
        Column("last_used_at", UtcDateTime),
        Column("revoked_at", UtcDateTime),
    )
    out["session"] = Table(  # browser sessions (engine/access/sessions.py): the cookie carries a token, this row its hash
        "sys_session", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("token_hash", String(64), nullable=False, unique=True),
        Column("user_id", BigInteger, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        Column("last_seen_at", UtcDateTime, nullable=False),
        Column("ended_at", UtcDateTime),
        Column("ended_reason", String(32)),  # signed_out, ended_by_user, password_changed, password_reset, deactivated
        Column("address", String(64)),
        Column("user_agent", String(300)),
        Index("ix_sys_session_user", "user_id", "ended_at"),
    )
    out["account_link"] = Table(  # single-use links by e-mail: an invitation to set a first password, a password reset
        "sys_account_link", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("token_hash", String(64), nullable=False, unique=True),  # SHA-256 of the link's token; the token itself is never kept
        Column("user_id", BigInteger, nullable=False, index=True),
        Column("purpose", String(16), nullable=False),  # invite, reset
        Column("created_at", UtcDateTime, nullable=False),
        Column("expires_at", UtcDateTime, nullable=False),
        Column("used_at", UtcDateTime),
        Column("created_by", BigInteger),
        sqlite_autoincrement=True,
    )
    out["login_attempt"] = Table(  # failed sign-ins per username and per client address, for throttling
        "sys_login_attempt", md,
        Column("key", String(200), primary_key=True),
        Column("failures", Integer, nullable=False),
        Column("last_failure", UtcDateTime, nullable=False),
        Column("locked_until", UtcDateTime),
    )
    out["saved_filter"] = Table(
        "sys_saved_filter", md,
        Column("id", ID, primary_key=True, autoincrement=True),
        Column("user_id", BigInteger, nullable=False),
        Column("entity", String(64), nullable=False),
        Column("name", String(80), nullable=False),
        Column("query", Text, nullable=False),
        Column("created_at", UtcDateTime, nullable=False),
        UniqueConstraint("user_id", "entity", "name", name="uq_sys_saved_filter_name"),
    )
    out["list_layout"] = Table(  # the columns a user chose for a list (engine.access.preferences)
        "sys_list_layout", md,
        Column("user_id", BigInteger, nullable=False),
        Column("entity", String(64), nullable=False),
        Column("columns", JSON, nullable=False),
        Column("updated_at", UtcDateTime, nullable=False),
        PrimaryKeyConstraint("user_id", "entity", name="pk_sys_list_layout"),
    )
    return out
