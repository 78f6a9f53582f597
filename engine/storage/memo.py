"""Reads remembered for the length of one unit of work that makes many writes - an import - so
that the same customer or product is not read again for every row of a file.

A memo is active only inside `remembering()` (the importer opens one around a file). What it holds
is filed under the entity it was read from, and forgotten the moment anything writes that entity:
every write of the record service emits an event, and emitting forgets the event's entity
(engine.events.bus). A write that bypasses the record service (a plugin's own SQL) is not seen,
so such a plugin should write through the service, as every writer should. Outside
`remembering()` nothing is remembered and every read goes to the database."""
from __future__ import annotations

import contextlib
import contextvars

MISSING = object()
_current: contextvars.ContextVar = contextvars.ContextVar("engine_read_memo", default=None)


class ReadMemo:
    def __init__(self):
        self.by_entity: dict[str, dict] = {}
        self.kept: dict[int, object] = {}  # objects whose ids are parts of keys: alive, so their ids stay theirs

    def keep(self, objects) -> None:
        for o in objects:
            self.kept[id(o)] = o

    def get(self, entity: str, key):
        return self.by_entity.get(entity, {}).get(key, MISSING)

    def put(self, entity: str, key, value) -> None:
        self.by_entity.setdefault(entity, {})[key] = value

    def forget(self, entity: str) -> None:
        self.by_entity.pop(entity, None)

    def clear(self) -> None:
        """Forget everything: after a part of the work was rolled back, what was read during it may not hold."""
        self.by_entity.clear()


@contextlib.contextmanager
def remembering():
    memo = ReadMemo()
    token = _current.set(memo)
    try:
        yield memo
    finally:
        _current.reset(token)


def current() -> ReadMemo | None:
    return _current.get()
