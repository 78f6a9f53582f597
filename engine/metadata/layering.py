"""The stored admin changes (the overlay, engine.metadata.overlay) laid over the parsed entity and
form documents before they are checked, and the problems found afterwards told apart: those of the
base files, and those of the overlay piece that wrote where they point."""
from __future__ import annotations

import os

from engine.metadata import overlay as overlay_mod
from engine.metadata.codes import MetadataInvalid, Problem
from engine.metadata.overlay import Conflict
from engine.metadata.yamlload import Document, Mark


class OverlayRefused(MetadataInvalid):
    """A change from the designer that does not pass the checks: (kind, name, message) per problem."""

    def __init__(self, form: str, issues: list[tuple[str, str, str]]):
        self.form = form
        self.issues = issues
        super().__init__([Problem("E045", f"overlay:forms/{form}.yaml", 1, 1, m, f"{k} {n}".strip()) for k, n, m in issues])


def lay_overlay(shown: str, overlay: dict, entity_docs: list, form_docs: list, provenance: dict, conflicts: list) -> tuple[list, list]:
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


def attribute(problems: list[Problem], provenance: dict) -> tuple[list[Problem], dict]:
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
