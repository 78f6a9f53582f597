"""Dashboard documents (dashboards/*.yaml) checked and built: cards of a report's figure (with the
previous period beside it), a report's chart, or a short list of an entity's records. Checked with
file and line (E054): the reports, their measures, the entities and the fields their filters and
sort name; the roles exist."""
from __future__ import annotations

from engine.metadata.model import SYSTEM_COLUMNS, Card, Dashboard, Entity, Label, Report


def build_dashboard(ctx, file: str, doc, stem: str, entities: dict[str, Entity], reports: dict[str, Report], roles: dict) -> Dashboard | None:
    d = doc.data
    before = len(ctx.problems)
    if stem != d["name"]:
        ctx.add("E010", file, doc, ("name",), f"dashboard '{d['name']}' is in a file named '{stem}'", hint=f"rename the file to {d['name']}.yaml")
    for i, role in enumerate(d.get("roles", ())):
        if roles and role not in roles and not ctx.failed.roles:
            ctx.add("E054", file, doc, ("roles", i), f"'{role}' is not a role of roles.yaml; known: {', '.join(sorted(roles))}")
    cards = []
    for i, spec in enumerate(d["cards"]):
        path = ("cards", i)
        kind = next(k for k in ("number", "chart", "list") if k in spec)
        label = Label.of(spec["label"]) if "label" in spec else None
        width = spec.get("width", 2 if kind == "chart" else 1)
        if kind in ("number", "chart"):
            r = reports.get(spec[kind])
            if r is None and spec[kind] in ctx.failed.reports:
                continue  # reported with the report itself
            if r is None:
                ctx.add("E054", file, doc, (*path, kind), f"'{spec[kind]}' is not a report; known: {', '.join(sorted(reports)) or 'none'}")
                continue
            if kind == "number" and spec["measure"] not in {m.name for m in r.measures}:
                ctx.add("E054", file, doc, (*path, "measure"), f"report {r.name} has no measure '{spec['measure']}'; it has: "
                        + ", ".join(m.name for m in r.measures))
                continue
            cards.append(Card(kind, label, width, report=r.name, measure=spec.get("measure"), compare=bool(spec.get("compare"))))
            continue
        ent = entities.get(spec["list"])
        if ent is None or ent.child:
            if not ctx.failed.entity(spec["list"]):
                ctx.add("E054", file, doc, (*path, "list"), f"'{spec['list']}' is not a top-level entity of the app")
            continue
        filters = []
        for key, value in (spec.get("filters") or {}).items():
            name = key.split("__")[0]
            if name not in ent.fields and name not in SYSTEM_COLUMNS:
                ctx.add("E054", file, doc, (*path, "filters", key), f"'{name}' is not a field of {ent.name}", key=True)
                continue
            filters.append((key, str(value).lower() if isinstance(value, bool) else str(value)))
        sort = spec.get("sort")
        if sort and sort.lstrip("-") not in ent.fields and sort.lstrip("-") not in SYSTEM_COLUMNS:
            ctx.add("E054", file, doc, (*path, "sort"), f"'{sort.lstrip('-')}' is not a field of {ent.name}")
            continue
        cards.append(Card("list", label, width, entity=ent.name, filters=tuple(filters), sort=sort, limit=spec.get("limit", 5)))
    if len(ctx.problems) > before:
        return None
    return Dashboard(d["name"], Label.of(d["label"]), tuple(d["roles"]) if "roles" in d else None, tuple(cards), file)
