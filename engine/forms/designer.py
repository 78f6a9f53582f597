"""The form designer's service: the only way admin changes to forms are made.

An administrator's form (as the designer page arranged it) becomes an overlay piece
(engine.forms.diff.diff), which must pass the same loader as `run.py check` before
anything is written: a change with a problem is refused with the problem, and nothing is half
applied. A change that passes adds its custom fields' columns (an additive migration, no
restart), is stored as the form's next version with what changed, is audited like a record
change, and is put in force in this process at once and in every other process on the same
database within a second (Runtime.refresh). Any version can be restored the same way.
"""
from __future__ import annotations

import copy
import difflib
from dataclasses import dataclass
from pathlib import Path

from engine.app.runtime import Runtime
from engine.app.tables import schema_for
from engine.core.actor import Actor
from engine.core.errors import FieldError, Forbidden, NotFound, ValidationFailed
from engine.expressions.language import ExpressionError, Scope, compile_expression
from engine.forms.diff import changes as describe
from engine.forms.diff import diff, label_dict
from engine.forms.yaml_write import form_yaml, merged_yaml
from engine.metadata import overlay as ov
from engine.metadata.layering import OverlayRefused
from engine.metadata.loader import base_documents, load_app
from engine.metadata.model import CHILD_SYSTEM_COLUMNS, SYSTEM_COLUMNS, App, Entity, Label
from engine.metadata.roles import BASE_USER_ATTRIBUTES
from engine.records import Records
from engine.storage import audit, form_versions, migrate

CUSTOM_TYPES = ("string", "text", "integer", "decimal", "boolean", "date", "datetime", "select", "email", "phone", "url")


@dataclass(frozen=True)
class FieldInfo:
    """A field as the designer lists it (custom fields of an unsaved draft included)."""

    name: str
    label: Label
    type: str
    required: bool = False  # the entity requires it: every form must keep it
    custom: bool = False
    options: tuple = ()
    help: Label | None = None


@dataclass
class Editor:
    """What the designer shows for one form: the form in force (or a posted draft) and what may go on it."""

    entity: Entity
    doc: dict  # the effective form document; tabs and sections carry their keys as `name`
    tabs: list  # ov.structure(doc)
    has_tabs: bool
    hidden: list  # fields left off the form
    rest: list  # fields the form does not place (shown after its sections)
    custom: dict  # custom fields the admin added: {name: spec}
    number: int  # the version in force (0: the implementer's form as it is)
    conflicts: list  # ov.Conflict: admin changes set aside because the base changed under them
    fields: dict  # every field of the entity with the draft's custom fields: {name: FieldInfo}


def require_admin(rt: Runtime, actor: Actor) -> None:
    if not rt.records.permissions.grants(actor).admin:
        raise Forbidden("only administrators may change forms")


def _entity(rt: Runtime, name: str) -> Entity:
    ent = rt.app.entities.get(name)
    if ent is None or ent.child:
        raise NotFound(f"there is no form for '{name}'; forms exist for: {', '.join(e.name for e in rt.app.top_entities())}")
    return ent


def forms(rt: Runtime, actor: Actor) -> list[dict]:
    """Every form an administrator may change, with its version and any changes set aside."""
    require_admin(rt, actor)
    with rt.db.read() as conn:
        rows = {r["form"]: r for r in _latest(conn, rt)}
    return [{"entity": e, "number": rt.stored.numbers.get(e.name, 0), "last": rows.get(e.name),
             "conflicts": [c for c in rt.app.overlay_conflicts if c.form == e.name], "changed": bool(rt.stored.pieces.get(e.name))}
            for e in rt.app.top_entities()]


def _latest(conn, rt: Runtime):
    t = rt.schema.form_version
    from sqlalchemy import func, select
    newest = select(t.c.form, func.max(t.c.number).label("n")).group_by(t.c.form).subquery()
    return conn.execute(select(t).join(newest, (t.c.form == newest.c.form) & (t.c.number == newest.c.n))).mappings().all()


def _in_force(stored: form_versions.Stored, app: App, form: str) -> dict:
    """The form's stored piece without what the loader set aside."""
    overlay = {form: stored.pieces.get(form) or {}}
    for c in app.overlay_conflicts:
        if c.form == form:
            overlay = ov.without(overlay, form, c.kind, c.name)
    return overlay.get(form) or {}


def _overlay_with(rt: Runtime, form: str, piece: dict) -> dict:
    """The stored overlay with `piece` as the form's."""
    return {k: v for k, v in {**rt.stored.pieces, form: piece}.items() if v}


def _checked(rt: Runtime, form: str, piece: dict, prefix: str = "") -> App:
    """The app with `piece` in force for `form`, through the same loader as `run.py check`;
    ValidationFailed naming each problem of the piece."""
    try:
        return load_app(rt.app_dir, _overlay_with(rt, form, piece), strict=form)
    except OverlayRefused as exc:
        raise ValidationFailed([FieldError(f"{k}.{n}".rstrip("."), prefix + m) for k, n, m in exc.issues]) from None


def editor(rt: Runtime, actor: Actor, entity: str, doc: dict | None = None, custom: dict | None = None) -> Editor:
    """The designer for `entity`: the form in force, or the posted draft `doc` with its `custom` fields."""
    require_admin(rt, actor)
    ent = _entity(rt, entity)
    base_entity, base_form, _ = base_documents(rt.app_dir, entity)
    if doc is None:
        piece = _in_force(rt.stored, rt.app, entity)
        custom = {n: s for n, s in (piece.get("new_fields") or {}).items() if n in ent.fields and n not in (base_entity.get("fields") or {})}
        fields = set(base_entity.get("fields") or {}) | set(custom)
        doc, _, _ = ov.apply_form(entity, base_form, piece, fields)
    custom = custom or {}
    tabs, has_tabs = ov.structure(doc)
    fields_here = {n: FieldInfo(n, f.label, f.type, f.required and f.default is None and f.default_expr is None and not f.series,
                                n in custom, tuple(o.value for o in f.options), f.help)
                   for n, f in ent.fields.items() if n not in (rt.stored.pieces.get(entity, {}).get("new_fields") or {}) or n in custom}
    for n, spec in custom.items():
        fields_here.setdefault(n, FieldInfo(n, Label.of(spec.get("label"), n.replace("_", " ").capitalize()), spec.get("type", "string"), False, True,
                                            tuple(o if isinstance(o, str) else o.get("value") for o in spec.get("options") or ())))
    placed = {ov.field_name(it) for t in tabs for s in t["sections"] for it in s["fields"]}
    hidden = [n for n in doc.get("hidden") or () if n in fields_here]
    rest = [n for n in fields_here if n not in placed and n not in hidden]
    return Editor(ent, doc, tabs, has_tabs, hidden, rest, custom, rt.stored.numbers.get(entity, 0),
                  [c for c in rt.app.overlay_conflicts if c.form == entity], fields_here)


def suggest_name(label: str) -> str:
    """A field name made from its English label: 'Sales channel' -> sales_channel."""
    return ov.slug(label)


def _normalised(rt: Runtime, entity: str, doc: dict, custom: dict) -> dict:
    """The posted form without what only repeats the entity's own labels and help."""
    doc = copy.deepcopy(doc)
    ent = rt.app.entities[entity]
    own = {n: (f.label.as_dict(), f.help.as_dict() if f.help else None) for n, f in ent.fields.items()}
    own.update({n: (label_dict(s.get("label")) or {"en": n.replace("_", " ").capitalize()}, label_dict(s.get("help"))) for n, s in custom.items()})
    for t in doc.get("tabs") or [{"sections": doc.get("sections") or []}]:
        for s in t.get("sections") or ():
            items = []
            for it in s.get("fields") or ():
                if isinstance(it, dict):
                    it = dict(it)
                    label, help_ = own.get(it.get("field"), (None, None))
                    if label is not None and label_dict(it.get("label")) == label:
                        it.pop("label")
                    if "help" in it and label_dict(it["help"]) == help_:
                        it.pop("help")
                    it = it["field"] if list(it) == ["field"] else it
                items.append(it)
            s["fields"] = items
    return doc


def _check_custom(rt: Runtime, entity: str, custom: dict, base_fields) -> None:
    """New custom fields: a free name of a type the designer offers; a name used before keeps its type
    (its column, with the data it held, is still there)."""
    errors = []
    before = rt.stored.ever_added.get(entity, {})
    current = rt.stored.pieces.get(entity, {}).get("new_fields") or {}
    for name, spec in custom.items():
        key = f"new_fields.{name}"
        if name in base_fields:
            errors.append(FieldError(key, f"there is already a field '{name}'; choose another name"))
        elif spec.get("type") not in CUSTOM_TYPES:
            errors.append(FieldError(key, f"a custom field is one of: {', '.join(CUSTOM_TYPES)}"))
        elif name in before and name not in current and before[name] != spec.get("type"):
            errors.append(FieldError(key, f"a {before[name]} field '{name}' existed before and its data is kept; "
                                          f"add it again as {before[name]}, or choose another name"))
    if errors:
        raise ValidationFailed(errors)


def _candidate(rt: Runtime, actor: Actor, entity: str, doc: dict, custom: dict) -> tuple[dict, App]:
    """The piece the posted form gives and the app with it in force; ValidationFailed when it does
    not pass the checks of `run.py check`."""
    require_admin(rt, actor)
    _entity(rt, entity)
    base_entity, base_form, _ = base_documents(rt.app_dir, entity)
    base_fields = set(base_entity.get("fields") or {})
    _check_custom(rt, entity, custom, base_fields)
    piece = diff(base_form, _normalised(rt, entity, doc, custom), custom, base_fields)
    return piece, _checked(rt, entity, piece)


def preview(rt: Runtime, actor: Actor, entity: str, doc: dict, custom: dict) -> Records:
    """A record service over the posted, unsaved form - for showing it as a role would see it. It
    is never written through: its tables may lack the draft's new columns."""
    _, app = _candidate(rt, actor, entity, doc, custom)
    return Records(app, schema_for(app), rt.db, rt.hooks)


def save(rt: Runtime, actor: Actor, entity: str, doc: dict, custom: dict, based_on: int) -> int | None:
    """Check, migrate, store and put in force the posted form; the new version's number, or None when
    it is the form in force already. Conflict when someone saved another version since `based_on`."""
    piece, app = _candidate(rt, actor, entity, doc, custom)
    if piece == (rt.stored.pieces.get(entity) or {}) and not [c for c in rt.app.overlay_conflicts if c.form == entity]:
        return None
    return _store(rt, actor, entity, piece, app, based_on, "save")


def restore(rt: Runtime, actor: Actor, entity: str, number: int, based_on: int) -> int:
    """Put an earlier version back in force, as a new version (number 0: the implementer's form as it is)."""
    require_admin(rt, actor)
    _entity(rt, entity)
    piece = {}
    if number:
        with rt.db.read() as conn:
            row = form_versions.version(conn, rt.schema, entity, number)
        if row is None:
            raise NotFound(f"the form '{entity}' has no version {number}")
        piece = row["piece"]
    app = _checked(rt, entity, piece, f"version {number} no longer fits the implementer's form: ")
    return _store(rt, actor, entity, piece, app, based_on, "restore", restored_from=number)


def _store(rt: Runtime, actor: Actor, entity: str, piece: dict, app: App, based_on: int, action: str, restored_from: int | None = None) -> int:
    before = editor(rt, actor, entity)
    ever = {**rt.stored.ever_added, entity: {**rt.stored.ever_added.get(entity, {}),
                                             **{n: s.get("type") for n, s in (piece.get("new_fields") or {}).items()}}}
    probe = form_versions.Stored(rt.stored.head, {**rt.stored.pieces, entity: piece}, rt.stored.numbers, ever)
    if set(piece.get("new_fields") or ()) - set(rt.app.entities[entity].fields):  # a custom field's column; data of withdrawn ones stays
        migrate.apply(rt.db, schema_for(app, probe.kept_columns(app)), additive_only=True)
    after_base = base_documents(rt.app_dir, entity)[1]
    after_doc, _, _ = ov.apply_form(entity, after_base, piece, set(app.entities[entity].fields))
    labels = {n: f.label.as_dict() for n, f in {**before.fields, **app.entities[entity].fields}.items()}
    what = describe(before.doc, after_doc, before.custom, piece.get("new_fields") or {}, labels)
    with rt.db.write() as conn:
        number = form_versions.append(conn, rt.schema, entity, piece, what, actor, based_on, action, restored_from)
        audit.append(conn, rt.schema, actor, "sys_form", number, f"form_{action}",
                     {"form": entity, "version": number, **({"restored_from": restored_from} if restored_from is not None else {}), "changes": what})
        stored = form_versions.load(conn, rt.schema)
    rt.reload(stored, app if stored.pieces == _overlay_with(rt, entity, piece) else None)  # else another form changed meanwhile: load
    return number


def history(rt: Runtime, actor: Actor, entity: str) -> list[dict]:
    require_admin(rt, actor)
    _entity(rt, entity)
    with rt.db.read() as conn:
        return form_versions.history(conn, rt.schema, entity)


def compare(rt: Runtime, actor: Actor, entity: str) -> dict:
    """The implementer's form against the form in force: what differs, and both as YAML with a line diff."""
    ed = editor(rt, actor, entity)
    base_entity, base_form, path = base_documents(rt.app_dir, entity)
    base_doc, _, _ = ov.apply_form(entity, base_form, {}, set(base_entity.get("fields") or {}))
    labels = {n: f.label.as_dict() for n, f in ed.fields.items()}
    what = describe(base_doc, ed.doc, {}, ed.custom, labels)
    base_text = path.read_text(encoding="utf-8") if path.is_file() else ""
    effective_text = form_yaml(path, ed.doc)
    lines = list(difflib.unified_diff(base_text.splitlines(), effective_text.splitlines(), "base", "effective", lineterm="", n=2))
    return {"changes": what, "diff": lines[2:], "file": path.name, "has_file": path.is_file()}


def condition_scope(rt: Runtime, entity: str, custom: dict | None = None) -> Scope:
    """What a form condition of `entity` may name: its fields (and the draft's custom ones), its
    tables' fields, and the user's attributes - the scope the loader compiles conditions in."""
    ent = _entity(rt, entity)
    values = {n for n, f in ent.fields.items() if f.type != "table"} | set(custom or ()) | set(SYSTEM_COLUMNS)
    tables = {n: frozenset(rt.app.entities[f.entity].fields) | frozenset(CHILD_SYSTEM_COLUMNS)
              for n, f in ent.fields.items() if f.type == "table"}
    return Scope(values=frozenset(values), tables=tables, objects={"user": BASE_USER_ATTRIBUTES | frozenset(rt.app.user_fields)})


def check_condition(rt: Runtime, actor: Actor, entity: str, source: str, custom: dict | None = None) -> str | None:
    """None when `source` is a condition the form may use; else what is wrong with it."""
    require_admin(rt, actor)
    try:
        compile_expression(source, condition_scope(rt, entity, custom))
    except ExpressionError as exc:
        return f"{exc.code} {exc.message}"
    return None


def exported_files(app_dir: str, stored: form_versions.Stored, app: App) -> dict:
    """{file: text} of the form and entity files with the admin changes in force folded in, the
    files' comments and order kept (for `run.py export-overlay`)."""
    out = {}
    for form in stored.pieces:
        piece = _in_force(stored, app, form)
        if not piece or form not in app.entities:
            continue
        base_entity, base_form, form_path = base_documents(app_dir, form)
        new = {n: _tidy_spec(s) for n, s in (piece.get("new_fields") or {}).items() if n in app.entities[form].fields}
        if new:
            entity_path = Path(app_dir) / "entities" / f"{form}.yaml"
            if not entity_path.is_file():
                entity_path = entity_path.with_suffix(".yml")
            out[entity_path] = merged_yaml(entity_path, {**base_entity, "fields": {**(base_entity.get("fields") or {}), **new}})
        doc, _, _ = ov.apply_form(form, base_form, piece, set(base_entity.get("fields") or {}) | set(new))
        out[form_path] = form_yaml(form_path, doc)
    return out


def _tidy_spec(spec: dict) -> dict:
    """A custom field's definition in the order an implementer writes one: type, label, then the rest."""
    first = ("type", "label", "help", "options", "default")
    out = {k: spec[k] for k in first if k in spec}
    out.update({k: v for k, v in spec.items() if k not in first})
    if isinstance(out.get("options"), list):
        out["options"] = [{"value": o["value"], **({"label": o["label"]} if "label" in o else {})} if isinstance(o, dict) else o for o in out["options"]]
    return out
