"""Report documents (reports/*.yaml) checked and built into Report models.

A report adds up one entity's records: filters (declared like a list's, with defaults such as "this
year"), at most two dimensions to group by (a field, a link's title, a user, a date by day, week,
month, quarter or year, the workflow's state), and measures (count, sum, avg, min, max of a field,
a count of the records where a condition holds, the ratio of two measures). Checked here, with file
and line: the source is a top-level entity; every name is a field of it that can be filtered,
grouped or added up as asked (sum and avg take numbers, min and max numbers and dates); a `where`
compiles to SQL; a ratio names two other measures; the sort names a column; the roles exist."""
from __future__ import annotations

import re

from sqlalchemy import column

from engine.core.values import BadValue, coerce
from engine.expressions.language import ExpressionError, Scope
from engine.expressions.to_sql import to_sql
from engine.metadata.model import SYSTEM_COLUMNS, Dimension, Entity, Field, Label, Measure, Report, ReportFilter
from engine.metadata.report import compile_or_report

DATE_RANGES = ("today", "this_week", "this_month", "this_quarter", "this_year", "last_7_days", "last_30_days", "last_12_months",
               "last_month", "last_year")
BUCKETS = ("day", "week", "month", "quarter", "year")
# the system columns a report may filter or group by, as fields
SYSTEM_FIELDS = {
    "owner": Field("owner", "user", Label.of({"en": "Owner", "zh": "负责人", "ru": "Ответственный"})),
    "created_by": Field("created_by", "user", Label.of({"en": "Created by", "zh": "创建人", "ru": "Создал"})),
    "owner_team": Field("owner_team", "user", Label.of({"en": "Team", "zh": "团队", "ru": "Команда"})),  # the owner's manager
    "created_at": Field("created_at", "datetime", Label.of({"en": "Created", "zh": "创建时间", "ru": "Создано"})),
    "updated_at": Field("updated_at", "datetime", Label.of({"en": "Changed", "zh": "修改时间", "ru": "Изменено"})),
}
def _label(en: str, zh: str, ru: str) -> Label:
    return Label.of({"en": en, "zh": zh, "ru": ru})


# what a workflow leaves behind, as rows a report may add up (`facts:`): each row belongs to one record of
# the source, whose scope and fields apply; these are the row's own fields, beside the record's
FACT_FIELDS = {
    "history": {  # every transition: sys_workflow_history
        "transition": Field("transition", "string", _label("Transition", "流转", "Переход")),
        "from_state": Field("from_state", "state", _label("State left", "离开的状态", "Из состояния")),
        "to_state": Field("to_state", "state", _label("State entered", "进入的状态", "В состояние")),
        "moved_by": Field("moved_by", "user", _label("By", "操作人", "Кем")),
        "moved_at": Field("moved_at", "datetime", _label("When", "时间", "Когда")),
        "hours_in_state": Field("hours_in_state", "decimal", _label("Hours in the state", "在该状态的小时数", "Часов в состоянии"), scale=1),
    },
    "deadlines": {  # the deadline of every state entered that has one: sys_timer
        "state": Field("state", "state", _label("State", "状态", "Состояние")),
        "due_at": Field("due_at", "datetime", _label("Due", "截止时间", "Срок")),
        "outcome": Field("outcome", "outcome", _label("Outcome", "结果", "Итог")),  # met, missed, open
    },
    "reviews": {  # every department's review task: sys_review_task
        "department": Field("department", "role", _label("Department", "部门", "Отдел")),
        "decision": Field("decision", "decision", _label("Decision", "意见", "Решение")),  # approved, rejected, pending, skipped, closed
        "round": Field("round", "integer", _label("Round", "轮次", "Круг")),
        "decided_by": Field("decided_by", "user", _label("Decided by", "评审人", "Кто решил")),
        "decided_at": Field("decided_at", "datetime", _label("Decided", "评审时间", "Когда решено")),
    },
}
_IDENTIFIER = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_GROUPABLE = ("string", "select", "link", "user", "boolean", "date", "datetime", "integer", "email", "phone", "url", "state", "role",
              "outcome", "decision")
_NUMBERS = ("integer", "decimal")


def field_of(ent: Entity, name: str, facts: str | None = None, child: Entity | None = None) -> Field | None:
    """A field a report may name: a field of its workflow facts' rows or of its lines (`child`), one of the entity's
    stored fields, or a system column."""
    if facts and name in FACT_FIELDS[facts]:
        return FACT_FIELDS[facts][name]
    if child is not None and name in child.fields and child.fields[name].stored:
        return child.fields[name]
    f = ent.fields.get(name)
    if f is not None:
        return f if f.stored else None
    return SYSTEM_FIELDS.get(name)


def build_report(ctx, file: str, doc, stem: str, entities: dict[str, Entity], roles: dict, workflows: dict) -> Report | None:
    d = doc.data
    before = len(ctx.problems)
    name = d["name"]
    if stem != name:
        ctx.add("E010", file, doc, ("name",), f"report '{name}' is in a file named '{stem}'", hint=f"rename the file to {name}.yaml")
    ent = entities.get(d["source"])
    if ent is None or ent.child:
        ctx.failed.reports.add(name)
        if not ctx.failed.entity(d["source"]):
            ctx.add("E053", file, doc, ("source",), f"'{d['source']}' is not a top-level entity of the app; known: "
                    + ", ".join(sorted(n for n, e in entities.items() if not e.child)))
        return None
    facts = d.get("facts")
    if facts and ent.name not in workflows:
        if not ctx.failed.states_unknown(ent.name):  # a workflow that failed its own checks was reported
            ctx.add("E053", file, doc, ("facts",), f"{ent.name} has no workflow: its records leave no {facts} to add up")
        ctx.failed.reports.add(d["name"])
        return None
    child = None
    if "lines" in d:
        tf = ent.fields.get(d["lines"])
        if tf is None or tf.type != "table" or facts:
            ctx.add("E053", file, doc, ("lines",), f"'{d['lines']}' is not a table field of {ent.name}" if not facts
                    else "a report adds up lines or the workflow's facts, not both")
            ctx.failed.reports.add(name)
            return None
        child = entities.get(tf.entity)
        if child is None:
            ctx.failed.reports.add(name)
            return None
    for i, role in enumerate(d.get("roles", ())):
        if roles and role not in roles and not ctx.failed.roles:
            ctx.add("E053", file, doc, ("roles", i), f"'{role}' is not a role of roles.yaml; known: {', '.join(sorted(roles))}")
    filters = []
    for i, spec in enumerate(d.get("filters", ())):
        spec = {"field": spec} if isinstance(spec, str) else spec
        f = _named(ctx, file, doc, ("filters", i), ent, spec["field"], facts, child)
        if f is None:
            continue
        if f.name == "owner_team":
            ctx.add("E053", file, doc, ("filters", i, "field"), "a report groups by owner_team; it filters by owner")
            continue
        if f.value_type in ("json", "file", "text") or (facts and f.name in FACT_FIELDS[facts] and f.value_type != "datetime"):
            ctx.add("E053", file, doc, ("filters", i, "field"), f"'{f.name}' is a {f.value_type} field: reports do not filter by it"
                    + (" (of the workflow's rows, a report filters by their time only)" if facts and f.name in FACT_FIELDS[facts] else ""))
            continue
        default = spec.get("default")
        if default is not None:
            if f.value_type in ("date", "datetime"):
                if default not in DATE_RANGES:
                    ctx.add("E053", file, doc, ("filters", i, "default"), f"a date's default is a period: one of {', '.join(DATE_RANGES)}")
                    continue
            else:
                try:
                    coerce(f, str(default).lower() if isinstance(default, bool) else str(default), from_query=True)
                except BadValue as exc:
                    ctx.add("E053", file, doc, ("filters", i, "default"), f"default {default!r} does not fit {f.name}: {exc}")
                    continue
        filters.append(ReportFilter(f.name, default))
    dims = []
    for i, spec in enumerate(d.get("group_by", ())):
        spec = {"field": spec} if isinstance(spec, str) else spec
        f = _named(ctx, file, doc, ("group_by", i), ent, spec["field"], facts, child)
        if f is None:
            continue
        if f.value_type not in _GROUPABLE:
            ctx.add("E053", file, doc, ("group_by", i), f"'{f.name}' is a {f.value_type} field: group by a choice, a link, a user, "
                    "a date or a short text")
            continue
        by = spec.get("by")
        if by and f.value_type not in ("date", "datetime"):
            ctx.add("E053", file, doc, ("group_by", i, "by"), f"'by' buckets dates; '{f.name}' is a {f.value_type} field")
            continue
        if f.value_type in ("date", "datetime") and not by:
            by = "day"
        label = Label.of(spec["label"]) if "label" in spec else f.label
        dims.append(Dimension(name=f.name if not by or by == "day" else f"{f.name}_{by}", field=f.name, type=f.value_type,
                              by=by, label=label, entity=f.entity))
    measures = _measures(ctx, file, doc, ent, d["measures"], facts, child)
    names = [x.name for x in dims] + [m.name for m in measures]
    for n in sorted({n for n in names if names.count(n) > 1}):
        ctx.add("E053", file, doc, (), f"'{n}' names two columns of the report; give a measure another name")
    sort = d.get("sort")
    if sort is not None and sort.lstrip("-") not in names:
        ctx.add("E053", file, doc, ("sort",), f"sort names '{sort.lstrip('-')}', which is not a column of the report: {', '.join(names)}")
    if len(ctx.problems) > before:
        ctx.failed.reports.add(name)
        return None
    return Report(
        name=name, label=Label.of(d["label"]), description=Label.of(d["description"]) if "description" in d else None,
        source=ent.name, roles=tuple(d["roles"]) if "roles" in d else None, filters=tuple(filters), group_by=tuple(dims),
        measures=tuple(measures), sort=(sort.lstrip("-"), sort.startswith("-")) if sort else None, limit=d.get("limit"),
        chart=d.get("chart", "bar" if dims else "number"), file=file, facts=facts, lines=d.get("lines"))


def _named(ctx, file, doc, path, ent: Entity, name: str, facts: str | None = None, child: Entity | None = None) -> Field | None:
    f = field_of(ent, name, facts, child)
    if f is None:
        if not ctx.failed.field(ent.name, name):
            known = sorted(n for n in [*ent.fields, *SYSTEM_FIELDS, *(FACT_FIELDS[facts] if facts else ()), *(child.fields if child else ())]
                           if field_of(ent, n, facts, child) is not None)
            ctx.add("E053", file, doc, path, f"'{name}' is not a field of {ent.name}; it has: {', '.join(known)}")
        return None
    return f


def _measures(ctx, file, doc, ent: Entity, specs: list, facts: str | None = None, child: Entity | None = None) -> list[Measure]:
    out: list[Measure] = []
    columns = {n: column(n) for n in [*ent.fields, *SYSTEM_COLUMNS] if n in SYSTEM_COLUMNS or ent.fields[n].stored}
    columns.update({n: column(n) for n in (FACT_FIELDS[facts] if facts else ())})
    columns.update({f.name: column(f.name) for f in (child.stored_fields() if child else ())})
    scope = Scope(values=frozenset(columns), tables={}, objects={"user": ctx.user_attributes})
    declared = {s["name"] for s in specs}
    for i, spec in enumerate(specs):
        path = ("measures", i)
        label = Label.of(spec.get("label"), spec["name"].replace("_", " ").capitalize())
        agg = next(k for k in ("count", "sum", "avg", "min", "max", "ratio") if k in spec)
        where = None
        if "where" in spec:
            where = compile_or_report(ctx, file, doc, (*path, "where"), spec["where"], scope)
            if where is None:
                continue
            try:
                to_sql(where, columns, {"user": {}})
            except ExpressionError as exc:
                ctx.add("E053", file, doc, (*path, "where"), f"{exc.message}: a report's condition must filter rows in the database")
                continue
        if agg == "ratio":
            a, b = spec["ratio"]
            bad = [n for n in (a, b) if n not in declared or n == spec["name"]]
            if bad or where is not None:
                ctx.add("E053", file, doc, (*path, "ratio"), "a ratio divides two other measures of the report, named in it"
                        if bad else "a ratio takes no 'where': give it to the measures it divides")
                continue
            out.append(Measure(spec["name"], label, "ratio", None, "decimal", None, (a, b), bool(spec.get("percent"))))
            continue
        if agg == "count":
            out.append(Measure(spec["name"], label, "count", None, "integer", where))
            continue
        if not _IDENTIFIER.match(spec[agg]):  # an expression in the dialect: `sum: "quantity * unit_price"`
            expr = compile_or_report(ctx, file, doc, (*path, agg), spec[agg], scope)
            if expr is None:
                continue
            try:
                to_sql(expr, columns, {"user": {}})
            except ExpressionError as exc:
                ctx.add("E053", file, doc, (*path, agg), f"{exc.message}: a report adds up what the database can compute")
                continue
            out.append(Measure(spec["name"], label, agg, None, "decimal", where, scale=2, expression=expr))
            continue
        f = _named(ctx, file, doc, (*path, agg), ent, spec[agg], facts, child)
        if f is None:
            continue
        ok = f.value_type in _NUMBERS or (agg in ("min", "max") and f.value_type in ("date", "datetime"))
        if not ok:
            ctx.add("E053", file, doc, (*path, agg), f"{agg} of '{f.name}', a {f.value_type} field: "
                    + ("sum and avg add up numbers" if agg in ("sum", "avg") else "min and max take numbers and dates"))
            continue
        result = "decimal" if agg == "avg" else f.value_type
        out.append(Measure(spec["name"], label, agg, f.name, result, where, scale=f.scale))
    return out


def covering_index(report: Report, ent: Entity) -> tuple[str, ...]:
    """The columns of an index that answers the report from the index alone, whoever runs it: its groups and the date its
    default period filters, the owner (own and team scopes), and what it adds up. Empty for a report of the workflow's rows, or one that needs no more than one column."""
    if report.facts or report.lines:
        return ()
    stored = {f.name for f in ent.stored_fields()} | set(SYSTEM_COLUMNS)
    dates = [f.field for f in report.filters if f.default is not None and field_of(ent, f.field).value_type in ("date", "datetime")]
    groups = [d.field for d in report.group_by]
    # groups of values first: the database adds up in their order, reading the period's range within each; a group of
    # dates by month (by week...) cannot come in index order, so there the period's range comes first
    cols = dates + groups if any(d.by for d in report.group_by) else groups + dates
    cols.append("owner")
    for m in report.measures:
        cols += [m.field] if m.field else []
        cols += sorted(m.where.names) if m.where is not None else []
    out = tuple(dict.fromkeys(c for c in cols if c in stored))
    return out if len(out) > 1 else ()


def list_index(card, ent: Entity) -> tuple[str, ...]:
    """The index a dashboard's short list walks: the fields it matches exactly, then its sort, then the id (a list of
    orders waiting for a decision, largest first, does not read past the others). Empty when it has no such filter."""
    stored = {f.name for f in ent.stored_fields()} | set(SYSTEM_COLUMNS)
    equal = [k for k, _ in card.filters if "__" not in k and k in stored]
    sort = (card.sort or "").lstrip("-")
    if not equal:
        return ()
    return tuple(dict.fromkeys([*equal, *([sort] if sort in stored else []), "id"]))


def lines_of(entities, report: Report) -> Entity | None:
    """The child entity whose lines a report adds up, or None."""
    if not report.lines:
        return None
    source = entities[report.source]
    return entities[source.fields[report.lines].entity]
