"""Deadline arithmetic: the moment that lies a number of minutes after a start, counted either
on the calendar or only in the app's working hours (working days, opening and closing time,
holidays, in the app's timezone). Every SLA timer of a state - reminders, the deadline,
escalations - is an offset from the moment the record entered the state."""
from __future__ import annotations

import datetime as dt
import zoneinfo

from engine.metadata.model import Sla, WorkingHours

UTC = dt.timezone.utc


def add(start: dt.datetime, minutes: int, hours: WorkingHours | None) -> dt.datetime:
    """`minutes` after `start`; with `hours`, only working minutes count."""
    if hours is None:
        return start + dt.timedelta(minutes=minutes)
    tz = zoneinfo.ZoneInfo(hours.timezone)
    here = start.astimezone(tz)
    left = minutes
    day = here.date()
    for _ in range(3660):  # ten years of days: a calendar with no working day at all stops here
        if day.weekday() in hours.days and day not in hours.holidays:
            open_at = dt.datetime.combine(day, dt.time(), tz) + dt.timedelta(minutes=hours.start_minute)
            close_at = dt.datetime.combine(day, dt.time(), tz) + dt.timedelta(minutes=hours.end_minute)
            begin = max(open_at, here)
            if begin < close_at:
                available = int((close_at - begin).total_seconds() // 60)
                if left <= available:
                    return (begin + dt.timedelta(minutes=left)).astimezone(UTC)
                left -= available
        day += dt.timedelta(days=1)
        here = dt.datetime.combine(day, dt.time(), tz)
    raise ValueError("the working hours leave no working day to count in")


def plan(sla: Sla, entered: dt.datetime, hours: WorkingHours) -> list[tuple[str, int, dt.datetime]]:
    """Every timer of a state's SLA as (kind, step, due): reminders, the deadline, escalations."""
    wh = hours if sla.working_hours else None
    out = [("reminder", i, add(entered, sla.deadline_minutes - r.before_minutes, wh)) for i, r in enumerate(sla.reminders)]
    out.append(("deadline", 0, add(entered, sla.deadline_minutes, wh)))
    out += [("escalation", i, add(entered, sla.deadline_minutes + e.after_minutes, wh)) for i, e in enumerate(sla.escalations)]
    return out


def at_risk_from(sla: Sla, entered: dt.datetime, hours: WorkingHours) -> dt.datetime | None:
    if not sla.at_risk_minutes:
        return None
    return add(entered, sla.deadline_minutes - sla.at_risk_minutes, hours if sla.working_hours else None)
