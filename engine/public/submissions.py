"""Submitting a public form (`public:` on a form, docs/portal.md): the values of the fields on the form (no other),
plus the form's `set`, written through the record service by the system actor `public:<form>` - so every rule of
the entity holds, its duplicate rules included ("a customer with this tax number is already registered"), and the
record starts in the form's `state` (default: its workflow's first), for the back office to review. Throttled: `per_address` accepted
submissions from one client address, and `per_day` from everyone, within a day (TooManyRequests until it passes).
A bot that fills the hidden trap field is told it worked and nothing is saved."""
from __future__ import annotations

import datetime as dt

from engine.access import logins
from engine.core.actor import Actor
from engine.core.errors import Msg, NotFound
from engine.metadata.model import Form

DAY = dt.timedelta(days=1)
TRAP = "website"  # a field people never see or fill; bots that fill every field do


class PublicForms:
    def __init__(self, records):
        self.records = records

    def form(self, name: str) -> Form:
        form = self.records.app.forms.get(name)
        if form is None or form.public is None:
            raise NotFound(Msg("This page does not exist."))
        return form

    def submit(self, name: str, data: dict, address: str | None, trap: str = "") -> dict | None:
        """The record made from a submission (None for a bot caught by the trap); ValidationFailed, TooManyRequests."""
        form = self.form(name)
        spec = form.public
        db, schema = self.records.db, self.records.schema
        keys = [("public-day", name, spec.per_day)] + ([(f"public-{name}-addr", address, spec.per_address)] if address else [])
        with db.read() as conn:
            for kind, subject, limit in keys:
                logins.refuse_if_limited(conn, schema, kind, subject, limit)
        if trap:
            return None
        allowed = set(form.field_names())
        values = {k: v for k, v in data.items() if k in allowed}
        values.update(spec.set)
        actor = Actor(None, f"public:{name}"[:64], frozenset({"admin"}), via="system")
        record = self.records.create(actor, form.entity, values, start=spec.state)
        with db.write() as conn:
            for kind, subject, limit in keys:
                logins.count_request(conn, schema, kind, subject, limit, window=DAY, check=False)
        return record
