"""Entity documents (entities/*.yaml) checked and built into Entity models: which entity is whose
child, each field's properties for its type, defaults, constraints, naming series, computed
fields in dependency order, lookups (fill and show), rules and conditions."""
from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from types import MappingProxyType

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from engine.core.values import BadValue, coerce
from engine.metadata import lookups, secrets
from engine.metadata.context import Ctx
from engine.metadata.graphs import dependency_order
from engine.metadata.model import (
    CHILD_SYSTEM_COLUMNS,
    RESERVED_NAMES,
    SYSTEM_COLUMNS,
    AttachmentRules,
    Entity,
    Field,
    Label,
    Option,
    Rule,
    Series,
    TimeView,
)
from engine.metadata.model import Document as DocumentSpec
from engine.metadata.report import compile_or_report
from engine.metadata.scopes import scope_for
from engine.metadata.yamlload import Document

# which optional properties each field type takes (type, label, help, required, read_only... fit all)
_COMMON = {"type", "label", "help", "required", "read_only", "immutable_once_set", "default", "default_expr", "indexed", "unique",
           "searchable", "fill"}
_TYPE_PROPS = {
    "string": {"min_length", "max_length", "pattern", "series"},
    "text": {"min_length", "max_length"},
    "integer": {"min", "max"},
    "decimal": {"min", "max", "precision", "scale"},
    "boolean": set(),
    "date": set(),
    "datetime": set(),
    "select": {"options"},
    "link": {"entity", "display_field", "show"},
    "table": {"entity"},
    "user": set(),
    "email": {"max_length"},
    "phone": set(),
    "url": set(),
    "json": set(),
    "file": {"max_size_mb", "types"},
    "computed": {"expression", "result", "precision", "scale", "label", "help", "indexed"},
}
_NEEDS = {"select": ("options",), "link": ("entity",), "table": ("entity",), "computed": ("expression", "result")}
_NOT_FOR = {"table": {"default", "default_expr", "unique", "indexed", "searchable", "read_only", "fill", "immutable_once_set"},
            "computed": {"default", "default_expr", "required", "unique", "read_only", "searchable", "immutable_once_set"},
            "json": {"unique", "indexed", "searchable"},
            "file": {"default", "default_expr", "unique", "indexed", "searchable", "fill"}}
_SERIES_RX = re.compile(r"^[^{}]*(\{(YYYY|YY|MM|DD)\}[^{}]*)*\{#{3,12}\}[^{}#]*(\{(YYYY|YY|MM|DD)\}[^{}]*)*$")



def find_parents(ctx: Ctx, raw: dict) -> dict[str, tuple[str, str]]:
    """child entity -> (parent entity, table field), checking table fields point at children."""
    parents: dict[str, list[tuple[str, str, str, Document]]] = {}
    dangling = False  # a table field naming no entity (reported): it may be meant for a child without a parent
    for name, (file, doc) in raw.items():
        for fname, spec in doc.data["fields"].items():
            if spec.get("type") != "table" or "entity" not in spec:
                continue
            target = spec["entity"]
            if target not in raw:
                dangling = True
                continue  # reported as E012 when the field is built (or quiet: that entity's document failed)
            tdoc = raw[target][1]
            if not tdoc.data.get("child"):
                ctx.add("E013", file, doc, ("fields", fname, "entity"), f"table field '{fname}' names '{target}', which is not a child entity",
                        hint=f"add child: true to {target}, or use a link field")
                continue
            if doc.data.get("child"):
                ctx.add("E013", file, doc, ("fields", fname), "a child entity cannot have table fields of its own")
                continue
            parents.setdefault(target, []).append((name, fname, file, doc))
    result = {}
    for name, (file, doc) in raw.items():
        if not doc.data.get("child"):
            continue
        users = parents.get(name, [])
        if not users and (dangling or ctx.failed.may_be_parent_of(name)):
            ctx.failed.orphans.add(name)  # its parent is likely in a document or a field that failed: reported there
            continue
        if len(users) != 1:
            where = ", ".join(f"{p}.{f}" for p, f, _, _ in users) or "none"
            ctx.add("E019", file, doc, ("child",), f"child entity '{name}' is used by {len(users)} table fields ({where}); it needs exactly one")
            continue
        result[name] = (users[0][0], users[0][1])
    return result


def build_entity(ctx: Ctx, file: str, doc: Document, raw: dict, parent) -> Entity:
    """The entity, built as far as its checks allow: a field that fails its own checks is left out
    and noted in ctx.failed, so that what names it (here and in other documents) stays quiet. With
    any problem the app is not started; the entity only serves the checks of what depends on it."""
    d = doc.data
    name = d["name"]
    is_child = bool(d.get("child"))
    reserved = set(CHILD_SYSTEM_COLUMNS if is_child else SYSTEM_COLUMNS) | RESERVED_NAMES
    fields: dict[str, Field] = {}
    for fname, spec in d["fields"].items():
        path = ("fields", fname)
        if fname in reserved:
            ctx.add("E025", file, doc, path, f"'{fname}' is a reserved name", key=True)
            continue
        f = _build_field(ctx, file, doc, path, fname, spec, raw)
        if f is not None:
            fields[fname] = f
    failed = ctx.failed.fields[name] = {n for n in d["fields"] if n not in fields}

    def unknown(n: str, known) -> bool:
        """Is `n` neither in `known` nor a field that failed (and so was reported already)?"""
        return n not in known and n not in failed

    system = set(CHILD_SYSTEM_COLUMNS if is_child else SYSTEM_COLUMNS)
    sortable = {n for n, f in fields.items() if f.type not in ("table", "json", "file")} | system
    sort_spec = d.get("default_sort", "-created_at" if not is_child else "idx")
    if unknown(sort_spec.lstrip("-"), sortable):
        ctx.add("E015", file, doc, ("default_sort",), f"default_sort names '{sort_spec.lstrip('-')}', which is not a sortable field of {name}")
    default_sort = [(sort_spec.lstrip("-"), sort_spec.startswith("-"))]
    search_fields = tuple(d.get("search_fields", ()))
    for i, fn in enumerate(search_fields):
        if unknown(fn, fields) or fn in fields and fields[fn].value_type not in ("string", "text", "email", "phone", "url", "select"):
            ctx.add("E015", file, doc, ("search_fields", i), f"search_fields names '{fn}', which is not a text field of {name}")
    search_fields = tuple(dict.fromkeys(search_fields + tuple(n for n, f in fields.items() if f.searchable)))
    title_field = d.get("title_field")
    if title_field is not None and unknown(title_field, fields):
        ctx.add("E015", file, doc, ("title_field",), f"title_field '{title_field}' is not a field of {name}")
    if title_field is None:
        title_field = next((n for n, f in fields.items() if f.series), None) or next(
            (n for n, f in fields.items() if f.type == "string"), None)
    listable = {n for n, f in fields.items() if f.type not in ("table", "json", "file")} | system
    for key in ("list_columns", "list_filters"):
        for i, fn in enumerate(d.get(key, ())):
            if unknown(fn, listable):
                ctx.add("E015", file, doc, (key, i), f"{key} names '{fn}', which is not a stored field of {name}")
    indexes = []
    for i, cols in enumerate(d.get("indexes", ())):
        for j, c in enumerate(cols):
            if unknown(c, sortable):
                ctx.add("E015", file, doc, ("indexes", i, j), f"index names '{c}', which is not a stored field of {name}")
        indexes.append(tuple(cols))
    duplicates = []
    for i, cols in enumerate(d.get("duplicates", ())):
        bad = [j for j, c in enumerate(cols) if unknown(c, sortable) or c in fields and fields[c].value_type in ("json", "file")]
        for j in bad:
            ctx.add("E015", file, doc, ("duplicates", i, j), f"duplicates names '{cols[j]}', which is not a stored field of {name} "
                    "(a text, number, date, choice or link)")
        if not bad:
            duplicates.append(tuple(cols))
    attachments = _attachments(d.get("attachments"))
    if attachments is not None and is_child:
        ctx.add("E050", file, doc, ("attachments",), f"{name} is a child entity: its lines take no attachments of their own "
                "(attach files to the parent record)")
        attachments = None
    if d.get("comments") and is_child:
        ctx.add("E050", file, doc, ("comments",), f"{name} is a child entity: its lines take no comments of their own "
                "(comment on the parent record)")
    views = _views(ctx, file, doc, d.get("views") or {}, fields, is_child, name, unknown)
    for i, fn in enumerate(d.get("co_owners", ())):
        if is_child or unknown(fn, fields) or fn in fields and fields[fn].type != "user":
            ctx.add("E034", file, doc, ("co_owners", i), f"co_owners names '{fn}', which is not a user field of {name}"
                    + (" (child entities follow their parent's owners)" if is_child else ""))
    # link display fields need the target's fields
    for fname, f in fields.items():
        if f.type == "link" and f.display_field and f.entity in raw:
            target_fields = raw[f.entity][1].data["fields"]
            if f.display_field not in target_fields and f.display_field not in SYSTEM_COLUMNS:
                ctx.add("E015", file, doc, ("fields", fname, "display_field"),
                        f"display_field '{f.display_field}' is not a field of {f.entity}")

    # lookups (fill, show) point at other entities' fields and at this record's (or its parent's)
    for fname, f in list(fields.items()):
        spec = d["fields"][fname]
        changes = {}
        if "fill" in spec:
            changes["fill"] = lookups.fill(ctx, file, doc, ("fields", fname, "fill"), spec["fill"], d["fields"], raw, parent, name)
        if "show" in spec:
            changes["show"] = lookups.show(ctx, file, doc, ("fields", fname, "show"), spec["show"], d["fields"], raw, parent, name)
        if changes:
            fields[fname] = replace(f, **changes)

    # expressions: computed values, expression defaults, rules
    scope = scope_for(d["fields"], raw, is_child, ctx)
    compiled: dict[str, Field] = {}
    deps: dict[str, set] = {}
    for fname, f in fields.items():
        spec = d["fields"][fname]
        changes = {}
        for key in ("expression", "default_expr"):
            if key in spec and fname in fields:
                e = compile_or_report(ctx, file, doc, ("fields", fname, key), spec[key], scope)
                if e is not None:
                    changes[key] = e
                    if key == "expression":
                        deps[fname] = set(e.names)
        if changes:
            compiled[fname] = replace(f, **changes)
    fields.update(compiled)
    rules = []
    for i, r in enumerate(d.get("rules", ())):
        e = compile_or_report(ctx, file, doc, ("rules", i, "check"), r["check"], scope)
        if r.get("field") and unknown(r["field"], fields):
            ctx.add("E015", file, doc, ("rules", i, "field"), f"rule names field '{r['field']}', which is not a field of {name}")
        if e is not None:
            rules.append(Rule(e, Label.of(r["message"]), r.get("field")))
    documents = _documents(ctx, file, doc, d.get("documents") or (), scope if not is_child else None, name)
    order = _computed_order(ctx, file, doc, deps)
    return Entity(
        name=name,
        label=Label.of(d.get("label"), name.replace("_", " ").capitalize()),
        label_plural=Label.of(d.get("label_plural") or d.get("label"), name.replace("_", " ").capitalize()),
        fields=MappingProxyType(fields),
        child=is_child,
        parent=parent[0] if parent else None,
        parent_field=parent[1] if parent else None,
        title_field=title_field,
        search_fields=search_fields,
        default_sort=tuple(default_sort),
        indexes=tuple(indexes),
        duplicates=tuple(duplicates),
        co_owners=tuple(d.get("co_owners", ())),
        list_columns=tuple(d.get("list_columns", ())),
        list_filters=tuple(d.get("list_filters", ())),
        rules=tuple(rules),
        computed_order=tuple(order),
        attachments=attachments,
        comments=bool(d.get("comments")) and not is_child,
        documents=documents,
        views=MappingProxyType(views),
        file=file,
    )


def _views(ctx: Ctx, file: str, doc: Document, specs: dict, fields: dict, is_child: bool, entity: str, unknown) -> dict:
    """The entity's calendar and Gantt chart (E015 for a name that is not the field it must be)."""
    out = {}
    dates = {n for n, f in fields.items() if f.value_type in ("date", "datetime")} | {"created_at", "updated_at"}
    for kind, spec in specs.items():
        if is_child:
            ctx.add("E015", file, doc, ("views", kind), f"{entity} is a child entity: its lines show with the parent record")
            continue
        start = spec.get("date") or spec.get("start")
        bad = 0
        for key in ("date", "start", "end"):
            if key in spec and unknown(spec[key], dates):
                ctx.add("E015", file, doc, ("views", kind, key), f"{key} names '{spec[key]}', which is not a date or time field of {entity}")
                bad += 1
        for i, n in enumerate(spec.get("title", ())):
            if unknown(n, fields):
                ctx.add("E015", file, doc, ("views", kind, "title", i), f"title names '{n}', which is not a field of {entity}")
                bad += 1
        for key, types in (("color", ("select",)), ("group", ("select", "link", "user"))):
            n = spec.get(key)
            if n is not None and (unknown(n, fields) or n in fields and fields[n].value_type not in types) and n != "owner":
                ctx.add("E015", file, doc, ("views", kind, key), f"{key} names '{n}', which is not a {' or '.join(types)} field of {entity}")
                bad += 1
        after = spec.get("depends_on")
        if after is not None and (unknown(after, fields) or after in fields and (fields[after].type != "link" or fields[after].entity != entity)):
            ctx.add("E015", file, doc, ("views", kind, "depends_on"), f"depends_on names '{after}', which is not a link field of {entity} to {entity}")
            bad += 1
        if not bad:
            out[kind] = TimeView(kind, start, spec.get("end"), tuple(spec.get("title", ())), spec.get("color"), spec.get("group"), after)
    return out


def _documents(ctx: Ctx, file: str, doc: Document, specs, scope, entity: str) -> tuple:
    """The entity's printable documents: each template a file inside the app folder (E051), each `when` an expression."""
    out, seen = [], set()
    for i, spec in enumerate(specs):
        if spec["name"] in seen:
            ctx.add("E015", file, doc, ("documents", i, "name"), f"document '{spec['name']}' is named twice on {entity}")
            continue
        seen.add(spec["name"])
        if scope is None:
            ctx.add("E050", file, doc, ("documents",), f"{entity} is a child entity: its lines print with the parent record")
            return ()
        choices = spec.get("templates") or [{"template": spec["template"]}]
        templates = []
        for j, choice in enumerate(choices):
            where = ("documents", i, "templates", j) if "templates" in spec else ("documents", i)
            when = compile_or_report(ctx, file, doc, (*where, "when"), choice["when"], scope) if choice.get("when") else None
            path = _template_path(ctx.root, choice["template"])
            if path is None:
                ctx.add("E051", file, doc, (*where, "template"), f"document template '{choice['template']}' is not a file inside the app folder")
                continue
            broken = _template_problem(path)
            if broken:
                ctx.add("E052", file, doc, (*where, "template"), f"{choice['template']}:{broken}")
                continue
            templates.append((when, path))
        if templates:
            out.append(DocumentSpec(spec["name"], Label.of(spec["label"]), tuple(templates)))
    return tuple(out)


def _template_problem(path) -> str | None:
    """Why a document template does not compile ("12: unexpected '}'"), or None."""
    try:
        SandboxedEnvironment().parse(path.read_text(encoding="utf-8"), name=path.name)
    except TemplateSyntaxError as exc:
        return f"{exc.lineno}: {exc.message}"
    except (UnicodeDecodeError, OSError) as exc:
        return f"1: cannot be read as UTF-8 text ({type(exc).__name__})"
    return None


def _template_path(root, name: str):
    if root is None:
        return None
    base = root.resolve()
    path = (base / name).resolve()
    if base not in path.parents or not path.is_file() or path.suffix.lower() not in (".html", ".htm"):
        return None
    return path


def _attachments(spec) -> AttachmentRules | None:
    """`attachments: true`, or its limits (checked by the entity schema already)."""
    if spec is None or spec is False:
        return None
    if spec is True:
        return AttachmentRules()
    mb = spec.get("max_size_mb")
    return AttachmentRules(max_bytes=int(mb * 1048576) if mb is not None else None, types=tuple(t.lower() for t in spec.get("types", ())),
                           max_count=spec.get("max_count"))


def _computed_order(ctx, file, doc, deps: dict[str, set]) -> list[str]:
    order, cycles = dependency_order({n: sorted(d) for n, d in deps.items()})
    for cycle in cycles:
        ctx.add("E027", file, doc, ("fields", cycle[0], "expression"), "cycle: " + " -> ".join(cycle))
    return order


def _build_field(ctx, file, doc, path, fname, spec: dict, raw: dict) -> Field | None:
    t = spec["type"]
    before = len(ctx.problems)
    allowed = (_COMMON | _TYPE_PROPS[t]) - _NOT_FOR.get(t, set())
    if t == "computed":
        allowed = _TYPE_PROPS[t] | {"type"}
    for key in spec:
        if key not in allowed:
            ctx.add("E014", file, doc, path + (key,), f"'{key}' does not apply to a {t} field", key=True)
    for key in _NEEDS.get(t, ()):
        if key not in spec:
            ctx.add("E014", file, doc, path, f"a {t} field needs '{key}'")
    if t in ("link", "table") and "entity" in spec and spec["entity"] not in raw and not ctx.failed.entity(spec["entity"]):
        ctx.add("E012", file, doc, path + ("entity",), f"'{spec['entity']}' is not an entity; known: {', '.join(sorted(raw))}")
    if t == "link" and spec.get("entity") in raw and raw[spec["entity"]][1].data.get("child"):
        ctx.add("E012", file, doc, path + ("entity",), f"'{spec['entity']}' is a child entity; link to its parent instead")
    if t == "computed" and spec.get("result") != "decimal" and ("precision" in spec or "scale" in spec):
        ctx.add("E014", file, doc, path, "precision and scale apply to computed fields with result: decimal")
    # constraint consistency
    lo, hi = spec.get("min"), spec.get("max")
    if lo is not None and hi is not None and lo > hi:
        ctx.add("E028", file, doc, path + ("min",), f"min {lo} is greater than max {hi}")
    if spec.get("min_length") is not None and spec.get("max_length") is not None and spec["min_length"] > spec["max_length"]:
        ctx.add("E028", file, doc, path + ("min_length",), "min_length is greater than max_length")
    if spec.get("scale") is not None and spec.get("precision") is not None and spec["scale"] > spec["precision"]:
        ctx.add("E028", file, doc, path + ("scale",), "scale is greater than precision")
    if "pattern" in spec:
        try:
            re.compile(spec["pattern"])
        except re.error as exc:
            ctx.add("E028", file, doc, path + ("pattern",), f"pattern is not a valid regular expression: {exc}")
    series = None
    if "series" in spec:
        s = spec["series"]
        if not _SERIES_RX.match(s) or s.count("{#") != 1:
            ctx.add("E026", file, doc, path + ("series",), f"'{s}' is not a naming series")
        else:
            series = Series(s, int(re.search(r"\{(#+)\}", s).group(1).count("#")))
    options = tuple(
        Option(o, Label.of(o)) if isinstance(o, str) else Option(o["value"], Label.of(o.get("label"), o["value"]))
        for o in spec.get("options", ())
    )
    if len({o.value for o in options}) != len(options):
        ctx.add("E011", file, doc, path + ("options",), "an option value is listed twice")
    if len(ctx.problems) > before:
        return None
    field = Field(
        name=fname, type=t, label=Label.of(spec.get("label"), fname.replace("_", " ").capitalize()),
        help=Label.of(spec["help"]) if "help" in spec else None,
        required=spec.get("required", False), unique=spec.get("unique", False), indexed=spec.get("indexed", False),
        read_only=spec.get("read_only", False) or series is not None, searchable=spec.get("searchable", False),
        immutable_once_set=bool(spec.get("immutable_once_set", False)),
        min=Decimal(str(lo)) if lo is not None else None, max=Decimal(str(hi)) if hi is not None else None,
        min_length=spec.get("min_length"), max_length=spec.get("max_length"), pattern=spec.get("pattern"),
        precision=spec.get("precision", 18 if t in ("decimal", "computed") else None),
        scale=spec.get("scale", 2 if t in ("decimal", "computed") else None),
        options=options, entity=spec.get("entity"),
        display_field=spec.get("display_field") or (
            (raw[spec["entity"]][1].data.get("title_field") or _guess_title(raw[spec["entity"]][1].data)) if t == "link" and spec.get("entity") in raw else None),
        result=spec.get("result"), series=series, line=doc.mark(path).line,
        accepts=_attachments({k: spec[k] for k in ("max_size_mb", "types") if k in spec}) if t == "file" else None,
    )
    if "default" in spec:
        given = spec["default"]
        if secrets.is_secret_name(fname) and t in ("string", "text") and given is not None and not secrets.is_reference(given):
            ctx.add("E035", file, doc, path + ("default",), f"'{fname}' holds a secret; its default must not be written in the metadata")
            return None
        try:
            given = secrets.resolve(given)
        except secrets.MissingVariable as exc:
            ctx.add("E036", file, doc, path + ("default",), f"the environment variable {exc.name} is not set")
            return None
        try:
            value = coerce(field, given, from_query=False)
        except BadValue as exc:
            shown = "the value of " + spec["default"] if secrets.is_reference(spec["default"]) else repr(spec["default"])
            ctx.add("E024", file, doc, path + ("default",), f"default {shown} does not fit: {exc}")
            return None
        field = replace(field, default=value)
    return field


def _guess_title(data: dict) -> str:
    fields = data.get("fields", {})
    for n, spec in fields.items():
        if isinstance(spec, dict) and spec.get("series"):
            return n
    for n, spec in fields.items():
        if isinstance(spec, dict) and spec.get("type") == "string":
            return n
    return "id"
