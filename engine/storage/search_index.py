"""Substring-search indexes for quick search, which Alembic's autogenerate does not manage.

SQLite: an FTS5 table with the trigram tokenizer over each entity's `search_text`, kept in
step by triggers. PostgreSQL: a pg_trgm GIN index on `search_text`. Both answer
`search_text LIKE '%needle%'` from the index for needles of 3+ characters, in any script.
Identifiers come from checked metadata names and are quoted by the dialect; values are bound.
"""
from __future__ import annotations

from sqlalchemy import inspect, text

from engine.storage.schema import Schema

MIN_INDEXED = 3


def fts_name(table: str) -> str:
    return f"{table}__search"


def trgm_index_name(table: str) -> str:
    return f"ix_{table}_search_trgm"[:63]


def ensure(conn, schema: Schema) -> list[str]:
    """Create missing search indexes; returns what was created."""
    created = []
    q = conn.dialect.identifier_preparer.quote
    tables = [t for t in schema.tables.values() if "search_text" in t.c]
    if conn.dialect.name == "sqlite":
        existing = set(inspect(conn).get_table_names())
        for t in tables:
            fts = fts_name(t.name)
            if fts in existing:
                continue
            conn.exec_driver_sql(
                f"CREATE VIRTUAL TABLE {q(fts)} USING fts5(search_text, content={q(t.name)}, content_rowid='id', tokenize='trigram')")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {q(fts + '_ai')} AFTER INSERT ON {q(t.name)} BEGIN "
                f"INSERT INTO {q(fts)}(rowid, search_text) VALUES (new.id, new.search_text); END")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {q(fts + '_ad')} AFTER DELETE ON {q(t.name)} BEGIN "
                f"INSERT INTO {q(fts)}({q(fts)}, rowid, search_text) VALUES ('delete', old.id, old.search_text); END")
            conn.exec_driver_sql(
                f"CREATE TRIGGER {q(fts + '_au')} AFTER UPDATE OF search_text ON {q(t.name)} BEGIN "
                f"INSERT INTO {q(fts)}({q(fts)}, rowid, search_text) VALUES ('delete', old.id, old.search_text); "
                f"INSERT INTO {q(fts)}(rowid, search_text) VALUES (new.id, new.search_text); END")
            conn.exec_driver_sql(f"INSERT INTO {q(fts)}({q(fts)}) VALUES ('rebuild')")
            created.append(f"search index {fts}")
    elif conn.dialect.name == "postgresql":
        if tables:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
            # the extension may live in another schema than the app's (e.g. public): qualify its operator class
            ext_schema = conn.execute(text(
                "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace WHERE e.extname = 'pg_trgm'"
            )).scalar_one()
        for t in tables:
            name = trgm_index_name(t.name)
            exists = conn.execute(text("SELECT 1 FROM pg_indexes WHERE schemaname = current_schema() AND indexname = :n"), {"n": name}).first()
            if not exists:
                conn.exec_driver_sql(f"CREATE INDEX {q(name)} ON {q(t.name)} USING gin (search_text {q(ext_schema)}.gin_trgm_ops)")
                created.append(f"search index {name}")
    return created


def is_search_object(name: str) -> bool:
    """Objects of ours that Alembic's comparison must leave alone."""
    return name.endswith("__search") or "__search_" in name or name.endswith("_search_trgm")
