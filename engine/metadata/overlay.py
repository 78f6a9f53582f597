"""Admin changes to forms, kept as an overlay on the implementer's YAML (the base).

What an administrator changes in the form designer is stored apart from the base files, as plain
JSON in the database (so every app process shares it): per form, only what differs from the
base. A piece of one form's overlay:

    {"layout":       [{"tab": "order", "sections": [{"section": "terms", "fields": ["currency", ...]}]}],
     "removed":      ["notes"],                          # taken off the form (kept in the record)
     "fields":       {"notes": {"label": {...}, "required_when": "...", "help": null}},
     "sections":     {"terms": {"columns": 1}},
     "tabs":         {"order": {"label": {...}}},
     "new_sections": {"delivery": {"label": {...}}},
     "new_fields":   {"sales_channel": {"type": "select", "options": [...]}}}

A property set to null removes the base's value. `apply_form` and `apply_entity` lay a piece
over the base documents before they are checked - the same checks as `run.py check`. Tabs and
sections are known by a key: their `name`, else one made from the English label, else their
place; effective documents always carry the key as `name`.

When the base changes under an overlay, whatever no longer fits (a field the overlay places
was removed, a section it changes is gone) is set aside as a Conflict: reported, still stored,
never silently dropped.
"""
from __future__ import annotations

import copy
import re
from dataclasses import dataclass

KINDS = ("layout", "removed", "fields", "sections", "tabs", "new_sections", "new_fields")
FIELD_PROPS = ("label", "help", "placeholder", "widget", "required", "visible_when", "required_when", "readonly_when", "required_message")
SECTION_PROPS = ("label", "columns", "visible_when", "roles", "states")
TAB_PROPS = ("label",)


@dataclass(frozen=True)
class Conflict:
    """A piece of the overlay that no longer fits the base, set aside and reported."""

    form: str
    kind: str  # one of KINDS
    name: str  # the field, section or tab the piece is about
    message: str

    def format(self) -> str:
        return f"overlay:forms/{self.form}.yaml:1:1: E045 {self.message} (admin change: {self.kind} {self.name})"


def slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9]+", "_", str(text).lower()).strip("_")[:48]
    return s if re.match(r"^[a-z]", s) else ""


def english(label) -> str:
    if isinstance(label, str):
        return label
    if isinstance(label, dict) and label:
        return str(label.get("en") or next(iter(label.values())))
    return ""


def field_name(item) -> str:
    return item if isinstance(item, str) else item.get("field", "")


def part_keys(parts: list, prefix: str) -> list[str]:
    """A key per tab or section: its name, else from its English label, else its place; unique."""
    out: list[str] = []
    for i, p in enumerate(parts):
        key = p.get("name") if isinstance(p, dict) and isinstance(p.get("name"), str) else ""
        key = key or slug(english(p.get("label") if isinstance(p, dict) else None)) or f"{prefix}_{i + 1}"
        base, n = key, 2
        while key in out:
            key, n = f"{base}_{n}", n + 1
        out.append(key)
    return out


def structure(doc: dict) -> tuple[list[dict], bool]:
    """A form document as [{key, props, sections: [{key, props, fields}]}]; forms without tabs get one tab keyed None."""
    has_tabs = isinstance(doc.get("tabs"), list)
    raw_tabs = doc["tabs"] if has_tabs else [{"sections": doc.get("sections") or []}]
    raw_tabs = [t for t in raw_tabs if isinstance(t, dict)]
    tab_keys = part_keys(raw_tabs, "tab") if has_tabs else [None]
    all_secs = [s for t in raw_tabs for s in (t.get("sections") or []) if isinstance(s, dict)]
    sec_keys = iter(part_keys(all_secs, "section"))
    tabs = []
    for t, tkey in zip(raw_tabs, tab_keys):
        secs = [{"key": next(sec_keys), "props": {k: v for k, v in s.items() if k not in ("fields", "name")},
                 "fields": list(s.get("fields") or [])}
                for s in (t.get("sections") or []) if isinstance(s, dict)]
        tabs.append({"key": tkey, "props": {k: v for k, v in t.items() if k not in ("sections", "name")}, "sections": secs})
    return tabs, has_tabs


def document(head: dict, tabs: list[dict], has_tabs: bool, hidden: list[str]) -> dict:
    """The form document back from its structure; every tab and section carries its key as `name`."""
    def sec(s):
        return {"name": s["key"], **s["props"], "fields": list(s["fields"])}
    out = {k: v for k, v in head.items() if k not in ("tabs", "sections", "hidden")}
    if has_tabs:
        out["tabs"] = [{"name": t["key"], **t["props"], "sections": [sec(s) for s in t["sections"]]} for t in tabs]
    else:
        out["sections"] = [sec(s) for t in tabs for s in t["sections"]]
    if hidden:
        out["hidden"] = list(hidden)
    return out


def default_form(entity_doc: dict) -> dict:
    """The form an entity without forms/<entity>.yaml is shown with: its fields, then each table of lines."""
    fields = entity_doc.get("fields") or {}
    plain = [n for n, spec in fields.items() if not (isinstance(spec, dict) and spec.get("type") == "table")]
    tables = [n for n, spec in fields.items() if isinstance(spec, dict) and spec.get("type") == "table"]
    sections = ([{"name": "main", "fields": plain}] if plain else []) + [{"name": t, "fields": [t]} for t in tables]
    return {"entity": entity_doc.get("name"), "sections": sections or [{"name": "main", "fields": []}]}


def _patched(props: dict, changes: dict) -> dict:
    out = dict(props)
    for k, v in changes.items():
        if v is None:
            out.pop(k, None)
        else:
            out[k] = copy.deepcopy(v)
    return out


def _patch_item(item, changes: dict):
    name = field_name(item)
    d = _patched({"field": name} if isinstance(item, str) else dict(item), changes)
    return name if list(d) == ["field"] else d


class _Applier:
    def __init__(self, form: str, base: dict, piece: dict, fields):
        self.form, self.piece, self.fields = form, piece, fields
        self.conflicts: list[Conflict] = []
        self.tabs, self.has_tabs = structure(base)
        self.head = base
        self.items = {field_name(it): it for t in self.tabs for s in t["sections"] for it in s["fields"]}
        self.base_hidden = [n for n in (base.get("hidden") or []) if isinstance(n, str)]

    def conflict(self, kind: str, name, message: str) -> None:
        self.conflicts.append(Conflict(self.form, kind, str(name), message))

    def run(self) -> tuple[dict, dict]:
        removed = {n for n in self.piece.get("removed", ()) if n in self.fields}
        secs = {s["key"]: s for t in self.tabs for s in t["sections"]}
        added = {}
        for key, props in (self.piece.get("new_sections") or {}).items():
            if key in secs:
                self.conflict("new_sections", key, f"the base now has a section '{key}' too; the admin's section of that name is set aside")
                continue
            added[key] = {"key": key, "props": dict(props), "fields": [], "new": True}
        placed: set[str] = set()
        if self.piece.get("layout") is not None:
            self.tabs, placed = self._arrange(secs, added, removed)
        shown = {s["key"] for t in self.tabs for s in t["sections"]}
        for key in added:
            if key not in shown:
                self.conflict("new_sections", key, f"section '{key}' was added but is not placed on the form")
        for t in self.tabs:
            for s in t["sections"]:
                s["fields"] = [it for it in s["fields"] if field_name(it) not in removed]
        patched_fields, patched_secs = self._properties()
        hidden = [n for n in self.base_hidden if n not in placed and n in self.fields]
        hidden += [n for n in sorted(removed) if n not in hidden]
        # a section or tab left without fields is not shown
        for t in self.tabs:
            t["sections"] = [s for s in t["sections"] if s["fields"]]
        self.tabs = [t for t in self.tabs if t["sections"]]
        doc = document(self.head, self.tabs, self.has_tabs, hidden)
        return doc, self._provenance(patched_fields, patched_secs, hidden, removed)

    def _arrange(self, secs: dict, added: dict, removed: set) -> tuple[list[dict], set]:
        """Tabs, sections and fields where the layout puts them; what the base added since, where the base has it."""
        by_tab = {t["key"]: t for t in self.tabs}
        placed: set[str] = set()
        used: set[str] = set()
        out = []
        for entry in self.piece["layout"]:
            tkey = entry.get("tab")
            if tkey not in by_tab or any(t["key"] == tkey for t in out):
                self.conflict("layout", tkey, f"tab '{tkey}' is no longer on the form; its sections stay where the base puts them")
                continue
            tab = {"key": tkey, "props": by_tab[tkey]["props"], "sections": []}
            for se in entry.get("sections", ()):
                skey = se.get("section")
                src = secs.get(skey) or added.get(skey)
                if src is None or skey in used:
                    self.conflict("layout", skey, f"section '{skey}' is no longer on the form; the fields placed in it stay where the base puts them")
                    continue
                used.add(skey)
                sec = {"key": skey, "props": src["props"], "fields": [], "new": src.get("new", False)}
                for n in se.get("fields", ()):
                    if n not in self.fields:
                        self.conflict("layout", n, f"field '{n}', placed in section '{skey}', is no longer a field of {self.form}")
                    elif n not in placed and n not in removed:
                        placed.add(n)
                        sec["fields"].append(self.items.get(n, n))
                tab["sections"].append(sec)
            out.append(tab)
        for i, t in enumerate(self.tabs):  # tabs and sections the layout does not name: the base added them
            ot = next((x for x in out if x["key"] == t["key"]), None)
            if ot is None:
                ot = {"key": t["key"], "props": t["props"], "sections": []}
                out.insert(min(i, len(out)), ot)
            for s in t["sections"]:
                if s["key"] not in used:
                    used.add(s["key"])
                    ot["sections"].append({"key": s["key"], "props": s["props"], "fields": []})
        eff = {s["key"]: s for t in out for s in t["sections"]}
        for t in self.tabs:  # fields the layout does not place: in their base section, after the field before them
            for s in t["sections"]:
                prev = None
                for it in s["fields"]:
                    n = field_name(it)
                    if n not in placed and n not in removed:
                        target = eff[s["key"]]["fields"]
                        names = [field_name(x) for x in target]
                        target.insert(names.index(prev) + 1 if prev in names else len(target), it)
                        placed.add(n)
                    prev = n
        return out, placed

    def _properties(self) -> tuple[dict, dict]:
        where = {field_name(it): (s, i) for t in self.tabs for s in t["sections"] for i, it in enumerate(s["fields"])}
        patched_fields: dict[str, str] = {}
        for n, changes in (self.piece.get("fields") or {}).items():
            if n not in self.fields:
                self.conflict("fields", n, f"field '{n}', whose properties were changed, is no longer a field of {self.form}")
            elif n not in where:
                self.conflict("fields", n, f"field '{n}', whose properties were changed, is no longer on the form")
            else:
                s, i = where[n]
                s["fields"][i] = _patch_item(s["fields"][i], changes)
                patched_fields[n] = "fields"
        secs = {s["key"]: s for t in self.tabs for s in t["sections"]}
        patched_secs = {k: "new_sections" for k, s in secs.items() if s.get("new")}
        for key, changes in (self.piece.get("sections") or {}).items():
            if key not in secs:
                self.conflict("sections", key, f"section '{key}', whose properties were changed, is no longer on the form")
                continue
            secs[key]["props"] = _patched(secs[key]["props"], changes)
            patched_secs.setdefault(key, "sections")
        tabs = {t["key"]: t for t in self.tabs}
        for key, changes in (self.piece.get("tabs") or {}).items():
            if key not in tabs or key is None:
                self.conflict("tabs", key, f"tab '{key}', whose label was changed, is no longer on the form")
                continue
            tabs[key]["props"] = _patched(tabs[key]["props"], changes)
        return patched_fields, patched_secs

    def _provenance(self, patched_fields: dict, patched_secs: dict, hidden: list, removed: set) -> dict:
        """{path in the effective document: (kind, name) of the piece that wrote it, or None for the base}."""
        prov: dict[str, tuple | None] = {}
        for ti, t in enumerate(self.tabs):
            tpath = f"tabs[{ti}]" if self.has_tabs else ""
            if self.has_tabs:
                prov[tpath] = ("tabs", t["key"]) if t["key"] in (self.piece.get("tabs") or {}) else None
            for si, s in enumerate(t["sections"]):
                spath = f"{tpath}.sections[{si}]" if tpath else f"sections[{si}]"
                kind = patched_secs.get(s["key"])
                prov[spath] = (kind, s["key"]) if kind else None
                for fi, it in enumerate(s["fields"]):
                    n = field_name(it)
                    prov[f"{spath}.fields[{fi}]"] = ("fields", n) if n in patched_fields else None
        for i, n in enumerate(hidden):
            prov[f"hidden[{i}]"] = ("removed", n) if n in removed else None
        return prov


def apply_form(form: str, base: dict, piece: dict, fields) -> tuple[dict, list[Conflict], dict]:
    """Lay one form's piece over its base document. `fields`: the entity's field names (with the
    piece's new fields). Returns the effective document, the conflicts and the provenance of its paths."""
    a = _Applier(form, base, piece, fields)
    doc, prov = a.run()
    return doc, a.conflicts, prov


def apply_entity(form: str, entity_doc: dict, piece: dict) -> tuple[dict, list[Conflict], dict]:
    """The entity document with the piece's new fields added at the end."""
    new = piece.get("new_fields") or {}
    if not new:
        return entity_doc, [], {}
    conflicts = []
    prov = {}
    out = dict(entity_doc)
    fields = dict(out.get("fields") or {})
    for name, spec in new.items():
        if name in fields:
            if fields[name] != spec:
                conflicts.append(Conflict(form, "new_fields", name, f"the base now defines a field '{name}' too; the base's definition is used"))
            continue
        fields[name] = copy.deepcopy(spec)
        prov[f"fields.{name}"] = ("new_fields", name)
    out["fields"] = fields
    return out, conflicts, prov


def owner_of(prov: dict, path: str):
    """The piece that wrote `path` (the longest registered prefix), or None when the base did."""
    best, owner = -1, None
    for p, who in prov.items():
        if (path == p or path.startswith(p + ".") or path.startswith(p + "[")) and len(p) > best:
            best, owner = len(p), who
    return owner


def without(overlay: dict, form: str, kind: str, name: str) -> dict:
    """The overlay with one piece set aside (a copy; the stored overlay is not touched)."""
    out = copy.deepcopy(overlay)
    piece = out.get(form) or {}
    if kind == "layout":
        piece.pop("layout", None)
    elif kind == "removed":
        piece["removed"] = [n for n in piece.get("removed", ()) if n != name]
    elif kind in piece and isinstance(piece[kind], dict):
        piece[kind].pop(name, None)
    elif kind == "*":
        out.pop(form, None)
    return out
