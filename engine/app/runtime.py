"""An app ready to serve: checked metadata (the base and the admin changes laid over it), tables,
database, plugins and the record service.

Admin changes to forms live in the database, so every process serving one database must see a
saved change without a restart: `refresh()` asks the database for the newest version id (at most
once per `refresh_every` seconds) and, when it moved, loads the metadata again and swaps in a new
App, Schema and record service. A request already running finishes with the ones it started with.
"""
from __future__ import annotations

import logging
import threading
import time

from engine.access import sessions as user_sessions
from engine.access.accounts import Accounts
from engine.app.tables import schema_for
from engine.behaviours import defaults as builtins
from engine.comments import service as comments
from engine.connectors import deliveries
from engine.connectors.registry import INBOUND
from engine.connectors.registry import registry as connector_types
from engine.events.hooks import make_manager
from engine.files.attachments import Attachments, Cleanup
from engine.files.fields import FieldFiles
from engine.files.stores import blobs_for
from engine.invitations.service import Invitations, PortalAccounts
from engine.metadata.codes import MetadataInvalid, Problem
from engine.metadata.loader import load_app
from engine.metadata.model import App
from engine.public.submissions import PublicForms
from engine.records import Records
from engine.reports.dashboards import Dashboards
from engine.reports.service import Reports
from engine.storage import audit, form_versions, migrate
from engine.storage.db import Database
from engine.storage.schema import Schema

log = logging.getLogger("engine")


def plugins_of(app: App):
    """The app's plugin modules, then the built-in behaviours they have not replaced (engine.behaviours);
    MetadataInvalid for a plugin that does not load (E029), replaces no built-in behaviour (E047), or
    for a connector whose type neither the engine nor a plugin provides (E049)."""
    hooks = make_manager(app.plugins_dir)
    builtins.register(hooks)
    hooks.register(Cleanup(), name="builtin.files")  # a deleted record's attachments go with it
    hooks.register(FieldFiles(), name="builtin.file_fields")  # the files of file fields, kept and forgotten as records change
    hooks.register(comments.Cleanup(), name="builtin.comments")  # and its comments
    hooks.register(comments.Mentions(), name="builtin.mentions")  # people mentioned in a comment hear of it
    hooks.register(comments.Conversation(), name="builtin.conversation")  # a shared comment reaches the other side
    hooks.register(PortalAccounts(), name="builtin.portal_accounts")  # a transition's create_portal_user invites the record's contact
    types = connector_types(hooks)
    known = set(types) | set(INBOUND)
    unknown = [Problem("E049", c.file, *c.type_at, f"connector '{c.name}' is of type '{c.type}', which no adapter provides "
                       f"(types: {', '.join(sorted(known))})") for c in app.connectors.values() if c.type not in known]
    if unknown:
        raise MetadataInvalid(unknown)
    if any(c.triggers or c.channel for c in app.connectors.values()):  # outbound connectors: each matching event (or notice) becomes a delivery
        hooks.register(deliveries.Maker(types), name="builtin.connectors")
    return hooks


def load_with_overlay(app_dir: str, db: Database) -> tuple[App, form_versions.Stored]:
    """The app with the admin changes stored in `db` laid over it. The base is loaded alone first:
    its own problems stop everything (MetadataInvalid), whatever the database holds."""
    base = load_app(app_dir)
    with db.read() as conn:
        stored = form_versions.load(conn, schema_for(base))
    return (load_app(app_dir, stored.pieces) if stored.pieces else base), stored


class Runtime:
    refresh_every = 1.0  # seconds between two looks for a newer version of the admin changes
    queue = None  # the task queue (engine.app.tasks) when this process may hand work to one: imports run there

    def __init__(self, app_dir: str, db: Database, hooks, app: App, schema: Schema, stored: form_versions.Stored):
        self.app_dir = app_dir
        self.db = db
        self.hooks = hooks
        self.session_policy = user_sessions.Policy.from_env()  # how long browser sessions live (ENGINE_SESSION_*)
        self.accounts = Accounts(db, schema, lambda actor: self.records.permissions.grants(actor).admin, self.session_policy)
        self._lock = threading.Lock()
        self.checked_at = time.monotonic()
        self._install(app, schema, stored)

    @classmethod
    def open(cls, app_dir: str, db_url: str, schema_name: str | None = None, migrate_now: bool = True) -> "Runtime":
        """Load and check the metadata (MetadataInvalid on problems of the base), connect, and apply
        additive migrations (DestructiveChange if the metadata needs destructive ones)."""
        db = Database(db_url, schema=schema_name)
        app, stored = load_with_overlay(app_dir, db)
        hooks = plugins_of(app)
        schema = schema_for(app, stored.kept_columns(app))
        if migrate_now:
            migrate.ensure(db, schema)
            with db.write() as conn:
                audit.ensure_head(conn, schema)
        for c in app.overlay_conflicts:
            log.warning("admin change set aside: %s", c.format())
        for c in app.connectors.values():
            if not c.enabled:
                log.warning("connector %s is off: set %s where the app runs (%s)", c.name, ", ".join(c.missing), c.file)
        return cls(app_dir, db, hooks, app, schema, stored)

    def _install(self, app: App, schema: Schema, stored: form_versions.Stored) -> None:
        records = Records(app, schema, self.db, self.hooks)
        old = getattr(self, "records", None)
        if old is not None:
            records.clock, records.wake = old.clock, old.wake
        self.app, self.schema, self.records, self.stored = app, schema, records, stored
        self.files = Attachments(records, blobs_for(schema))
        self.comments = comments.Comments(records)
        self.invitations = Invitations(records)
        self.public_forms = PublicForms(records)
        self.reports = Reports(records)
        self.dashboards = Dashboards(self.reports)
        self.accounts.schema = schema

    def reload(self, stored: form_versions.Stored, app: App | None = None) -> None:
        """Put `stored` (and the App it gives, when the caller built it already) in force in this process."""
        with self._lock:
            app = app or (load_app(self.app_dir, stored.pieces) if stored.pieces else load_app(self.app_dir))
            self._install(app, schema_for(app, stored.kept_columns(app)), stored)

    def refresh(self, force: bool = False) -> bool:
        """Load the admin changes again if another process saved newer ones; True when it did."""
        now = time.monotonic()
        if not force and now - self.checked_at < self.refresh_every:
            return False
        self.checked_at = now
        try:
            with self.db.read() as conn:
                if not force and form_versions.head(conn, self.schema) == self.stored.head:
                    return False
                stored = form_versions.load(conn, self.schema)
            self.reload(stored)
        except Exception:  # the process keeps serving what it has; the next look tries again
            log.exception("could not load the newest admin changes to forms")
            return False
        return True

    def close(self) -> None:
        self.db.dispose()
