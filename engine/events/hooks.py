"""Plugin hooks (pluggy): every hook spec of the engine, and the loader for an app's plugins folder.

Record hooks run inside the record's transaction, in this fixed order:
create: before_create -> (computed, validation, SQL, events) -> after_create
update: before_update -> (computed, validation, SQL, events) -> after_update
delete: before_delete -> (SQL, events) -> after_delete
`on_event` sees every domain event of every write - creates, updates, deletes, transitions (automatic
ones and escalations too), states entered, opinions, deadlines - in the same transaction; the
built-in behaviours (audit, timeline, review tasks, deadlines, notifications) are plugins of this hook
themselves. `send_notice` gets each notification meant for one person on a channel beyond the bell (email,
sms) - the connectors' plugin turns it into a delivery. `publish` gets each event again after its
commit, from the outbox.
A hook that raises ValidationFailed (engine.core.errors) aborts the whole write with its field errors.
"""
from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pluggy

from engine.metadata.codes import MetadataInvalid, Problem

hookspec = pluggy.HookspecMarker("engine")
hookimpl = pluggy.HookimplMarker("engine")


class RecordHooks:
    @hookspec
    def before_create(self, entity, values, actor, conn):
        """Before a new record is computed and validated; may change `values` in place."""

    @hookspec
    def after_create(self, entity, record, actor, conn):
        """After a new record is written, in the same transaction."""

    @hookspec
    def before_update(self, entity, old, values, actor, conn):
        """Before an update is computed and validated; may change `values` in place."""

    @hookspec
    def after_update(self, entity, old, record, actor, conn):
        """After an update is written, in the same transaction."""

    @hookspec
    def before_delete(self, entity, record, actor, conn):
        """Before a record is deleted; raise to refuse."""

    @hookspec
    def after_delete(self, entity, record, actor, conn):
        """After a record is deleted, in the same transaction."""


class FileHooks:
    @hookspec(firstresult=True)
    def keep_files(self, entity, record_id, values, lines, old, tx):
        """Keep the new files (NewFile) in a record's and its lines' file fields, in place of each its attachment id, and forget those
        no longer held (`old`: the record before an update); returns {attachment id: file name} of both."""


class ConnectorHooks:
    @hookspec
    def connector_types(self):
        """Connector types a plugin adds: {type name: adapter} (engine.connectors.adapters.Adapter: prepare and send)."""


class EventHooks:
    @hookspec
    def on_event(self, event, tx):
        """Every domain event (engine.events.model), inside the transaction of its change: `tx.conn`, `tx.records`, `tx.actor`, `tx.now`."""

    @hookspec
    def send_notice(self, notice, tx):
        """A person told on a channel beyond the bell (engine.events.model.Notice), in the transaction of its cause; True when taken."""

    @hookspec
    def publish(self, event):
        """Every stored event again after its commit, in id order, at least once (event.id is the idempotency key); raise to be retried."""


def make_manager(plugins_dir: str | None) -> pluggy.PluginManager:
    pm = pluggy.PluginManager("engine")
    pm.add_hookspecs(RecordHooks)
    pm.add_hookspecs(EventHooks)
    pm.add_hookspecs(ConnectorHooks)
    pm.add_hookspecs(FileHooks)
    if plugins_dir and Path(plugins_dir).is_dir():
        problems = []
        for path in sorted(Path(plugins_dir).glob("*.py")):
            if path.name.startswith("_"):
                continue
            modname = f"engine_plugin_{abs(hash(str(path.resolve())))}_{path.stem}"
            try:
                spec = importlib.util.spec_from_file_location(modname, path)
                module = importlib.util.module_from_spec(spec)
                sys.modules[modname] = module
                spec.loader.exec_module(module)
                pm.register(module, name=path.stem)
            except Exception as exc:  # any error in customer code becomes a metadata problem
                line = getattr(exc, "lineno", None) or _tb_line(exc, path) or 1
                problems.append(Problem("E029", shown_path(path), line, 1, f"{type(exc).__name__}: {exc}"))
        if problems:
            raise MetadataInvalid(problems)
    return pm


def shown_path(path: Path) -> str:
    """A plugin file's path as a problem report shows it: relative to the working folder when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _tb_line(exc: BaseException, path: Path) -> int | None:
    tb = exc.__traceback__
    line = None
    while tb is not None:
        if Path(tb.tb_frame.f_code.co_filename).resolve() == path.resolve():
            line = tb.tb_lineno
        tb = tb.tb_next
    return line
