"""An app ready to serve: checked metadata, tables, database, plugins and the record service."""
from __future__ import annotations

from dataclasses import dataclass

from engine import audit, migrate
from engine.accounts import Accounts
from engine.db import Database
from engine.metadata.loader import load_app
from engine.metadata.model import App
from engine.plugins import make_manager
from engine.records import Records
from engine.schema import Schema


@dataclass
class Runtime:
    app: App
    schema: Schema
    db: Database
    records: Records
    accounts: Accounts

    @classmethod
    def open(cls, app_dir: str, db_url: str, schema_name: str | None = None, migrate_now: bool = True) -> "Runtime":
        """Load and check the metadata (MetadataInvalid on problems), connect, and apply additive
        migrations (DestructiveChange if the metadata needs destructive ones)."""
        app = load_app(app_dir)
        hooks = make_manager(app.plugins_dir)
        schema = Schema(app)
        db = Database(db_url, schema=schema_name)
        if migrate_now:
            migrate.ensure(db, schema)
            with db.write() as conn:
                audit.ensure_head(conn, schema)
        records = Records(app, schema, db, hooks)
        return cls(app, schema, db, records, Accounts(db, schema, lambda actor: records.permissions.grants(actor).admin))

    def close(self) -> None:
        self.db.dispose()
