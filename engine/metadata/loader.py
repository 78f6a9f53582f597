"""Load an app folder, check everything, and build the frozen App model.

Order: parse every file (YAML problems), validate each against its JSON Schema, then build
entities and forms with cross-reference checks, then compile expressions. Problems of all
files are collected and raised together; the App is built only when there are none.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import replace
from decimal import Decimal
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import jsonschema
from referencing import Registry, Resource

from engine.expressions import Scope
from engine.metadata import secrets
from engine.metadata.codes import MetadataInvalid, Problem
from engine.metadata.report import compile_or_report
from engine.metadata.graphs import dependency_order
from engine.metadata.roles import BASE_USER_ATTRIBUTES, build_roles, user_fields
from engine.metadata.workflows import build_workflow
from engine.metadata.workflow_parts import working_hours
from engine.metadata.model import (
    RESERVED_ENTITY_NAMES,
    CHILD_SYSTEM_COLUMNS, RESERVED_NAMES, SYSTEM_COLUMNS, App, Entity, Field, Fill, Form, FormField, FormSection, Label, MenuModule, Option,
    Rule, Series, Show, Source, Workflow, WorkingHours,
)
from engine.metadata import overlay as overlay_mod
from engine.metadata.overlay import Conflict
from engine.metadata.yamlload import Document, Mark, parse
from engine.values import BadValue, coerce, kind_of


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
    "computed": {"expression", "result", "precision", "scale", "label", "help", "indexed"},
}
_NEEDS = {"select": ("options",), "link": ("entity",), "table": ("entity",), "computed": ("expression", "result")}
_NOT_FOR = {"table": {"default", "default_expr", "unique", "indexed", "searchable", "read_only", "fill", "immutable_once_set"},
            "computed": {"default", "default_expr", "required", "unique", "read_only", "searchable", "immutable_once_set"},
            "json": {"unique", "indexed", "searchable"}}
_SERIES_RX = re.compile(r"^[^{}]*(\{(YYYY|YY|MM|DD)\}[^{}]*)*\{#{3,12}\}[^{}#]*(\{(YYYY|YY|MM|DD)\}[^{}]*)*$")


def _schemas() -> dict:
    base = resources.files("engine.metadata") / "schemas"
    out = {}
    for name in ("defs", "entity", "form", "app", "roles", "workflow", "overlay"):
        out[name] = json.loads((base / f"{name}.json").read_text(encoding="utf-8"))
    return out


_SCHEMAS = _schemas()
_REGISTRY = Registry().with_resources(
    (s["$id"], Resource.from_contents(s)) for s in _SCHEMAS.values()
)
_VALIDATORS = {
    kind: jsonschema.Draft202012Validator(_SCHEMAS[kind], registry=_REGISTRY) for kind in ("entity", "form", "app", "roles", "workflow")
}
_OVERLAY = jsonschema.Draft202012Validator(_SCHEMAS["overlay"], registry=_REGISTRY)


class _Ctx:
    """Collects problems while loading, with the document each one points into."""

    def __init__(self):
        self.problems: list[Problem] = []
        self.user_attributes = BASE_USER_ATTRIBUTES  # plus roles.yaml's user_fields

    def add(self, code: str, file: str, doc: Document | None, path: tuple, message: str, key: bool = False, hint: str = "", col_offset: int = 0):
        if doc is None:
            line, col = 1, 1
        else:
            m = doc.key_mark(path) if key else doc.mark(path)
            line, col = m.line, m.col + col_offset
        self.problems.append(Problem(code, file, line, col, message, _path_str(path), hint))


def _path_str(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def load_app(root: str | os.PathLike, overlay: dict | None = None, strict: str | None = None) -> App:
    """Load and check the app in `root`; raise MetadataInvalid with every problem found.

    `overlay` ({form: piece}, the admin changes kept in the database) is laid over the base
    documents before they are checked. A piece that no longer fits is set aside and listed in
    App.overlay_conflicts, so the app still starts with the rest. With `strict` (a form's name),
    any problem in that form's piece raises OverlayRefused instead: the designer refusing a change."""
    if not overlay:
        app, problems, _, _ = _load(root, None)
        if problems:
            raise MetadataInvalid(problems)
        return app
    aside: list[Conflict] = []
    pieces = {}
    for form, piece in overlay.items():
        errors = sorted(_OVERLAY.iter_errors(piece), key=lambda e: list(map(str, e.absolute_path)))
        if errors:
            detail = f"{'/'.join(map(str, errors[0].absolute_path)) or 'piece'}: {errors[0].message}"
            if form == strict:
                raise OverlayRefused(form, [("*", "", f"the change is malformed: {detail}")])
            aside.append(Conflict(form, "*", "", f"the stored admin changes are malformed ({detail}) and are set aside"))
        else:
            pieces[form] = piece
    for _ in range(12):
        app, problems, by_piece, conflicts = _load(root, pieces)
        mine = [(c.kind, c.name, c.message) for c in conflicts if c.form == strict]
        mine += [(kind, name, "; ".join(f"{p.code} {p.message}" for p in ps)) for (form, kind, name), ps in by_piece.items() if form == strict]
        if mine:
            raise OverlayRefused(strict, mine)
        if not by_piece and problems and pieces:
            if _load(root, None)[1]:
                raise MetadataInvalid(problems)  # the base itself has problems
            # the overlay breaks the base in a way no single piece explains: set all of it aside
            by_piece = {(form, "*", ""): problems for form in pieces}
        if not by_piece:
            if problems:
                raise MetadataInvalid(problems)
            return replace(app, overlay_conflicts=tuple(aside + conflicts))
        for (form, kind, name), ps in by_piece.items():
            aside.append(Conflict(form, kind, name, "; ".join(f"{p.code} {p.message}" for p in ps)))
            pieces = overlay_mod.without(pieces, form, kind, name)
    raise MetadataInvalid(problems)  # pragma: no cover - each round sets a piece aside


class OverlayRefused(MetadataInvalid):
    """A change from the designer that does not pass the checks: (kind, name, message) per problem."""

    def __init__(self, form: str, issues: list[tuple[str, str, str]]):
        self.form = form
        self.issues = issues
        super().__init__([Problem("E045", f"overlay:forms/{form}.yaml", 1, 1, m, f"{k} {n}".strip()) for k, n, m in issues])


def _load(root, overlay: dict | None):
    """(App or None, problems of the base, {(form, kind, name): problems} of overlay pieces, conflicts)."""
    root_path = Path(root)
    ctx = _Ctx()
    shown = str(root)
    if not root_path.is_dir():
        return None, [Problem("E030", shown, 1, 1, f"app folder '{shown}' does not exist")], {}, []
    digest = hashlib.sha256()
    broken: set[str] = set()  # entities whose file has schema problems: known by name, not built

    def parse_all(kind: str, sub: str, names: tuple[str, ...] | None = None) -> list[tuple[str, Document, str]]:
        folder = root_path / sub if sub else root_path
        if not folder.is_dir():
            return []
        files = sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file() and (names is None or p.name in names))
        out = []
        for p in files:
            file = os.path.join(shown, sub, p.name) if sub else os.path.join(shown, p.name)
            try:
                text = p.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                ctx.problems.append(Problem("E001", file, 1, 1, "file is not UTF-8 text", "", "save the file as UTF-8"))
                continue
            digest.update(file.encode() + b"\0" + text.encode() + b"\0")
            doc, problems = parse(text)
            for yp in problems:
                ctx.problems.append(Problem(yp.code, file, yp.mark.line, yp.mark.col, yp.message, "", yp.hint))
            if doc is None:
                continue
            if not isinstance(doc.data, dict):
                ctx.add("E005", file, doc, (), f"a {kind} file must be a mapping of keys to values")
                continue
            out.append((file, doc, p.stem))
        return out

    def validated(kind: str, docs: list) -> list[tuple[str, Document, str]]:
        out = []
        for file, doc, stem in docs:
            if _validate(ctx, kind, file, doc):
                out.append((file, doc, stem))
            elif kind == "entity" and isinstance(doc.data.get("name"), str):
                broken.add(doc.data["name"])
        return out

    def read(kind: str, sub: str, names: tuple[str, ...] | None = None) -> list[tuple[str, Document, str]]:
        return validated(kind, parse_all(kind, sub, names))

    app_files = [f for f in ("app.yaml", "app.yml") if (root_path / f).is_file()]
    app_doc = None
    if app_files:
        docs = read("app", "", ("app.yaml", "app.yml"))
        app_doc = docs[0] if docs else None
    roles_docs = read("roles", "", ("roles.yaml", "roles.yml"))
    roles_doc = roles_docs[0] if roles_docs else None
    ufields = user_fields(roles_doc[1].data) if roles_doc else {}
    ctx.user_attributes = BASE_USER_ATTRIBUTES | frozenset(ufields)
    entity_docs = parse_all("entity", "entities")
    form_docs = parse_all("form", "forms")
    provenance: dict[str, tuple[str, dict]] = {}  # file -> (form, {path: piece})
    conflicts: list[Conflict] = []
    if overlay:
        digest.update(json.dumps(overlay, sort_keys=True, default=str).encode())
        entity_docs, form_docs = _lay_overlay(shown, overlay, entity_docs, form_docs, provenance, conflicts)
    entity_docs = validated("entity", entity_docs)
    form_docs = validated("form", form_docs)
    workflow_docs = read("workflow", "workflows")
    if not entity_docs and not ctx.problems:
        ctx.problems.append(Problem("E030", os.path.join(shown, "entities"), 1, 1, "no entity files found"))

    raw_entities: dict[str, tuple[str, Document]] = {}
    for file, doc, stem in entity_docs:
        name = doc.data["name"]
        if stem != name:
            ctx.add("E010", file, doc, ("name",), f"entity '{name}' is in a file named '{stem}'", hint=f"rename the file to {name}.yaml")
        if name in RESERVED_ENTITY_NAMES:
            ctx.add("E025", file, doc, ("name",), f"'{name}' is a reserved name: the app's own pages use it", hint="pick another entity name")
            continue
        if name in raw_entities:
            ctx.add("E011", file, doc, ("name",), f"entity '{name}' is also defined in {raw_entities[name][0]}")
            continue
        raw_entities[name] = (file, doc)

    parents = _find_parents(ctx, raw_entities)
    entities: dict[str, Entity] = {}
    for name, (file, doc) in raw_entities.items():
        ent = _build_entity(ctx, file, doc, raw_entities, parents.get(name), broken)
        if ent is not None:
            entities[name] = ent

    roles = build_roles(ctx, roles_doc[0], roles_doc[1], entities, ufields) if roles_doc else {}
    hours = working_hours(ctx, app_doc[0], app_doc[1], app_doc[1].data.get("working_hours")) if app_doc else WorkingHours()
    workflows: dict[str, Workflow] = {}
    for file, doc, stem in workflow_docs:
        if stem != doc.data["name"]:
            ctx.add("E010", file, doc, ("name",), f"workflow '{doc.data['name']}' is in a file named '{stem}'", hint=f"rename the file to {doc.data['name']}.yaml")
        if doc.data["entity"] in workflows:
            ctx.add("E011", file, doc, ("entity",), f"{doc.data['entity']} already follows the workflow in {workflows[doc.data['entity']].file}")
            continue
        if doc.data["entity"] in broken:
            continue
        wf = build_workflow(ctx, file, doc, entities, roles, ctx.user_attributes, hours)
        if wf is not None:
            workflows[wf.entity] = wf

    forms: dict[str, Form] = {}
    for file, doc, stem in form_docs:  # after roles and workflows: sections may name roles and states
        form = _build_form(ctx, file, doc, stem, raw_entities, forms, entities, roles, workflows)
        if form is not None:
            forms[form.name] = form

    app_data = app_doc[1].data if app_doc else {}
    menu = []
    for i, module in enumerate(app_data.get("menu", ())):
        for j, item in enumerate(module["items"]):
            if item not in raw_entities and item not in broken:
                ctx.add("E012", app_doc[0], app_doc[1], ("menu", i, "items", j), f"the menu names '{item}', which is not an entity")
            elif item in raw_entities and raw_entities[item][1].data.get("child"):
                ctx.add("E012", app_doc[0], app_doc[1], ("menu", i, "items", j), f"'{item}' is a child entity; its records are opened through their parent")
        menu.append(MenuModule(Label.of(module["label"]), module.get("icon"), tuple(module["items"])))
    if ctx.problems:
        base, by_piece = _attribute(ctx.problems, provenance)
        return None, base, by_piece, conflicts
    languages = tuple(app_data.get("languages", ("en", "zh", "ru")))
    return App(
        name=app_data.get("name", root_path.resolve().name.replace("-", "_")),
        label=Label.of(app_data.get("label"), app_data.get("name", "App")),
        root=str(root_path.resolve()),
        languages=languages,
        default_language=app_data.get("default_language", languages[0]),
        entities=MappingProxyType(entities),
        forms=MappingProxyType(forms),
        plugins_dir=str((root_path / app_data["plugins_dir"]).resolve()) if "plugins_dir" in app_data else None,
        menu=tuple(menu),
        roles=MappingProxyType(roles),
        workflows=MappingProxyType(workflows),
        user_fields=MappingProxyType(ufields),
        fingerprint=digest.hexdigest(),
        working_hours=hours,
    ), [], {}, conflicts


def _lay_overlay(shown: str, overlay: dict, entity_docs: list, form_docs: list, provenance: dict, conflicts: list) -> tuple[list, list]:
    """The parsed entity and form documents with each form's piece laid over them (forms an overlay
    creates for an entity without a form file start from the entity's default layout)."""
    entities = {d.data.get("name"): i for i, (_, d, _) in enumerate(entity_docs) if isinstance(d.data.get("name"), str)}
    forms = {stem: i for i, (_, _, stem) in enumerate(form_docs)}
    entity_docs, form_docs = list(entity_docs), list(form_docs)
    for form, piece in overlay.items():
        if form not in entities:
            conflicts.append(Conflict(form, "*", "", f"'{form}' is no longer an entity; its admin changes are set aside"))
            continue
        efile, edoc, estem = entity_docs[entities[form]]
        if not isinstance(edoc.data.get("fields"), dict):
            continue  # the base entity is broken: reported as its own problem
        data, found, prov = overlay_mod.apply_entity(form, edoc.data, piece)
        conflicts += found
        if prov:
            entity_docs[entities[form]] = (efile, Document(data, edoc.marks), estem)
            provenance[efile] = (form, prov)
        if form in forms:
            ffile, fdoc, fstem = form_docs[forms[form]]
            base = fdoc.data
        else:
            ffile, fdoc, fstem = os.path.join(shown, "forms", f"{form}.yaml"), Document({}, {(): Mark(1, 1)}), form
            base = overlay_mod.default_form(data)
        fields = set(data["fields"])
        effective, found, prov = overlay_mod.apply_form(form, base, piece, fields)
        conflicts += found
        doc = Document(effective, fdoc.marks)
        if form in forms:
            form_docs[forms[form]] = (ffile, doc, fstem)
        else:
            form_docs.append((ffile, doc, fstem))
        provenance[ffile] = (form, prov)
    return entity_docs, form_docs


def _attribute(problems: list[Problem], provenance: dict) -> tuple[list[Problem], dict]:
    """Split problems into the base's and those of the overlay pieces that wrote where they point."""
    base, by_piece = [], {}
    for p in problems:
        form, prov = provenance.get(p.file, (None, {}))
        owner = overlay_mod.owner_of(prov, p.path) if prov else None
        if owner is None:
            base.append(p)
        else:
            by_piece.setdefault((form, *owner), []).append(p)
    return base, by_piece


def _validate(ctx: _Ctx, kind: str, file: str, doc: Document) -> bool:
    errors = list(_VALIDATORS[kind].iter_errors(doc.data))
    # report the most specific error per location, once
    seen = set()
    for err in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.validator)):
        for e in _leaves(err):
            path = tuple(e.absolute_path)
            code, msg, key = _schema_message(e)
            if (path, code, msg) in seen:
                continue
            seen.add((path, code, msg))
            if code == "E003":
                ctx.add(code, file, doc, path + (msg.split("'")[1],), msg, key=True)
            else:
                ctx.add(code, file, doc, path, msg, key=key)
    return not errors


_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean"}


def _leaves(err):
    """For oneOf/anyOf failures, report the branch written for the value's own type."""
    if err.validator in ("oneOf", "anyOf") and err.context:
        kind = _JSON_TYPES.get(type(err.instance), "number")
        same = [e for e in err.context
                if isinstance(e.relative_schema_path[0], int)
                and err.validator_value[e.relative_schema_path[0]].get("type") == kind]
        if same:
            return [x for e in same for x in _leaves(e)]
        best = jsonschema.exceptions.best_match(err.context)
        return [best] if best is not None else [err]
    return [err]


def _schema_message(e) -> tuple[str, str, bool]:
    v = e.validator
    if v == "additionalProperties":
        extra = sorted(set(e.instance) - set(e.schema.get("properties", {}))) if isinstance(e.instance, dict) else []
        name = extra[0] if extra else "?"
        allowed = sorted(e.schema.get("properties", {}))
        return "E003", f"unknown property '{name}'" + (f"; allowed here: {', '.join(allowed)}" if allowed else ""), True
    if v == "required":
        return "E004", f"missing required property: {e.message.split(' is a required')[0]}", False
    if v == "type":
        expected = e.validator_value if isinstance(e.validator_value, str) else " or ".join(e.validator_value)
        return "E005", f"expected {expected}, got {kind_of(e.instance, 'a mapping')}", False
    if v in ("pattern", "propertyNames") or (v == "pattern" and "a-z" in str(e.validator_value)):
        if "a-z][a-z0-9_]" in str(e.schema) or v == "propertyNames":
            return "E007", f"'{e.instance if v == 'pattern' else e.message}' is not a valid name", v == "propertyNames"
        return "E006", f"'{e.instance}' does not have the expected form ({e.validator_value})", False
    if v == "enum":
        return "E006", f"'{e.instance}' is not allowed; use one of: {', '.join(map(str, e.validator_value))}", False
    return "E006", e.message, False


def _find_parents(ctx: _Ctx, raw: dict) -> dict[str, tuple[str, str]]:
    """child entity -> (parent entity, table field), checking table fields point at children."""
    parents: dict[str, list[tuple[str, str, str, Document]]] = {}
    for name, (file, doc) in raw.items():
        for fname, spec in doc.data["fields"].items():
            if spec.get("type") != "table" or "entity" not in spec:
                continue
            target = spec["entity"]
            if target not in raw:
                continue  # reported as E012 when the field is built
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
        if len(users) != 1:
            where = ", ".join(f"{p}.{f}" for p, f, _, _ in users) or "none"
            ctx.add("E019", file, doc, ("child",), f"child entity '{name}' is used by {len(users)} table fields ({where}); it needs exactly one")
            continue
        result[name] = (users[0][0], users[0][1])
    return result


def _build_entity(ctx: _Ctx, file: str, doc: Document, raw: dict, parent, broken: set) -> Entity | None:
    d = doc.data
    name = d["name"]
    is_child = bool(d.get("child"))
    before = len(ctx.problems)
    reserved = set(CHILD_SYSTEM_COLUMNS if is_child else SYSTEM_COLUMNS) | RESERVED_NAMES
    fields: dict[str, Field] = {}
    for fname, spec in d["fields"].items():
        path = ("fields", fname)
        if fname in reserved:
            ctx.add("E025", file, doc, path, f"'{fname}' is a reserved name", key=True)
            continue
        if spec.get("entity") in broken:
            return None  # its target has problems of its own, reported there
        f = _build_field(ctx, file, doc, path, fname, spec, raw)
        if f is not None:
            fields[fname] = f

    system = set(CHILD_SYSTEM_COLUMNS if is_child else SYSTEM_COLUMNS)
    sortable = {n for n, f in fields.items() if f.type not in ("table", "json")} | system
    sort_spec = d.get("default_sort", "-created_at" if not is_child else "idx")
    if sort_spec.lstrip("-") not in sortable:
        ctx.add("E015", file, doc, ("default_sort",), f"default_sort names '{sort_spec.lstrip('-')}', which is not a sortable field of {name}")
    default_sort = [(sort_spec.lstrip("-"), sort_spec.startswith("-"))]
    search_fields = tuple(d.get("search_fields", ()))
    for i, fn in enumerate(search_fields):
        if fn not in fields or fields[fn].value_type not in ("string", "text", "email", "phone", "url", "select"):
            ctx.add("E015", file, doc, ("search_fields", i), f"search_fields names '{fn}', which is not a text field of {name}")
    search_fields = tuple(dict.fromkeys(search_fields + tuple(n for n, f in fields.items() if f.searchable)))
    title_field = d.get("title_field")
    if title_field is not None and title_field not in fields:
        ctx.add("E015", file, doc, ("title_field",), f"title_field '{title_field}' is not a field of {name}")
    if title_field is None:
        title_field = next((n for n, f in fields.items() if f.series), None) or next(
            (n for n, f in fields.items() if f.type == "string"), None)
    listable = {n for n, f in fields.items() if f.type not in ("table", "json")} | system
    for key in ("list_columns", "list_filters"):
        for i, fn in enumerate(d.get(key, ())):
            if fn not in listable:
                ctx.add("E015", file, doc, (key, i), f"{key} names '{fn}', which is not a stored field of {name}")
    indexes = []
    for i, cols in enumerate(d.get("indexes", ())):
        for j, c in enumerate(cols):
            if c not in sortable:
                ctx.add("E015", file, doc, ("indexes", i, j), f"index names '{c}', which is not a stored field of {name}")
        indexes.append(tuple(cols))
    for i, fn in enumerate(d.get("co_owners", ())):
        if is_child or fn not in fields or fields[fn].type != "user":
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
            changes["fill"] = _build_fill(ctx, file, doc, ("fields", fname, "fill"), spec["fill"], fields, raw, parent)
        if "show" in spec:
            changes["show"] = _build_show(ctx, file, doc, ("fields", fname, "show"), spec["show"], fields, raw, parent)
        if changes:
            fields[fname] = replace(f, **changes)

    # expressions: computed values, expression defaults, rules
    scope = _scope_for(fields, raw, is_child, ctx.user_attributes)
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
        if r.get("field") and r["field"] not in fields:
            ctx.add("E015", file, doc, ("rules", i, "field"), f"rule names field '{r['field']}', which is not a field of {name}")
        if e is not None:
            rules.append(Rule(e, Label.of(r["message"]), r.get("field")))
    order = _computed_order(ctx, file, doc, deps)
    if len(ctx.problems) > before:
        return None
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
        co_owners=tuple(d.get("co_owners", ())),
        list_columns=tuple(d.get("list_columns", ())),
        list_filters=tuple(d.get("list_filters", ())),
        rules=tuple(rules),
        computed_order=tuple(order),
        file=file,
    )


def _lookup_fields(entity: str, raw: dict) -> set[str]:
    """Names usable on a looked-up entity: its fields, `id`, and `parent.<field>` for a child."""
    data = raw[entity][1].data
    names = set(data.get("fields", {})) | {"id"}
    if data.get("child"):
        for other, (_, odoc) in raw.items():
            for spec in odoc.data.get("fields", {}).values():
                if isinstance(spec, dict) and spec.get("type") == "table" and spec.get("entity") == entity:
                    names |= {f"parent.{n}" for n in odoc.data.get("fields", {})} | {"parent.id"}
    return names


def _context_names(fields: dict, raw: dict, parent) -> set[str]:
    """Names a lookup may take its values from: this record's fields, then its parent's."""
    names = set(fields) | {"id"}
    if parent is not None and parent[0] in raw:
        names |= set(raw[parent[0]][1].data.get("fields", {}))
    return names


def _check_match(ctx, file, doc, path, match: dict, entity: str, raw: dict, here: set) -> tuple:
    known = _lookup_fields(entity, raw)
    for key, value in match.items():
        if key not in known:
            ctx.add("E015", file, doc, path + (key,), f"'{key}' is not a field of {entity}", key=True)
        if value not in here:
            ctx.add("E015", file, doc, path + (key,), f"'{value}' is not a field of this record or its parent")
    return tuple(match.items())


def _build_fill(ctx, file, doc, path, spec: dict, fields: dict, raw: dict, parent):
    here = _context_names(fields, raw, parent)
    sources = []
    for i, src in enumerate(spec["from"]):
        p = path + ("from", i)
        if src["entity"] not in raw:
            ctx.add("E012", file, doc, p + ("entity",), f"'{src['entity']}' is not an entity; known: {', '.join(sorted(raw))}")
            continue
        known = _lookup_fields(src["entity"], raw)
        match = _check_match(ctx, file, doc, p + ("match",), src["match"], src["entity"], raw, here)
        for key in ("take", "latest"):
            if key in src and src[key] not in known:
                ctx.add("E015", file, doc, p + (key,), f"'{src[key]}' is not a field of {src['entity']}")
        sources.append(Source(src["entity"], match, src["take"], src.get("latest")))
    on = tuple(spec.get("on", ()))
    for i, n in enumerate(on):
        if n not in fields:
            ctx.add("E015", file, doc, path + ("on", i), f"'{n}' is not a field of this entity")
    if not on:  # by default: the fields of this record that the first source matches on
        on = tuple(dict.fromkeys(v for s in sources[:1] for _, v in s.match if v in fields))
    return Fill(on, tuple(sources))


def _build_show(ctx, file, doc, path, spec: dict, fields: dict, raw: dict, parent):
    if spec["entity"] not in raw:
        ctx.add("E012", file, doc, path + ("entity",), f"'{spec['entity']}' is not an entity; known: {', '.join(sorted(raw))}")
        return None
    match = _check_match(ctx, file, doc, path + ("match",), spec["match"], spec["entity"], raw, _context_names(fields, raw, parent))
    known = set(raw[spec["entity"]][1].data.get("fields", {}))
    for i, c in enumerate(spec["columns"]):
        if c not in known:
            ctx.add("E015", file, doc, path + ("columns", i), f"'{c}' is not a field of {spec['entity']}")
    return Show(spec["entity"], match, tuple(spec["columns"]), Label.of(spec["label"]) if "label" in spec else None)


def _scope_for(fields: dict, raw: dict, is_child: bool, user_attributes: frozenset) -> Scope:
    system = CHILD_SYSTEM_COLUMNS if is_child else SYSTEM_COLUMNS
    values = frozenset(n for n, f in fields.items() if f.type != "table") | frozenset(system)
    tables = {}
    for n, f in fields.items():
        if f.type == "table" and f.entity in raw:
            tables[n] = frozenset(raw[f.entity][1].data["fields"]) | frozenset(CHILD_SYSTEM_COLUMNS)
    return Scope(values=values, tables=tables, objects={"user": user_attributes})


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
    if t in ("link", "table") and "entity" in spec and spec["entity"] not in raw:
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


_WIDGETS = {"input": None, "textarea": {"string", "text"}, "radio": {"select"}, "select": {"select"},
            "checkbox": {"boolean"}, "date": {"date"}, "currency": {"decimal"}}


def _build_form(ctx, file, doc, stem, raw, forms, entities: dict, roles: dict, workflows: dict) -> Form | None:
    d = doc.data
    entity = d["entity"]
    before = len(ctx.problems)
    if entity not in raw:
        ctx.add("E016", file, doc, ("entity",), f"form for '{entity}', which is not an entity; known: {', '.join(sorted(raw))}")
        return None
    if stem in forms:
        ctx.add("E011", file, doc, (), f"form '{stem}' is defined twice")
        return None
    efields = raw[entity][1].data["fields"]
    seen: set = set()
    sections = []
    tabs = []
    groups = [(None, ("sections",), d["sections"])] if "sections" in d else \
        [(t, ("tabs", ti, "sections"), tab["sections"]) for ti, tab in enumerate(d["tabs"]) for t in [ti]]
    if "tabs" in d:
        tabs = [Label.of(t["label"]) for t in d["tabs"]]
    ent = entities.get(entity)
    scope = _scope_for(ent.fields, raw, False, ctx.user_attributes) if ent is not None else None
    wf = workflows.get(entity)

    def condition(path, source):
        return compile_or_report(ctx, file, doc, path, source, scope) if scope is not None else None
    names: dict[str, tuple] = {}
    for path, part in [(("tabs", ti), t) for ti, t in enumerate(d.get("tabs", ()))] + [(base + (i,), sec) for _, base, secs in groups for i, sec in enumerate(secs)]:
        if "name" in part:
            key = (path[0] == "tabs" and len(path) == 2, part["name"])
            if key in names:
                ctx.add("E011", file, doc, path + ("name",), f"the name '{part['name']}' is given twice on this form")
            names[key] = path
    for tab, base, secs in groups:
        for i, sec in enumerate(secs):
            for k, r in enumerate(sec.get("roles", ())):
                if roles and r not in roles:
                    ctx.add("E031", file, doc, base + (i, "roles", k), f"the section is for role '{r}', which is not in roles.yaml")
            for k, st in enumerate(sec.get("states", ())):
                if wf is None or st not in wf.states:
                    ctx.add("E038", file, doc, base + (i, "states", k), f"'{st}' is not a state of {entity}'s workflow"
                            if wf is not None else f"{entity} has no workflow, so a section cannot depend on its state")
            fields = []
            for j, item in enumerate(sec["fields"]):
                path = base + (i, "fields", j)
                name = item if isinstance(item, str) else item["field"]
                if name not in efields:
                    ctx.add("E017", file, doc, path, f"'{name}' is not a field of {entity}")
                    continue
                if name in seen:
                    ctx.add("E018", file, doc, path, f"'{name}' is already on this form")
                    continue
                seen.add(name)
                if isinstance(item, str):
                    fields.append(FormField(name))
                    continue
                widget = item.get("widget")
                ftype = efields[name].get("type") if isinstance(efields[name], dict) else None
                if widget and _WIDGETS[widget] is not None and ftype not in _WIDGETS[widget]:
                    ctx.add("E014", file, doc, path + ("widget",), f"widget '{widget}' does not fit a {ftype} field; it fits {', '.join(sorted(_WIDGETS[widget]))}")
                conds = {k: condition(path + (k,), item[k]) if k in item else None for k in ("visible_when", "required_when", "readonly_when")}
                fields.append(FormField(name, *(Label.of(item[k]) if k in item else None for k in ("label", "help", "placeholder")), widget,
                                        **conds, required_message=Label.of(item["required_message"]) if "required_message" in item else None,
                                        required=bool(item.get("required", False))))
            sections.append(FormSection(Label.of(sec["label"]) if "label" in sec else None, sec.get("columns", 2), tuple(fields), tab,
                                        condition(base + (i, "visible_when"), sec["visible_when"]) if "visible_when" in sec else None,
                                        tuple(sec.get("roles", ())), tuple(sec.get("states", ()))))
    for k, name in enumerate(d.get("hidden", ())):
        spec = efields.get(name)
        if not isinstance(spec, dict):
            ctx.add("E017", file, doc, ("hidden", k), f"'{name}' is not a field of {entity}")
        elif name in seen:
            ctx.add("E018", file, doc, ("hidden", k), f"'{name}' is on the form and left off it at once")
        elif spec.get("required") and not any(key in spec for key in ("default", "default_expr", "series", "fill")):
            ctx.add("E046", file, doc, ("hidden", k), f"'{name}' is required and has no default, so it cannot be left off the form")
    if len(ctx.problems) > before:
        return None
    return Form(stem, entity, Label.of(d["label"]) if "label" in d else None, tuple(sections), tuple(tabs), file, tuple(d.get("hidden", ())))


def base_documents(root: str | os.PathLike, entity: str) -> tuple[dict, dict, Path]:
    """The implementer's documents for `entity`, as parsed from its files: (entity document, form
    document, the form file's path). An entity without a form file gets its default layout."""
    root_path = Path(root)

    def parsed(sub: str) -> tuple[dict | None, Path]:
        for suffix in (".yaml", ".yml"):
            p = root_path / sub / f"{entity}{suffix}"
            if p.is_file():
                doc, _ = parse(p.read_text(encoding="utf-8"))
                return (doc.data if doc is not None and isinstance(doc.data, dict) else None), p
        return None, root_path / sub / f"{entity}.yaml"
    edoc, _ = parsed("entities")
    fdoc, fpath = parsed("forms")
    edoc = edoc or {"name": entity, "fields": {}}
    return edoc, fdoc if fdoc is not None else overlay_mod.default_form(edoc), fpath
