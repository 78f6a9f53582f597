"""Dashboards: the cards of a dashboard built for one viewer - each a report run within their scope
(a number with the previous period beside it, or a chart) or a short list of their records. A card
the viewer may not see (a report not theirs to run, an entity they may not read) is left out, not
shown empty. Which dashboard a user opens first: of those for their roles, the most particular
(fewest roles), by name."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from engine.core.actor import Actor
from engine.core.errors import Forbidden, Msg, NotFound
from engine.metadata.model import Card, Dashboard
from engine.metadata.reports import field_of
from engine.records.listing import ListQuery
from engine.records.notifications import roles_meaning
from engine.reports import query


class Dashboards:
    def __init__(self, reports):
        self.reports = reports
        self.records = reports.records
        self.app = reports.app

    def available(self, actor: Actor) -> list[Dashboard]:
        """The dashboards for the actor's roles, the one they open first at the head."""
        grants = self.records.permissions.grants(actor)
        out = []
        for b in self.app.dashboards.values():
            if b.roles and not grants.unrestricted and not set().union(*(roles_meaning(self.app, r) for r in b.roles)) & set(actor.roles):
                continue
            out.append(b)
        return sorted(out, key=lambda b: (not (b.roles and set(b.roles) & set(actor.roles)), len(b.roles or ()) or 999, b.name))

    def build(self, actor: Actor, name: str | None, lang: str, today: dt.date | None = None) -> dict:
        """{dashboard, choices, cards: [{kind, label, width, ...}]} for the actor; NotFound for a dashboard not theirs."""
        mine = self.available(actor)
        board = next((b for b in mine if b.name == name), None) if name else (mine[0] if mine else None)
        if board is None:
            raise NotFound(Msg("no dashboard named %(name)s", name=str(name or "")[:64]))
        today = today or dt.datetime.now(dt.timezone.utc).date()
        cards = []
        self._runs: dict = {}  # a report run once per build, however many cards show it
        for card in board.cards:
            try:
                built = self._card(actor, card, lang, today)
            except (NotFound, Forbidden):
                continue  # not theirs to see: left out
            cards.append(built)
        return {"dashboard": board, "choices": mine, "cards": cards}

    def _card(self, actor: Actor, card: Card, lang: str, today: dt.date) -> dict:
        if card.kind == "list":
            ent = self.app.entity(card.entity)
            self.records.permissions.require(actor, ent.name, "read")
            page = self.records.list(actor, ent.name, ListQuery(filters=[(k.split("__")[0], k.split("__")[1] if "__" in k else "eq", v)
                                                                        for k, v in card.filters], sort=card.sort, limit=card.limit,
                                                                with_titles=True))
            return {"kind": "list", "label": card.label.get(lang) if card.label else ent.label_plural.get(lang), "width": card.width,
                    "entity": ent, "page": page, "filters": card.filters}
        result = self._run(actor, card.report, (), lang, today)
        report = self.app.reports[card.report]
        out = {"kind": card.kind, "width": card.width, "report": report, "result": result,
               "label": card.label.get(lang) if card.label else result["label"]}
        if card.kind == "number":
            column = next(c for c in result["columns"] if c["name"] == card.measure)
            out.update(column=column, value=result["totals"][card.measure])
            if card.compare:
                before = self._previous(actor, report, lang, today)
                if before is not None:
                    out.update(previous=before["totals"][card.measure], period=before["period"])
                    out["change"] = change(out["value"], out["previous"], bool(column.get("percent")))
        return out

    def _run(self, actor: Actor, name: str, params: tuple, lang: str, today: dt.date) -> dict:
        key = (name, params)
        if key not in self._runs:
            self._runs[key] = self.reports.run(actor, name, list(params), lang=lang, today=today)
        return self._runs[key]

    def _previous(self, actor: Actor, report, lang: str, today: dt.date) -> dict | None:
        """The report over the period before its default one (last month beside this month), or None without a date default."""
        ent = self.app.entity(report.source)
        for f in report.filters:
            field = field_of(ent, f.field, report.facts)
            if f.default and field is not None and field.value_type in ("date", "datetime"):
                start, end = query.previous(f.default, today)
                got = self._run(actor, report.name, ((f"{f.field}__gte", start.isoformat()), (f"{f.field}__lt", end.isoformat())), lang, today)
                return {**got, "period": (start, end)}
        return None


def change(now, before, points: bool) -> dict | None:
    """How a figure moved from the previous period: {"value": +12.5, "unit": "%"} (or percentage points for a rate)."""
    if now is None or before is None:
        return None
    a, b = Decimal(str(now)), Decimal(str(before))
    if points:
        return {"value": (a - b).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP), "unit": "pp"}
    if b == 0:
        return None
    return {"value": ((a - b) / b * 100).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP), "unit": "%"}
