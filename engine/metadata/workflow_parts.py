"""Build the parts of a workflow state that involve people and time - review tasks (countersign),
deadlines with reminders and escalations, notifications when lines are reduced - and the app's
working hours that deadlines count in. Each part is checked against the roles, states and
transitions it names."""
from __future__ import annotations

import datetime as dt
import zoneinfo

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from engine.metadata.model import Entity, Escalation, Label, Notify, Reduction, Reminder, Review, Sla, WorkingHours

_TEMPLATES = SandboxedEnvironment()
NOTIFY_RELATIONS = ("owner", "owner_manager")
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


def working_hours(ctx, file, doc, spec: dict | None) -> WorkingHours:
    """The app's working time (app.yaml `working_hours`); Monday to Friday 09:00-18:00 UTC by default."""
    if not spec:
        return WorkingHours()
    tz = spec.get("timezone", "UTC")
    try:
        zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        ctx.add("E044", file, doc, ("working_hours", "timezone"), f"'{tz}' is not a timezone this machine knows")
        tz = "UTC"
    start = _minute(spec.get("start", "09:00"))
    end = _minute(spec.get("end", "18:00"))
    if end <= start:
        ctx.add("E044", file, doc, ("working_hours", "end"), f"the working day ends ({spec.get('end')}) before it starts ({spec.get('start', '09:00')})")
        end = start + 1
    holidays = set()
    for i, h in enumerate(spec.get("holidays", ())):
        try:
            holidays.add(dt.date.fromisoformat(str(h)))
        except ValueError:
            ctx.add("E044", file, doc, ("working_hours", "holidays", i), f"'{h}' is not a date (YYYY-MM-DD)")
    days = tuple(sorted(_DAYS.index(d) for d in spec.get("days", _DAYS[:5])))
    return WorkingHours(tz, days, start, end, frozenset(holidays))


def _minute(hhmm: str) -> int:
    h, m = hhmm.split(":")
    return int(h) * 60 + int(m)


def duration(text: str, hours: WorkingHours | None) -> int:
    """Minutes in '30m', '4h', '2d'; with working hours a day is one working day."""
    n, unit = int(text[:-1]), text[-1]
    if unit == "m":
        return n
    if unit == "h":
        return n * 60
    return n * ((hours.end_minute - hours.start_minute) if hours is not None else 24 * 60)


def review(ctx, file, doc, path: tuple, spec: dict, roles: dict) -> Review:
    for i, r in enumerate(spec["roles"]):
        if roles and r not in roles:
            ctx.add("E031", file, doc, path + ("roles", i), f"the review names role '{r}', which is not in roles.yaml")
    rule = spec.get("rule", "all")
    at_least = 0
    if isinstance(rule, dict):
        at_least = rule["at_least"]
        rule = "at_least"
        if at_least > len(spec["roles"]):
            ctx.add("E042", file, doc, path + ("rule", "at_least"), f"at_least {at_least} approvals can never be reached with "
                    f"{len(spec['roles'])} reviewing roles")
    return Review(tuple(spec["roles"]), rule, at_least, spec.get("on_approved"), spec.get("on_rejected"))


def check_review(ctx, file, doc, state: str, rv: Review, transitions: dict) -> None:
    """on_approved/on_rejected must be transitions that leave the review's state."""
    for key in ("on_approved", "on_rejected"):
        name = getattr(rv, key)
        if name is None:
            continue
        t = transitions.get(name)
        if t is None or state not in t.sources:
            ctx.add("E042", file, doc, ("states", state, "review", key), f"{key} names '{name}', which is not a transition out of '{state}'")


def sla(ctx, file, doc, path: tuple, spec: dict, roles: dict, hours: WorkingHours, people: frozenset = frozenset()) -> Sla:
    wh = bool(spec.get("working_hours", False))
    unit = hours if wh else None
    deadline = duration(spec["deadline"], unit)
    at_risk = duration(spec["at_risk"], unit) if "at_risk" in spec else 0
    if at_risk >= deadline and deadline:
        ctx.add("E043", file, doc, path + ("at_risk",), f"at_risk ({spec['at_risk']}) must be shorter than the deadline ({spec['deadline']})")
    reminders = []
    for i, r in enumerate(spec.get("reminders", ())):
        before = duration(r["before"], unit)
        if before >= deadline:
            ctx.add("E043", file, doc, path + ("reminders", i, "before"), f"a reminder {r['before']} before a deadline of {spec['deadline']} "
                    f"would come before the record even arrives")
        _check_notify(ctx, file, doc, path + ("reminders", i, "notify"), r["notify"], roles, people)
        reminders.append(Reminder(before, tuple(r["notify"]), channels(ctx, file, doc, path + ("reminders", i), r)))
    escalations = []
    for i, e in enumerate(spec.get("escalations", ())):
        _check_notify(ctx, file, doc, path + ("escalations", i, "notify"), e.get("notify", ()), roles, people)
        if "channels" in e and "notify" not in e:
            ctx.add("E043", file, doc, path + ("escalations", i, "channels"), "channels: says how the people of notify: hear of it; "
                    "this escalation names no one", key=True)
        escalations.append(Escalation(duration(e["after"], unit), tuple(e.get("notify", ())), channels(ctx, file, doc, path + ("escalations", i), e),
                                      e.get("reassign"), e.get("fire")))
    return Sla(deadline, wh, at_risk, tuple(reminders), tuple(escalations))


def check_sla(ctx, file, doc, state: str, s: Sla, transitions: dict) -> None:
    for i, e in enumerate(s.escalations):
        if e.fire is not None and (e.fire not in transitions or state not in transitions[e.fire].sources):
            ctx.add("E043", file, doc, ("states", state, "sla", "escalations", i, "fire"),
                    f"the escalation fires '{e.fire}', which is not a transition out of '{state}'")


def reduction(ctx, file, doc, path: tuple, spec: dict, ent: Entity, entities: dict, roles: dict) -> Reduction | None:
    tf = ent.fields.get(spec["table"])
    if tf is None or tf.type != "table":
        if tf is not None or not ctx.failed.field(ent.name, spec["table"]):
            ctx.add("E015", file, doc, path + ("table",), f"'{spec['table']}' is not a table field of {ent.name}")
        return None
    child = entities.get(tf.entity)
    q = child.fields.get(spec["quantity"]) if child is not None else None
    if q is None or q.type not in ("integer", "decimal"):
        if q is not None or not ctx.failed.field(tf.entity, spec["quantity"]):
            ctx.add("E015", file, doc, path + ("quantity",), f"'{spec['quantity']}' is not a number field of {tf.entity}")
        return None
    _check_notify(ctx, file, doc, path + ("notify",), spec["notify"], roles, people_of(ent))
    return Reduction(tf.name, q.name, tuple(spec["notify"]))


def notify(ctx, file, doc, path: tuple, specs: list, roles: dict, people: frozenset = frozenset()) -> tuple[Notify, ...]:
    out = []
    for i, n in enumerate(specs):
        _check_notify(ctx, file, doc, path + (i, "to"), n["to"], roles, people)
        _check_templates(ctx, file, doc, path + (i, "message"), Label.of(n["message"]), "message")
        subject = Label.of(n["subject"]) if "subject" in n else None
        if subject is not None:
            _check_templates(ctx, file, doc, path + (i, "subject"), subject, "subject")
        chans = channels(ctx, file, doc, path + (i,), n)
        if subject is not None and "email" not in chans:
            ctx.add("E043", file, doc, path + (i, "subject"), "subject: is the subject of an e-mail; add email to channels: or drop it", key=True)
        out.append(Notify(tuple(n["to"]), Label.of(n["message"]), chans, subject))
    return tuple(out)


def _check_templates(ctx, file, doc, path: tuple, label: Label, what: str) -> None:
    """E043 for each language's text of a notification's message or subject that is not a valid template."""
    for lang, text in label.texts.items():
        try:
            _TEMPLATES.parse(text)
        except TemplateSyntaxError as exc:
            ctx.add("E043", file, doc, path, f"the {lang} {what} is not a valid template: {exc.message}")


def channels(ctx, file, doc, path: tuple, spec: dict) -> tuple[str, ...]:
    """A notify entry's `channels` (default: in_app); E043 for one that no connector carries."""
    chans = tuple(spec.get("channels", ("in_app",)))
    for i, c in enumerate(chans):
        if ctx.channels is not None and c not in ctx.channels:
            ctx.add("E043", file, doc, path + ("channels", i), f"notify sends by {c}, but no connector carries the {c} channel",
                    hint=f"add connectors/<name>.yaml with type: {c} and channel: true")
    return chans


def people_of(ent: Entity) -> frozenset:
    """The record's user fields (a specialist, a customer contact): notify lists may name them."""
    return frozenset(f.name for f in ent.fields.values() if f.type == "user")


def _check_notify(ctx, file, doc, path: tuple, names, roles: dict, people: frozenset = frozenset()) -> None:
    """Each name a relation (owner, owner_manager), a user field of the record, or a role."""
    if ctx.failed.roles:
        return  # roles.yaml failed its own checks: any of these may be one of its roles
    for i, r in enumerate(names):
        if r not in NOTIFY_RELATIONS and r not in people and (not roles or r not in roles):
            fields = f", a user field of the record ({', '.join(sorted(people))})" if people else ""
            ctx.add("E043", file, doc, path + (i,), f"notify names '{r}', which is neither a role in roles.yaml{fields} nor one of: "
                    f"{', '.join(NOTIFY_RELATIONS)}")
