"""Handing the outbox to subscribers outside the transaction: each plugin that implements `publish`
gets every stored event after its commit, in id order, at least once. Its place is kept per plugin
in sys_event_cursor and moves only after `publish` returned, so an event is given again after a
crash or an error (the event id is the idempotency key); a subscriber that fails stops there and
is retried on the next run, the others go on. The task queue runs this after each commit that
emitted events, and every minute (engine.app.tasks)."""
from __future__ import annotations

import datetime as dt
import logging

from engine.events import outbox

log = logging.getLogger("engine.events")


def subscribers(records) -> list[str]:
    """The names of the installed plugins that implement `publish`."""
    return [impl.plugin_name for impl in records.plugin_manager.hook.publish.get_hookimpls()]


def deliver(records, batch: int = 200) -> int:
    """Give every `publish` subscriber the events it has not taken yet; how many were given."""
    given = 0
    for impl in records.plugin_manager.hook.publish.get_hookimpls():
        name = impl.plugin_name
        while True:
            with records.db.read() as conn:
                start = outbox.cursor(conn, records.schema, name) or 0
                events = outbox.after(conn, records.schema, start, batch)
            if not events:
                break
            failed = False
            for event in events:
                try:
                    impl.function(event=event)
                except Exception as exc:  # the subscriber's failure: keep its place, say why, try again next time
                    log.warning("subscriber %s failed on event %s: %s", name, event.id, exc)
                    with records.db.write() as conn:
                        outbox.advance(conn, records.schema, name, start, _now(), error=f"event {event.id}: {type(exc).__name__}: {exc}")
                    failed = True
                    break
                with records.db.write() as conn:
                    outbox.advance(conn, records.schema, name, event.id, _now())
                start = event.id
                given += 1
            if failed or len(events) < batch:
                break
    return given


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)
