"""A report run for one reader: one SQL query with GROUP BY, through the same scope clause as the
reader's lists (engine.access.permissions via the record service) - a rep's report adds up exactly
the rep's records - and one more for the totals. Nothing is loaded into Python to be added up:
Python only divides (averages, ratios) and puts labels on the groups.

The SQL differs by database where dates are bucketed (SQLite's strftime, PostgreSQL's to_char and
date_trunc); everything else is SQLAlchemy Core with bound parameters."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Float, Integer, and_, bindparam, case, cast, func, select, type_coerce
from sqlalchemy.types import Date, String

from engine.expressions.to_sql import to_sql
from engine.metadata.model import Report
from engine.storage.schema import Money

DEFAULT_LIMIT = 1000  # groups shown at most, where the report sets no limit
MAX_GROUPS = 10000  # groups a run may have at all: more is not a report (and the totals add up from the groups)


def bucket(col, by: str, value_type: str, dialect: str):
    """A date or time column as its bucket: the day (a date), or text - 2026-W (the week's Monday, 2026-03-02),
    2026-03, 2026-Q1, 2026."""
    if dialect == "postgresql":
        if by == "day":
            return cast(col, Date) if value_type == "datetime" else col
        if by == "week":
            return func.to_char(func.date_trunc("week", col), "YYYY-MM-DD")
        return func.to_char(col, {"month": "YYYY-MM", "quarter": 'YYYY-"Q"Q', "year": "YYYY"}[by])
    # SQLite keeps dates as 2026-03-31 and times as 2026-03-31 14:30:00 (UTC): the buckets are prefixes of the text,
    # cheaper to cut than to parse (strftime) on a million rows
    if by == "day":
        return func.substr(col, 1, 10) if value_type == "datetime" else col
    if by == "week":
        return func.date(func.substr(col, 1, 10), "weekday 0", "-6 days")
    if by == "quarter":
        return func.substr(col, 1, 4).concat("-Q").concat(cast((cast(func.substr(col, 6, 2), Integer) + 2) // 3, String))
    return func.substr(col, 1, {"month": 7, "year": 4}[by])


WORDS = {  # the values of the workflow's rows that are words, in each language
    "met": {"en": "Met", "zh": "按时", "ru": "В срок"}, "missed": {"en": "Missed", "zh": "超时", "ru": "Просрочено"},
    "open": {"en": "Running", "zh": "进行中", "ru": "Идёт"},
    "approved": {"en": "Approved", "zh": "同意", "ru": "Одобрено"}, "rejected": {"en": "Rejected", "zh": "驳回", "ru": "Отклонено"},
    "pending": {"en": "Waiting", "zh": "待评审", "ru": "Ожидает"}, "skipped": {"en": "Not needed", "zh": "无需评审", "ru": "Не понадобилось"},
    "closed": {"en": "Closed", "zh": "已关闭", "ru": "Закрыто"},
}


@dataclass
class Source:
    """What a report reads: FROM, the conditions every row meets, and its columns by name (the entity's fields,
    and the fields of the workflow's rows, `facts`, when it adds those up)."""
    from_: object
    where: list
    columns: dict
    facts: frozenset = frozenset()  # the names of the rows' own fields (a fact's, a line's)
    times: frozenset = frozenset()  # of those, the times a report filters facts by
    lines: bool = False  # the rows are lines (their fields are filtered as the lines' list would be)


def source_of(schema, ent, facts: str | None, now: dt.datetime, child=None) -> Source:
    t = schema.tables[ent.name]
    columns = dict(t.c)
    # the owner's team: the manager of the record's owner (engine.access: users and their managers), read where it is asked for
    u = schema.user.alias("owner_user")
    columns["owner_team"] = select(u.c.manager_id).where(u.c.id == t.c.owner).scalar_subquery()
    if child is not None:  # the lines of the records: their fields beside the record's (a line's win), one row per line
        ct = schema.tables[child.name]
        mine = {f.name: ct.c[f.name] for f in child.stored_fields()}
        return Source(ct.join(t, t.c.id == ct.c.parent_id), [], {**columns, **mine}, frozenset(mine), lines=True)
    if not facts:
        return Source(t, [], columns)
    if facts == "history":
        h = schema.workflow_history
        mine = {"transition": h.c.transition, "from_state": h.c.from_state, "to_state": h.c.to_state, "moved_by": h.c.actor_id,
                "moved_at": h.c.at, "hours_in_state": type_coerce(h.c.seconds_in_state / 3600.0, Float())}
        return Source(h.join(t, t.c.id == h.c.record_id), [h.c.entity == ent.name], {**columns, **mine}, frozenset(mine),
                      frozenset({"moved_at"}))
    if facts == "deadlines":
        tm = schema.timer
        outcome = case((and_(tm.c.status == "cancelled", tm.c.fired_at <= tm.c.due_at), "met"),
                       (and_(tm.c.status == "pending", tm.c.due_at > bindparam("now_", now, type_=tm.c.due_at.type)), "open"),
                       else_="missed")
        mine = {"state": tm.c.state, "due_at": tm.c.due_at, "outcome": outcome}
        return Source(tm.join(t, t.c.id == tm.c.record_id), [tm.c.entity == ent.name, tm.c.kind == "deadline"], {**columns, **mine},
                      frozenset(mine), frozenset({"due_at"}))
    rv = schema.review_task
    mine = {"department": rv.c.role, "decision": rv.c.status, "round": rv.c.round, "decided_by": rv.c.decided_by, "decided_at": rv.c.decided_at}
    return Source(rv.join(t, t.c.id == rv.c.record_id), [rv.c.entity == ent.name], {**columns, **mine}, frozenset(mine),
                  frozenset({"decided_at"}))


def fact_filters(source: Source, filters, errors) -> list:
    """Conditions on the times of the workflow's rows (moved_at, due_at, decided_at): gte, gt, lte, lt, eq, isnull."""
    out = []
    ops = {"gte": "__ge__", "gt": "__gt__", "lte": "__le__", "lt": "__lt__", "eq": "__eq__"}
    for name, op, raw in filters:
        if name not in source.facts or source.lines:
            continue
        if name not in source.times:
            errors.add(name, "a report filters the workflow's rows by their time only")
            continue
        col = source.columns[name]
        if op == "isnull":
            out.append(col.is_(None) if str(raw).lower() in ("true", "1") else col.is_not(None))
            continue
        try:
            text = str(raw).strip()
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00")) if len(text) > 10 else \
                dt.datetime.combine(dt.date.fromisoformat(text), dt.time(0))
        except ValueError:
            errors.add(f"{name}__{op}", "expected a date like 2026-03-31")
            continue
        if op not in ops:
            errors.add(f"{name}__{op}", "a time of the workflow is filtered with gte, gt, lte, lt, eq or isnull")
            continue
        moment = moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)
        out.append(getattr(col, ops[op])(bindparam(None, moment, type_=col.type, unique=True)))
    return out


def _numbers(columns: dict, dialect: str) -> dict:
    """Columns for arithmetic in an expression: on SQLite a decimal is kept as whole units of its scale (12.50 as 1250),
    so there it is divided back first (engine.storage.schema.Money); PostgreSQL's NUMERIC is the number itself."""
    if dialect != "sqlite":
        return columns
    return {n: (type_coerce(c, Integer) / float(10 ** c.type.scale)) if isinstance(getattr(c, "type", None), Money) else c
            for n, c in columns.items()}


def measure_columns(report: Report, columns: dict, user: dict, dialect: str = "sqlite") -> list:
    """The aggregate columns of the report's SELECT, labelled: avg as its sum and count (divided in Python), ratios none."""
    cols = []
    numbers = None
    for m in report.measures:
        cond = to_sql(m.where, columns, {"user": user}) if m.where is not None else None
        if m.agg == "ratio":
            continue
        if m.agg == "count":
            cols.append((func.sum(case((cond, 1), else_=0)) if cond is not None else func.count()).label(m.name))
            continue
        if m.expression is not None:
            numbers = numbers if numbers is not None else _numbers(columns, dialect)
            col = to_sql(m.expression, numbers, {"user": user})
        else:
            col = columns[m.field]
        value = case((cond, col)) if cond is not None else col
        if m.agg == "avg":
            cols.append(func.sum(value).label(f"{m.name}__sum"))
            cols.append(func.count(value).label(f"{m.name}__n"))
        else:
            cols.append(getattr(func, m.agg)(value).label(m.name))
    return cols


def combined(report: Report, rows: list[dict]) -> dict:
    """The aggregate columns over all the groups, from the groups: counts and sums added, the least of the minimums and the
    most of the maximums (an average's sum and count are added, so it is divided once, over everything)."""
    out: dict = {}
    for m in report.measures:
        if m.agg == "ratio":
            continue
        keys = (f"{m.name}__sum", f"{m.name}__n") if m.agg == "avg" else (m.name,)
        for key in keys:
            values = [r[key] for r in rows if r[key] is not None]
            if m.agg in ("min", "max"):
                out[key] = (min if m.agg == "min" else max)(values) if values else None
            else:
                out[key] = sum(values) if values else (0 if m.agg == "count" or key.endswith("__n") else None)
    return out


def finish(report: Report, row: dict) -> dict:
    """The measures of a result row: averages divided, ratios worked out, counts as whole numbers."""
    out = {}
    for m in report.measures:
        if m.agg == "ratio":
            continue
        if m.agg == "avg":
            total, n = row[f"{m.name}__sum"], row[f"{m.name}__n"]
            out[m.name] = None if not n else (Decimal(repr(total) if isinstance(total, float) else total) / n).quantize(Decimal(1).scaleb(-(m.scale if m.scale is not None else 2)),
                                                                              rounding=ROUND_HALF_UP)
        elif m.agg == "count":
            out[m.name] = int(row[m.name] or 0)
        elif row[m.name] is None and m.agg == "sum":  # nothing to add up: nothing, not no value
            out[m.name] = Decimal(0).quantize(Decimal(1).scaleb(-(m.scale if m.scale is not None else 2))) if m.result == "decimal" else 0
        elif isinstance(row[m.name], float):  # a figure computed in the database (hours in a state): exact to its places
            out[m.name] = Decimal(repr(row[m.name])).quantize(Decimal(1).scaleb(-(m.scale if m.scale is not None else 2)), rounding=ROUND_HALF_UP)
        else:
            out[m.name] = row[m.name]
    for m in report.measures:
        if m.agg == "ratio":
            a, b = (out.get(n) for n in m.ratio)
            if a is None or not b:
                out[m.name] = None
            else:
                value = Decimal(a) / Decimal(b) * (100 if m.percent else 1)
                out[m.name] = value.quantize(Decimal("0.1") if m.percent else Decimal("0.0001"), rounding=ROUND_HALF_UP)
    return out


def period(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """[start, end) of a named period around `today` (engine.metadata.reports.DATE_RANGES)."""
    def month_start(d: dt.date, back: int = 0) -> dt.date:
        y, m = divmod(d.year * 12 + d.month - 1 - back, 12)
        return dt.date(y, m + 1, 1)
    if name == "today":
        return today, today + dt.timedelta(days=1)
    if name == "this_week":
        start = today - dt.timedelta(days=today.weekday())
        return start, start + dt.timedelta(days=7)
    if name == "this_month":
        return month_start(today), month_start(today, -1)
    if name == "last_month":
        return month_start(today, 1), month_start(today)
    if name == "this_quarter":
        start = dt.date(today.year, 3 * ((today.month - 1) // 3) + 1, 1)
        return start, month_start(start, -3)
    if name == "this_year":
        return dt.date(today.year, 1, 1), dt.date(today.year + 1, 1, 1)
    if name == "last_year":
        return dt.date(today.year - 1, 1, 1), dt.date(today.year, 1, 1)
    if name == "last_12_months":
        return month_start(today, 11), month_start(today, -1)
    days = {"last_7_days": 7, "last_30_days": 30}[name]
    return today - dt.timedelta(days=days - 1), today + dt.timedelta(days=1)


def previous(name: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """The period just before a named one, as long: last month for this month, last year for this year, the 30 days before the last 30."""
    start, end = period(name, today)
    months = (end.year - start.year) * 12 + end.month - start.month
    if start.day == 1 and end.day == 1 and months > 0:  # whole months: the same number of months before
        y, m = divmod(start.year * 12 + start.month - 1 - months, 12)
        return dt.date(y, m + 1, 1), start
    return start - (end - start), start


def ordered(report: Report, rows: list[dict]) -> list[dict]:
    """Rows of a report sorted by a ratio (which the database does not know), at most its limit."""
    if report.sort is not None:
        name, desc = report.sort
        present = [r for r in rows if r[name] is not None]
        rows = sorted(present, key=lambda r: r[name], reverse=desc) + [r for r in rows if r[name] is None]
    return rows[: report.limit or DEFAULT_LIMIT]

