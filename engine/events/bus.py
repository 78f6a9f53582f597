"""Emitting an event: store it in the outbox and hand it to every in-transaction subscriber
(the `on_event` plugin hook), in the transaction of the change. A subscriber that raises aborts the
whole write, as a validation error would."""
from __future__ import annotations

from dataclasses import replace

from engine.events import outbox
from engine.events.model import Event, Tx
from engine.storage import memo
from engine.storage.db import after_commit


def emit(tx: Tx, type_: str, entity: str, record_id: int | None, data: dict, action: str | None = None, **values) -> Event:
    """Emit one event of this transaction: by its actor, at its moment. `action` names the audit entry
    (None: not audited); `values` are the Python values for in-transaction subscribers (record, before, inputs)."""
    event = Event(type_, entity, record_id, tx.actor, tx.now, data, action, **values)
    return _hand_out(tx, [replace(event, id=outbox.store(tx.conn, tx.records.schema, event))])[0]


def emit_all(tx: Tx, events: list[tuple]) -> list[Event]:
    """Emit several events of one change - (type, entity, record_id, data, action, values) each - stored
    in one statement, then handed to the subscribers one by one, in their order (a create and the
    first state it enters)."""
    made = [Event(type_, entity, record_id, tx.actor, tx.now, data, action, **values) for type_, entity, record_id, data, action, values in events]
    ids = outbox.store_all(tx.conn, tx.records.schema, made)
    return _hand_out(tx, [replace(e, id=i) for e, i in zip(made, ids)])


def _hand_out(tx: Tx, stored: list[Event]) -> list[Event]:
    remembered = memo.current()
    for event in stored:
        if remembered is not None:  # what was read of this entity during an import may have changed
            remembered.forget(event.entity)
        tx.emitted.append(event)
        tx.records.plugin_manager.hook.on_event(event=event, tx=tx)
    wake = getattr(tx.records, "wake", None)
    if wake is not None:  # the task queue delivers the outbox once this transaction has committed
        after_commit(tx.conn, "events", wake)
    return stored
