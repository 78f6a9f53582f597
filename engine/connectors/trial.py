"""`run.py connectors test NAME`: one sample request sent to an outbound connector's target, built
from the newest record of the entity its first trigger names (for a connector carrying a
notification channel: a test notification to the address given), with a test idempotency key.
Nothing is written: no delivery, no write-back."""
from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import select

from engine.connectors.adapters import Adapter, Outcome
from engine.connectors.deliveries import context_for
from engine.events.model import Notice
from engine.metadata.model import Connector
from engine.records.service import Records


@dataclass
class Trial:
    sample: str  # which record the request was built from
    request: dict
    outcome: Outcome
    ms: int
    key: str


def sample_event(records: Records, c: Connector) -> tuple[str, dict]:
    """(what the sample is, the template context) from the newest record of the first trigger's entity."""
    t = c.triggers[0]
    ent = records.app.entity(t.entity)
    table = records.schema.tables[ent.name]
    with records.db.read() as conn:
        newest = conn.execute(select(table.c.id).order_by(table.c.id.desc()).limit(1)).scalar()
        record = records._load(conn, ent, newest) if newest is not None else {"id": None}
        context = context_for(records, conn, ent, record, {"id": 0, "type": t.event, "at": None, "actor": "cli", "data": {}}, c.name)
    what = f"{ent.name} {newest} ({record.get(ent.title_field) or newest}), the newest" if newest is not None else f"an empty {ent.name}"
    return what, context


def sample_notice(records: Records, c: Connector, to: str) -> tuple[str, dict]:
    """(what the sample is, the template context) for a connector that carries a notification channel: a made-up notice to `to`."""
    lang = records.app.default_language
    notice = Notice(c.type, 0, 0, to, "Test", lang, f"{records.app.label.get(lang)}: a test notification",
                    f"A test notification from {records.app.label.get(lang)}, sent by run.py connectors test {c.name}.", "", None, "test")
    return f"a test notification to {to}", {"notice": notice.json(), "connector": c.name, "app_language": lang}


def run_trial(records: Records, adapters: dict[str, Adapter], c: Connector, to: str | None = None) -> Trial:
    what, context = sample_notice(records, c, to) if c.channel else sample_event(records, c)
    adapter = adapters[c.type]
    request = adapter.prepare(c, context)
    key = f"test-{int(time.time())}"
    started = time.perf_counter()
    outcome = adapter.send(c, request, key)
    return Trial(what, request, outcome, int((time.perf_counter() - started) * 1000), key)
