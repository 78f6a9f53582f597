"""Load an app folder, check everything, and build the frozen App model.

Order: parse every file (YAML problems, engine.metadata.yamlload), lay the stored admin changes
over the entity and form documents (engine.metadata.layering), validate each document against its
JSON Schema (engine.metadata.schema_problems), then build each kind with its cross-reference
checks and compiled expressions: entities (engine.metadata.entities), roles, workflows, forms,
and the app's menu here. Problems of all files are collected in one Ctx and raised together; the App is built only when there are none. What fails
its own checks is noted (engine.metadata.failures) so that the checks depending on it stay
quiet: each mistake is reported once, and independent mistakes all of them.
"""
from __future__ import annotations

import hashlib
import json
import os
from collections import OrderedDict
from dataclasses import replace
from pathlib import Path
from types import MappingProxyType

from engine.metadata import overlay as overlay_mod
from engine.metadata.codes import MetadataInvalid, Problem
from engine.metadata.connectors import build_connector, carried_channels, one_per_channel
from engine.metadata.context import Ctx
from engine.metadata.dashboards import build_dashboard
from engine.metadata.entities import build_entity, find_parents
from engine.metadata.failures import ANY
from engine.metadata.forms import build_form
from engine.metadata.layering import OverlayRefused, attribute, lay_overlay
from engine.metadata.model import (
    RESERVED_ENTITY_NAMES,
    App,
    Connector,
    Dashboard,
    Entity,
    Form,
    Label,
    MenuModule,
    Report,
    Workflow,
    WorkingHours,
)
from engine.metadata.overlay import Conflict
from engine.metadata.reports import build_report
from engine.metadata.roles import BASE_USER_ATTRIBUTES, build_roles, user_fields
from engine.metadata.schema_problems import OVERLAY, VALIDATORS, validate
from engine.metadata.workflow_parts import working_hours
from engine.metadata.workflows import build_workflow
from engine.metadata.yamlload import Document, parse

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
        errors = sorted(OVERLAY.iter_errors(piece), key=lambda e: list(map(str, e.absolute_path)))
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


def _load(root, overlay: dict | None):
    """(App or None, problems of the base, {(form, kind, name): problems} of overlay pieces, conflicts)."""
    root_path = Path(root)
    ctx = Ctx()
    ctx.root = root_path
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
        elif kind == "connector":
            failed.connectors = True
        elif kind == "report":  # a dashboard that names it stays quiet
            failed.reports.update({stem, *([data["name"]] if isinstance(data, dict) and isinstance(data.get("name"), str) else [])})

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
            if validate(ctx, VALIDATORS[kind], file, doc):
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
        entity_docs, form_docs = lay_overlay(shown, overlay, entity_docs, form_docs, provenance, conflicts)
    entity_docs = validated("entity", entity_docs)
    form_docs = validated("form", form_docs)
    workflow_docs = read("workflow", "workflows")
    connector_docs = read("connector", "connectors")
    report_docs = read("report", "reports")
    dashboard_docs = read("dashboard", "dashboards")
    ctx.channels = carried_channels(connector_docs, failed)
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

    parents = find_parents(ctx, raw_entities)
    entities: dict[str, Entity] = {}
    for name, (file, doc) in raw_entities.items():
        entities[name] = build_entity(ctx, file, doc, raw_entities, parents.get(name))

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
        else:  # it failed its own checks (reported): what names its states or transitions stays quiet
            failed.workflows.add(doc.data["entity"])

    forms: dict[str, Form] = {}
    with_workflow = {doc.data["entity"] for _, doc, _ in workflow_docs}
    for file, doc, stem in form_docs:  # after roles and workflows: sections may name roles and states
        form = build_form(ctx, file, doc, stem, raw_entities, forms, roles, with_workflow)
        if form is not None:
            forms[form.name] = form

    connectors: dict[str, Connector] = {}
    for file, doc, stem in connector_docs:  # after workflows: a trigger may name a state
        if doc.data["name"] in connectors:
            ctx.add("E011", file, doc, ("name",), f"connector '{doc.data['name']}' is also defined in {connectors[doc.data['name']].file}")
            continue
        c = build_connector(ctx, file, doc, stem, entities, workflows)
        if c is not None:
            connectors[c.name] = c
    one_per_channel(ctx, connector_docs)

    reports: dict[str, Report] = {}
    for file, doc, stem in report_docs:
        r = build_report(ctx, file, doc, stem, entities, roles, workflows)
        if r is not None:
            reports[r.name] = r
    dashboards: dict[str, Dashboard] = {}
    for file, doc, stem in dashboard_docs:
        b = build_dashboard(ctx, file, doc, stem, entities, reports, roles)
        if b is not None:
            dashboards[b.name] = b

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
        base, by_piece = attribute(ctx.problems, provenance)
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
        connectors=MappingProxyType(connectors),
        reports=MappingProxyType(reports),
        dashboards=MappingProxyType(dashboards),
        warnings=tuple(sorted(ctx.warnings, key=lambda w: (w.file, w.line))),
    ), [], {}, conflicts


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
