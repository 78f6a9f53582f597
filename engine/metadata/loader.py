"""Load an app folder, check everything, and build the frozen App model.

Order: parse every file (YAML problems), validate each against its JSON Schema, then build
entities and forms with cross-reference checks, then compile expressions. Problems of all
files are collected and raised together; the App is built only when there are none. What fails
its own checks is noted (engine.metadata.failures) so that the checks depending on it stay
quiet: each mistake is reported once, and independent mistakes all of them.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from collections import OrderedDict
from dataclasses import replace
from decimal import Decimal
from importlib import resources
from pathlib import Path
from types import MappingProxyType

import jsonschema
from referencing import Registry, Resource

from engine.core.values import BadValue, coerce
from engine.metadata import lookups, secrets
from engine.metadata import overlay as overlay_mod
from engine.metadata.codes import MetadataInvalid, Problem
from engine.metadata.failures import ANY, Failed
from engine.metadata.forms import build_form
from engine.metadata.graphs import dependency_order
from engine.metadata.model import (
    CHILD_SYSTEM_COLUMNS,
    RESERVED_ENTITY_NAMES,
    RESERVED_NAMES,
    SYSTEM_COLUMNS,
    App,
    Entity,
    Field,
    Form,
    Label,
    MenuModule,
    Option,
    Rule,
    Series,
    Workflow,
    WorkingHours,
)
from engine.metadata.overlay import Conflict
from engine.metadata.report import compile_or_report
from engine.metadata.roles import BASE_USER_ATTRIBUTES, build_roles, user_fields
from engine.metadata.schema_problems import validate
from engine.metadata.scopes import scope_for
from engine.metadata.workflow_parts import working_hours
from engine.metadata.workflows import build_workflow
from engine.metadata.yamlload import Document, Mark, parse

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
        self.failed = Failed()  # what failed its own checks: the checks depending on it stay quiet
        self.states: dict[str, frozenset] = {}  # entity -> the states its workflow names (the state field's options)

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


_LOADED: "OrderedDict[tuple, App]" = OrderedDict()  # recent loads by the files' fingerprint and the overlay


def _fingerprint(root) -> tuple:
    """What identifies the app's files as they are now: every file's path, size and modification time."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("__pycache__", "var", ".git"))
        for name in sorted(filenames):
            st = os.stat(os.path.join(dirpath, name))
            out.append((os.path.relpath(os.path.join(dirpath, name), root), st.st_size, st.st_mtime_ns))
    return tuple(out)


def load_app(root: str | os.PathLike, overlay: dict | None = None, strict: str | None = None) -> App:
    """Load and check the app in `root`; raise MetadataInvalid with every problem found. Loading the
    same files with the same overlay again gives the App already made (it is immutable), so a process
    that re-reads its metadata, or a test suite that starts many runtimes, checks it once."""
    key = (os.path.abspath(root), _fingerprint(root), json.dumps(overlay, sort_keys=True, default=str) if overlay else None, strict,
           hash(frozenset(os.environ.items())))  # ${VAR} references read the environment
    known = _LOADED.get(key)
    if known is None:
        known = _LOADED[key] = _load_app(root, overlay, strict)  # problems raise and are not kept
        while len(_LOADED) > 64:
            _LOADED.popitem(last=False)
    else:
        _LOADED.move_to_end(key)
    return known


def _load_app(root: str | os.PathLike, overlay: dict | None = None, strict: str | None = None) -> App:
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
    failed = ctx.failed

    def fails(kind: str, stem: str, data) -> None:
        """Note a document that failed to parse or validate, for the checks that depend on it."""
        if kind == "entity":
            failed.add_entity(stem, data)
        elif kind == "workflow":
            failed.add_workflow(data)
        elif kind == "roles":
            failed.roles = True

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
                fails(kind, p.stem, None)
                continue
            digest.update(file.encode() + b"\0" + text.encode() + b"\0")
            doc, problems = parse(text)
            for yp in problems:
                ctx.problems.append(Problem(yp.code, file, yp.mark.line, yp.mark.col, yp.message, "", yp.hint))
            if doc is None:
                fails(kind, p.stem, None)
                continue
            if not isinstance(doc.data, dict):
                ctx.add("E005", file, doc, (), f"a {kind} file must be a mapping of keys to values")
                fails(kind, p.stem, None)
                continue
            out.append((file, doc, p.stem))
        return out

    def validated(kind: str, docs: list) -> list[tuple[str, Document, str]]:
        out = []
        for file, doc, stem in docs:
            if validate(ctx, _VALIDATORS[kind], file, doc):
                out.append((file, doc, stem))
            else:
                fails(kind, stem, doc.data)
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
    # with a broken roles.yaml, its user fields are unknown: any user.<attribute> may be one
    ctx.user_attributes = ANY if failed.roles else BASE_USER_ATTRIBUTES | frozenset(ufields)
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
            failed.entities.add(stem)  # what names the file's name means this entity: reported once, here
        if name in RESERVED_ENTITY_NAMES:
            ctx.add("E025", file, doc, ("name",), f"'{name}' is a reserved name: the app's own pages use it", hint="pick another entity name")
            failed.add_entity(stem, doc.data)
            continue
        if name in raw_entities:
            ctx.add("E011", file, doc, ("name",), f"entity '{name}' is also defined in {raw_entities[name][0]}")
            continue
        raw_entities[name] = (file, doc)

    parents = _find_parents(ctx, raw_entities)
    entities: dict[str, Entity] = {}
    for name, (file, doc) in raw_entities.items():
        entities[name] = _build_entity(ctx, file, doc, raw_entities, parents.get(name))

    roles = build_roles(ctx, roles_doc[0], roles_doc[1], entities, ufields) if roles_doc else {}
    hours = working_hours(ctx, app_doc[0], app_doc[1], app_doc[1].data.get("working_hours")) if app_doc else WorkingHours()
    workflows: dict[str, Workflow] = {}
    for file, doc, stem in workflow_docs:
        if stem != doc.data["name"]:
            ctx.add("E010", file, doc, ("name",), f"workflow '{doc.data['name']}' is in a file named '{stem}'", hint=f"rename the file to {doc.data['name']}.yaml")
        if doc.data["entity"] in workflows:
            ctx.add("E011", file, doc, ("entity",), f"{doc.data['entity']} already follows the workflow in {workflows[doc.data['entity']].file}")
            continue
        if doc.data["entity"] not in entities and failed.entity(doc.data["entity"]):
            failed.workflows.add(doc.data["entity"])  # its entity's document failed: reported there
            continue
        wf = build_workflow(ctx, file, doc, entities, roles, ctx.user_attributes, hours)
        if wf is not None:
            workflows[wf.entity] = wf

    forms: dict[str, Form] = {}
    with_workflow = {doc.data["entity"] for _, doc, _ in workflow_docs}
    for file, doc, stem in form_docs:  # after roles and workflows: sections may name roles and states
        form = build_form(ctx, file, doc, stem, raw_entities, forms, roles, with_workflow)
        if form is not None:
            forms[form.name] = form

    app_data = app_doc[1].data if app_doc else {}
    menu = []
    for i, module in enumerate(app_data.get("menu", ())):
        for j, item in enumerate(module["items"]):
            if item not in raw_entities and not failed.entity(item):
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


def _find_parents(ctx: _Ctx, raw: dict) -> dict[str, tuple[str, str]]:
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


def _build_entity(ctx: _Ctx, file: str, doc: Document, raw: dict, parent) -> Entity:
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
    sortable = {n for n, f in fields.items() if f.type not in ("table", "json")} | system
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
    listable = {n for n, f in fields.items() if f.type not in ("table", "json")} | system
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
        co_owners=tuple(d.get("co_owners", ())),
        list_columns=tuple(d.get("list_columns", ())),
        list_filters=tuple(d.get("list_filters", ())),
        rules=tuple(rules),
        computed_order=tuple(order),
        file=file,
    )


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
