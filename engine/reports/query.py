"""A report run for one reader: one SQL query with GROUP BY, through the same scope clause as the
reader's lists (engine.access.permissions via the record service) - a rep's report adds up exactly
the rep's records - and one more for the totals. Nothing is loaded into Python to be added up:
Python only divides (averages, ratios) and puts labels on the groups.

The SQL differs by database where dates are bucketed (SQLite's strftime, PostgreSQL's to_char and
date_trunc); everything else is SQLAlchemy Core with bound parameters."""
from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import Integer, case, cast, func
from sqlalchemy.types import Date, String

from engine.expressions.to_sql import to_sql
from engine.metadata.model import Report

DEFAULT_LIMIT = 1000  # groups at most, where the report sets no limit


def bucket(col, by: str, value_type: str, dialect: str):
    """A date or time column as its bucket: the day (a date), or text - 2026-W (the week's Monday, 2026-03-02),
    2026-03, 2026-Q1, 2026."""
    if dialect == "postgresql":
        if by == "day":
            return cast(col, Date) if value_type == "datetime" else col
        if by == "week":
            return func.to_char(func.date_trunc("week", col), "YYYY-MM-DD")
        return func.to_char(col, {"month": "YYYY-MM", "quarter": 'YYYY-"Q"Q', "year": "YYYY"}[by])
    if by == "day":
        return func.date(col) if value_type == "datetime" else col
    if by == "week":
        return func.date(col, "weekday 0", "-6 days")
    if by == "quarter":
        return func.strftime("%Y", col).concat("-Q").concat(
            cast((cast(func.strftime("%m", col), Integer) + 2) // 3, String))
    return func.strftime({"month": "%Y-%m", "year": "%Y"}[by], col)


def measure_columns(report: Report, t, user: dict) -> list:
    """The aggregate columns of the report's SELECT, labelled: avg as its sum and count (divided in Python), ratios none."""
    cols = []
    for m in report.measures:
        cond = to_sql(m.where, t.c, {"user": user}) if m.where is not None else None
        if m.agg == "ratio":
            continue
        if m.agg == "count":
            cols.append((func.sum(case((cond, 1), else_=0)) if cond is not None else func.count()).label(m.name))
            continue
        col = t.c[m.field]
        value = case((cond, col)) if cond is not None else col
        if m.agg == "avg":
            cols.append(func.sum(value).label(f"{m.name}__sum"))
            cols.append(func.count(value).label(f"{m.name}__n"))
        else:
            cols.append(getattr(func, m.agg)(value).label(m.name))
    return cols


def finish(report: Report, row: dict) -> dict:
    """The measures of a result row: averages divided, ratios worked out, counts as whole numbers."""
    out = {}
    for m in report.measures:
        if m.agg == "ratio":
            continue
        if m.agg == "avg":
            total, n = row[f"{m.name}__sum"], row[f"{m.name}__n"]
            out[m.name] = None if not n else (Decimal(total) / n).quantize(Decimal(1).scaleb(-(m.scale if m.scale is not None else 2)),
                                                                              rounding=ROUND_HALF_UP)
        elif m.agg == "count":
            out[m.name] = int(row[m.name] or 0)
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


def ordered(report: Report, rows: list[dict]) -> list[dict]:
    """Rows of a report sorted by a ratio (which the database does not know), at most its limit."""
    if report.sort is not None:
        name, desc = report.sort
        present = [r for r in rows if r[name] is not None]
        rows = sorted(present, key=lambda r: r[name], reverse=desc) + [r for r in rows if r[name] is None]
    return rows[: report.limit or DEFAULT_LIMIT]

