"""Database engines for SQLite (embedded default) and PostgreSQL (scale-out).

SQLite runs in WAL mode with a busy timeout; write transactions start with BEGIN IMMEDIATE
so two writers queue up instead of failing half-way. `write()` and `read()` are the only
ways the services open transactions.

Where things live when nobody says: the default database is var/app.db beside run.py, and the
files that belong with a database (development keys, the task queue) sit beside its SQLite
file - never relative to the folder the command happens to run in.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import threading
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine, make_url

_shared_read: contextvars.ContextVar = contextvars.ContextVar("engine_shared_read", default=None)
_open_write: contextvars.ContextVar = contextvars.ContextVar("engine_open_write", default=None)
_joining: contextvars.ContextVar = contextvars.ContextVar("engine_joining_writes", default=None)


class Database:
    def __init__(self, url: str, schema: str | None = None, echo: bool = False):
        self.url = url
        u = make_url(url)
        self.dialect = u.get_backend_name()
        if self.dialect not in ("sqlite", "postgresql"):
            raise ValueError(f"unsupported database '{self.dialect}': use sqlite:///path.db or postgresql+psycopg://...")
        kwargs: dict = {"echo": echo, "future": True}
        if self.dialect == "sqlite":
            if u.database and u.database != ":memory:":
                Path(u.database).parent.mkdir(parents=True, exist_ok=True)
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        else:
            if u.drivername == "postgresql":
                u = u.set(drivername="postgresql+psycopg")
            if schema:
                kwargs["connect_args"] = {"options": f"-csearch_path={schema}"}
            kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
        self.engine: Engine = create_engine(u, **kwargs)
        # SQLite takes one writer at a time: this process's writers queue here and start the moment the
        # last one commits, instead of polling the file lock in SQLite's busy handler with growing sleeps
        self._writers = threading.Lock() if self.dialect == "sqlite" else contextlib.nullcontext()
        if self.dialect == "sqlite":
            _sqlite_setup(self.engine)

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @contextlib.contextmanager
    def write(self):
        """A write transaction: committed on success, rolled back on any exception. What the work
        put in `after_commit(conn, fn)` runs once the commit is done (never after a rollback).

        Inside another write of this database (in the same thread or task) it joins that one as a
        savepoint: its work commits with the outer transaction, and a failure in it rolls back only
        its own part. So several service calls can make one unit of work - a webhook's update and
        transition, an import's rows - all or nothing.

        `tx_local(conn)` holds values for the length of the transaction (a savepoint that rolls back
        puts them back as they were), and `before_commit(conn, key, fn)` writes them once, just
        before the commit: a counter advanced for every record of an import is written once, not
        once per record (on PostgreSQL, a row updated thousands of times in one transaction makes
        each next update slower)."""
        outer = _open_write.get()
        if outer is not None and outer[0] is self:
            if _joining.get() is self:  # one_unit(): no savepoint of its own
                yield outer[1]
                return
            with self.savepoint() as conn:
                yield conn
            return
        with self._writers, self.engine.connect() as conn:
            conn = conn.execution_options(engine_write=True)
            token = _open_write.set((self, conn))
            try:
                with conn.begin():
                    yield conn
                    flush(conn)
                    for fn in conn.info.pop("before_commit", {}).values():
                        fn()
            except BaseException:
                conn.info.pop("after_commit", None)
                raise
            finally:
                conn.info.pop("before_commit", None)
                conn.info.pop("flushers", None)
                conn.info.pop("tx_local", None)
                _open_write.reset(token)
            done = conn.info.pop("after_commit", {})
        for fn in done.values():  # after the write lock is let go
            fn()

    @contextlib.contextmanager
    def savepoint(self):
        """A part of the open write transaction that can fail alone: a failure in it rolls back only
        its own work (and puts `tx_local` back as it was)."""
        outer = _open_write.get()
        if outer is None or outer[0] is not self:
            raise RuntimeError("a savepoint needs an open write transaction of this database")
        conn = outer[1]
        flush(conn)  # what was held back before it is written before it: its rollback cannot take that back
        kept = dict(conn.info.get("tx_local", {}))
        try:
            with conn.begin_nested():
                yield conn
        except BaseException:
            conn.info["tx_local"] = kept  # what the rolled-back part advanced goes back with it
            raise

    @contextlib.contextmanager
    def one_unit(self):
        """Inside, a write nested in the open transaction joins it without a savepoint of its own: for
        a unit of work that is all or nothing anyway (an import of a file), where a savepoint per
        record costs two statements each. Where a part must be able to fail alone, use savepoint().
        A part that fails here may leave what it wrote; the caller rolls the whole unit back, and
        on PostgreSQL a database error leaves the transaction unusable (see usable())."""
        token = _joining.set(self)
        try:
            yield
        finally:
            _joining.reset(token)

    def usable(self, conn) -> bool:
        """Can the transaction on `conn` go on? Not on PostgreSQL after a statement failed in it
        outside a savepoint (until it is rolled back); always on SQLite."""
        if self.dialect != "postgresql":
            return True
        from psycopg.pq import TransactionStatus
        return conn.connection.dbapi_connection.info.transaction_status != TransactionStatus.INERROR

    @contextlib.contextmanager
    def read(self):
        """A read transaction; inside `reading()` it is the one shared by the whole unit of work, and inside
        a write it is that write's (so it sees what the write has done so far)."""
        shared = _shared_read.get()
        if shared is not None and shared[0] is self:
            yield shared[1]
            return
        outer = _open_write.get()
        if outer is not None and outer[0] is self:
            yield outer[1]
            return
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def snapshot(self):
        """A read transaction in which every statement sees the same committed state, however long
        it runs (REPEATABLE READ on PostgreSQL; a SQLite read transaction is one already): for
        checks that compare several tables while the app keeps writing."""
        with self.engine.connect() as conn:
            if self.dialect == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ")
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def reading(self):
        """One read transaction for everything a request reads (one snapshot, one connection)."""
        if _shared_read.get() is not None:
            yield
            return
        with self.engine.connect() as conn:
            with conn.begin():
                token = _shared_read.set((self, conn))
                try:
                    yield
                finally:
                    _shared_read.reset(token)

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA cache_size=-65536")
        cur.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        if conn.get_execution_options().get("engine_write"):
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        else:
            conn.exec_driver_sql("BEGIN")


PROJECT = Path(__file__).resolve().parent.parent.parent  # the folder of run.py: defaults are relative to it, not to the current folder


def project_var() -> Path:
    """The `var/` folder beside run.py."""
    return PROJECT / "var"


def default_url() -> str:
    """$ENGINE_DATABASE_URL, else the embedded SQLite database in var/ beside run.py (from any current folder)."""
    return os.environ.get("ENGINE_DATABASE_URL") or f"sqlite:///{project_var() / 'app.db'}"


def var_dir(url: str) -> Path:
    """Where the files that belong with a database live (the development session and audit keys,
    the task queue): beside a SQLite database file, else in var/ beside run.py."""
    try:
        u = make_url(url)
    except Exception:
        return project_var()
    if u.get_backend_name() == "sqlite" and u.database and u.database != ":memory:" and not u.database.startswith("file:"):
        return Path(u.database).parent
    return project_var()


def tx_local(conn) -> dict | None:
    """The values kept for the length of the write transaction open on `conn` (Database.write), put
    back as they were when a savepoint inside it rolls back; None when `conn` is not in one."""
    outer = _open_write.get()
    if outer is None or outer[1] is not conn:
        return None
    return conn.info.setdefault("tx_local", {})


def before_commit(conn, key, fn) -> None:
    """Run `fn` once, just before this write transaction commits (once per `key` however often it is asked)."""
    conn.info.setdefault("before_commit", {}).setdefault(key, fn)


def held_back(conn, key, fn) -> None:
    """Writes held back in `tx_local(conn)` (to be made many at a time) are made by `fn`: before the
    transaction commits, before a savepoint inside it begins (so a savepoint that rolls back takes
    back only what was held back within it), and when a reader asks for them (flush)."""
    conn.info.setdefault("flushers", {}).setdefault(key, fn)


def flush(conn) -> None:
    """Make the writes held back in this transaction (held_back), so that a read in it sees them."""
    for fn in list(conn.info.get("flushers", {}).values()):
        fn()


def after_commit(conn, key: str, fn) -> None:
    """Run `fn` once when this write transaction has committed (once per `key` however often it is asked)."""
    todo = conn.info.setdefault("after_commit", {})
    todo.setdefault(key, fn)
