"""Reports: which a reader may run, and a run - filters (with the report's defaults), groups and
measures - through the record service's scope clause and field rules (docs/reports.md).

Who may run a report: a reader of its source entity, in one of its roles (or a role that inherits
one; any reader when it names none), who sees every field it names - a report over a field hidden
from the reader is refused, never run without it. A report the reader may not run does not exist
for them (404), as a record outside their scope does."""
from __future__ import annotations

import datetime as dt

from sqlalchemy import case, select

from engine.core.actor import Actor
from engine.core.errors import ErrorCollector, FieldError, Msg, NotFound, ValidationFailed
from engine.core.values import to_json
from engine.metadata.model import Dimension, Label, Measure, Report
from engine.metadata.reports import field_of, lines_of
from engine.records import listing
from engine.records.notifications import roles_meaning
from engine.reports import query

NONE_LABEL = "—"


class Reports:
    def __init__(self, records):
        self.records = records
        self.app = records.app

    # ------------------------------------------------------------------ who may run what
    def available(self, actor: Actor) -> list[Report]:
        """The reports the actor may run, in the order of their names."""
        return [r for r in sorted(self.app.reports.values(), key=lambda r: r.name) if self._refusal(actor, r) is None]

    def report(self, actor: Actor, name: str) -> Report:
        r = self.app.reports.get(name)
        if r is None or self._refusal(actor, r) is not None:
            raise NotFound(Msg("no report named %(name)s", name=str(name)[:64]))
        return r

    def _refusal(self, actor: Actor, r: Report) -> Msg | None:
        grants = self.records.permissions.grants(actor)
        if not grants.can(r.source, "read"):
            return Msg("your roles may not read %(entity)s", entity=r.source)
        if r.roles and not grants.unrestricted:
            allowed = set().union(*(roles_meaning(self.app, role) for role in r.roles))
            if not allowed & set(actor.roles):
                return Msg("the report is for: %(roles)s", roles=", ".join(r.roles))
        child = lines_of(self.app.entities, r)
        hidden = (grants.hidden(r.source) | (grants.hidden(child.name) if child is not None else frozenset())) & r.fields()
        if hidden:
            return Msg("the report adds up fields hidden from your roles: %(fields)s", fields=", ".join(sorted(hidden)))
        return None

    # ------------------------------------------------------------------ running
    def run(self, actor: Actor, name: str, params=(), lang: str = "en", today: dt.date | None = None, without_defaults=()) -> dict:
        """{report, label, chart, columns: [{name, label, type}], rows: [{column: value, <group>__value: raw}], totals, defaults};
        `params`: list-style filters; a report's default applies to a field none of them names, unless it is in `without_defaults`."""
        return self._run(actor, self.report(actor, name), params, lang, today, without_defaults)

    def summary(self, actor: Actor, entity: str, params=(), fields=(), group: str | None = None, lang: str = "en") -> dict:
        """A list's figures, as a report made on the spot: how many records the list's filters match and the sums of its
        number columns (`fields`), over them all or per value of `group` (a month of a date) - within the reader's scope,
        without the fields hidden from them."""
        ent = self.records.entity(entity)
        grants = self.records.permissions.require(actor, ent.name, "read")
        hidden = grants.hidden(ent.name)
        measures = [Measure("count", Label.of({"en": "Records", "zh": "记录数", "ru": "Записей"}), "count", None, "integer")]
        for name in fields:
            f = field_of(ent, name)
            if f is not None and name not in hidden and f.value_type in ("integer", "decimal"):
                measures.append(Measure(name, f.label, "sum", name, f.value_type, scale=f.scale))
        dims = ()
        if group:
            f = field_of(ent, group)
            if f is None or group in hidden or f.value_type not in ("select", "link", "user", "boolean", "date", "datetime", "string"):
                raise ValidationFailed([FieldError("group", Msg("cannot group by '%(name)s'", name=str(group)[:64]))])
            by = "month" if f.value_type in ("date", "datetime") else None
            dims = (Dimension(f"{group}_month" if by else group, group, f.value_type, by, f.label, f.entity),)
        r = Report(name=f"{ent.name}__list", label=ent.label_plural, source=ent.name, measures=tuple(measures), group_by=dims,
                   sort=("count", True) if group and not dims[0].by else None, limit=50)
        return self._run(actor, r, params, lang, None, ())

    def _run(self, actor: Actor, r: Report, params, lang: str, today: dt.date | None, without_defaults) -> dict:
        ent = self.app.entity(r.source)
        t = self.records.schema.tables[ent.name]
        hidden = self.records.permissions.grants(actor).hidden(ent.name)
        asked = listing.ListQuery.from_params(params)
        wanted = asked.filters
        given = {n for n, _, _ in wanted}
        filters = list(wanted)
        applied = []
        today = today or dt.datetime.now(dt.timezone.utc).date()
        for f in r.filters:
            if f.default is None or f.field in given or f.field in without_defaults:
                continue
            kind = field_of(ent, f.field, r.facts, lines_of(self.app.entities, r)).value_type
            if kind in ("date", "datetime"):
                start, end = query.period(f.default, today)
                filters += [(f.field, "gte", start.isoformat()), (f.field, "lt", end.isoformat())]
                applied.append({"field": f.field, "default": f.default, "from": start.isoformat(), "to": end.isoformat()})
            else:
                value = str(f.default).lower() if isinstance(f.default, bool) else str(f.default)
                filters.append((f.field, "eq", value))
                applied.append({"field": f.field, "default": f.default})
        child = lines_of(self.app.entities, r)
        source = query.source_of(self.records.schema, ent, r.facts, self.records.clock(), child)
        errors = ErrorCollector()
        own = [x for x in filters if x[0] not in source.facts]
        where = listing.filter_clauses(ent, t, own, errors, hidden) + query.fact_filters(source, filters, errors)
        if child is not None:  # the lines' own fields, filtered as the lines' list would be
            mine = [x for x in filters if x[0] in source.facts]
            where += listing.filter_clauses(child, self.records.schema.tables[child.name], mine, errors,
                                            self.records.permissions.grants(actor).hidden(child.name))
        errors.raise_if_any()
        found = listing.search_clause(ent, t, asked.q, self.records.db.dialect)  # the list's quick search, as the list applies it
        if found is not None:
            where.append(found)
        dialect = self.records.db.dialect
        groups = []
        for d in r.group_by:
            col = source.columns[d.field]
            if d.by:
                groups.append(query.bucket(col, d.by, d.type, dialect).label(d.name))
            else:
                groups.append(col.label(d.name))
        measures = query.measure_columns(r, source.columns, actor.context(), self.records.db.dialect)
        with self.records.db.read() as conn:
            scope = self.records.scope_clause(conn, actor, ent.name, "read")
            conditions = [*source.where, *where, *([scope] if scope is not None else [])]
            stmt = select(*groups, *measures).select_from(source.from_).where(*conditions)
            if groups:
                stmt = stmt.group_by(*groups)
            order = self._order(r, groups, measures, self._group_order(ent, r, groups))
            if order is not None:
                stmt = stmt.order_by(*order)
            rows = [dict(row) for row in conn.execute(stmt.limit(query.MAX_GROUPS + 1)).mappings()]
            if len(rows) > query.MAX_GROUPS:
                raise ValidationFailed([FieldError("group_by", Msg(
                    "more than %(n)s groups: narrow the filters or group by something coarser (a month rather than a day)", n=query.MAX_GROUPS))])
            totals = query.combined(r, rows) if groups else rows[0]  # every group is here: the totals add up from them, no second query
            if order is not None:
                rows = rows[: r.limit or query.DEFAULT_LIMIT]
            names = {}  # the titles of the groups that are links and users, once the groups are known (no join while adding up)
            for d in r.group_by:
                if d.type in ("link", "user"):
                    ids = {row[d.name] for row in rows if row[d.name] is not None}
                    target = d.entity if d.type == "link" else "@user"
                    names[d.name] = self.records.titles_in(conn, actor, target, ids) if ids else {}
        if order is None:
            rows = query.ordered(r, [{**row, **query.finish(r, row)} for row in rows])
        out_rows = []
        for row in rows:
            values = query.finish(r, row)
            item = {}
            for d in r.group_by:
                raw = row[d.name]
                item[d.name] = self._label(ent, d, raw, row, names, lang)
                item[f"{d.name}__value"] = to_json(d.type if not d.by or d.by == "day" else "string", raw)
            for m in r.measures:
                item[m.name] = to_json(m.result, values[m.name])
            out_rows.append(item)
        total = query.finish(r, totals)
        return {"report": r.name, "label": r.label.get(lang), "chart": r.chart,
                "columns": [{"name": d.name, "label": d.label.get(lang), "type": "date" if d.by == "day" else "string"} for d in r.group_by]
                + [{"name": m.name, "label": m.label.get(lang), "type": m.result, **({"percent": True} if m.percent else {})}
                   for m in r.measures],
                "rows": out_rows, "totals": {m.name: to_json(m.result, total[m.name]) for m in r.measures}, "defaults": applied}

    @staticmethod
    def _group_order(ent, r: Report, groups: list) -> list:
        """What each group sorts by: a choice in the order of its options (a workflow's states as they go), else its value."""
        out = []
        for d, g in zip(r.group_by, groups):
            f = ent.fields.get(d.field)
            out.append(case({o.value: i for i, o in enumerate(f.options)}, value=g, else_=len(f.options))
                       if f is not None and f.type == "select" and not d.by else g)
        return out

    def _order(self, r: Report, groups: list, measures: list, keys: list):
        """ORDER BY of the report in the database; None when it sorts by a ratio (then in Python)."""
        by_groups = [k.asc().nulls_last() for k in keys]  # the same order on both databases: no value last
        if r.sort is None:
            return by_groups or None
        name, desc = r.sort
        if any(m.name == name and m.agg in ("ratio", "avg") for m in r.measures):
            return None
        col = next(c for c in [*groups, *measures] if c.name == name)
        return [(col.desc() if desc else col.asc()).nulls_last(), *by_groups]

    def _label(self, ent, d, raw, row: dict, names: dict, lang: str) -> str:
        if raw is None:
            return NONE_LABEL
        if d.type == "select":
            f = ent.fields[d.field]
            return next((o.label.get(lang) for o in f.options if o.value == raw), str(raw))
        if d.type == "state":
            wf = self.app.workflows.get(ent.name)
            st = wf.states.get(raw) if wf is not None else None
            return st.label.get(lang) if st is not None else str(raw)
        if d.type == "role":
            role = self.app.roles.get(raw)
            return role.label.get(lang) if role is not None and role.label is not None else str(raw)
        if d.type in ("outcome", "decision"):
            return query.WORDS.get(raw, {}).get(lang) or query.WORDS.get(raw, {}).get("en") or str(raw)
        if d.type in ("link", "user"):
            return names.get(d.name, {}).get(raw) or f"#{raw}"
        if d.type == "boolean":
            return {"en": ("Yes", "No"), "zh": ("是", "否"), "ru": ("Да", "Нет")}.get(lang, ("Yes", "No"))[0 if raw else 1]
        if isinstance(raw, (dt.date, dt.datetime)):
            return raw.isoformat()[:10]
        return str(raw)
