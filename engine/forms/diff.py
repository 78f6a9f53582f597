"""From what the designer shows to what the overlay stores, and back to words for people.

`diff()` turns a desired form (a whole form document, as the admin arranged it) into the
smallest overlay piece that gives it when laid over the base: only what differs is stored, so
the implementer's later changes to everything else still come through. `changes()` lists what
differs between two effective forms - moved, added, left off, relabelled - as entries that the
version history shows and the audit trail keeps.
"""
from __future__ import annotations

from engine.metadata.overlay import FIELD_PROPS, SECTION_PROPS, TAB_PROPS, field_name, structure


def label_dict(value) -> dict | None:
    """A label as {language: text} (a plain string is English)."""
    if value is None:
        return None
    if isinstance(value, str):
        return {"en": value}
    return {k: v for k, v in dict(value).items() if v}


def _props(item) -> dict:
    return {} if isinstance(item, str) else {k: v for k, v in item.items() if k != "field"}


def _same(key: str, a, b) -> bool:
    if key in ("label", "help", "placeholder", "required_message"):
        return label_dict(a) == label_dict(b)
    if key == "required":
        return bool(a) == bool(b)
    if key == "columns":  # a section without columns has two
        return (a or 2) == (b or 2)
    if key in ("roles", "states"):
        return sorted(a or ()) == sorted(b or ())
    return a == b


def _changed(before: dict, after: dict, keys) -> dict:
    return {k: after.get(k) for k in keys if not _same(k, before.get(k), after.get(k))}


LABELLED = ("label", "help", "placeholder", "required_message")


def _property_changes(base: dict, before: dict, after: dict, keys, own: dict | None = None) -> list[dict]:
    """Entries for the properties that differ; a label-like one per language changed, from what
    was shown before (the entity's own label when the form gave none)."""
    out = []
    for prop, value in _changed(before, after, keys).items():
        if prop in LABELLED:
            old = label_dict(before.get(prop)) or (own or {}).get(prop) or {}
            new = label_dict(value) or (own or {}).get(prop) or {}
            for lang in dict.fromkeys([*new, *old]):
                if old.get(lang) != new.get(lang):
                    out.append({**base, "property": prop, "lang": lang, "from": old.get(lang), "to": new.get(lang)})
        else:
            out.append({**base, "property": prop, "from": before.get(prop), "to": value})
    return out


def arrangement(tabs: list[dict]) -> list:
    return [(t["key"], [(s["key"], [field_name(it) for it in s["fields"]]) for s in t["sections"] if s["fields"]]) for t in tabs]


def diff(base: dict, desired: dict, new_fields: dict, base_fields) -> dict:
    """The overlay piece that turns the `base` form document into `desired`; `new_fields` are the
    custom fields (not in `base_fields`, the base entity's) that the entity should have."""
    btabs, _ = structure(base)
    dtabs, _ = structure(desired)
    bsecs = {s["key"]: s for t in btabs for s in t["sections"]}
    bitems = {field_name(it): it for s in bsecs.values() for it in s["fields"]}
    dsecs = {s["key"]: s for t in dtabs for s in t["sections"]}
    piece: dict = {}
    bhidden = set(base.get("hidden") or ())
    dhidden = list(desired.get("hidden") or ())
    removed = [n for n in dhidden if n not in bhidden]
    if removed:
        piece["removed"] = removed
    gone = set(removed)
    expected = arrangement([{**t, "sections": [{**s, "fields": [it for it in s["fields"] if field_name(it) not in gone]}
                                               for s in t["sections"]]} for t in btabs])
    if arrangement(dtabs) != expected:
        piece["layout"] = [{"tab": tk, "sections": [{"section": sk, "fields": names} for sk, names in secs]}
                           for tk, secs in arrangement(dtabs)]
    fields = {}
    for s in dsecs.values():
        for it in s["fields"]:
            n = field_name(it)
            change = _changed(_props(bitems.get(n, n)), _props(it), FIELD_PROPS)
            if change:
                fields[n] = change
    if fields:
        piece["fields"] = fields
    sections, added = {}, {}
    for key, s in dsecs.items():
        if key in bsecs:
            change = _changed(bsecs[key]["props"], s["props"], SECTION_PROPS)
            if change:
                sections[key] = change
        else:
            added[key] = {k: v for k, v in s["props"].items() if k in SECTION_PROPS and v not in (None, [], "")}
    if sections:
        piece["sections"] = sections
    if added:
        piece["new_sections"] = added
    btab_props = {t["key"]: t["props"] for t in btabs}
    tabs = {t["key"]: _changed(btab_props[t["key"]], t["props"], TAB_PROPS) for t in dtabs if t["key"] in btab_props and t["key"] is not None}
    tabs = {k: v for k, v in tabs.items() if v}
    if tabs:
        piece["tabs"] = tabs
    custom = {n: spec for n, spec in new_fields.items() if n not in base_fields}
    if custom:
        piece["new_fields"] = custom
    return piece


def _where(tabs: list[dict]) -> dict:
    """field -> (section key, section label, index in the section)."""
    return {field_name(it): (s["key"], s["props"].get("label"), i) for t in tabs for s in t["sections"] for i, it in enumerate(s["fields"])}


def changes(before: dict, after: dict, before_new: dict, after_new: dict, labels: dict) -> list[dict]:
    """What differs between two effective form documents, as entries for people. `labels` gives
    {field: label dict} for fields, so an entry names a field as the form shows it."""
    out: list[dict] = []
    btabs, _ = structure(before)
    atabs, _ = structure(after)

    def name_of(n, item=None):
        return label_dict((_props(item).get("label") if item is not None else None) or labels.get(n)) or {"en": n}
    for n, spec in after_new.items():
        if n not in before_new:
            out.append({"kind": "field_added", "field": n, "label": label_dict(spec.get("label")) or {"en": n}, "to": spec.get("type")})
    for n, spec in before_new.items():
        if n not in after_new:
            out.append({"kind": "field_withdrawn", "field": n, "label": label_dict(spec.get("label")) or {"en": n}})
    bw, aw = _where(btabs), _where(atabs)
    bsecs = {s["key"]: s for t in btabs for s in t["sections"]}
    asecs = {s["key"]: s for t in atabs for s in t["sections"]}
    for key, s in asecs.items():
        if key not in bsecs:
            out.append({"kind": "section_added", "section": key, "label": label_dict(s["props"].get("label")) or {"en": key}})
        else:
            out += _property_changes({"kind": "section_property", "section": key, "label": label_dict(s["props"].get("label")) or {"en": key}},
                                     bsecs[key]["props"], s["props"], SECTION_PROPS)
    for key, s in bsecs.items():
        if key not in asecs:
            out.append({"kind": "section_removed", "section": key, "label": label_dict(s["props"].get("label")) or {"en": key}})
    border = [k for k in bsecs if k in asecs]
    aorder = [k for k in asecs if k in bsecs]
    if border != aorder:
        out.append({"kind": "sections_reordered", "from": border, "to": aorder})
    btab = {t["key"]: t["props"] for t in btabs}
    for t in atabs:
        if t["key"] in btab and t["key"] is not None:
            out += _property_changes({"kind": "tab_property", "tab": t["key"], "label": label_dict(t["props"].get("label")) or {"en": t["key"]}},
                                     btab[t["key"]], t["props"], TAB_PROPS)
    bitems = {field_name(it): it for s in bsecs.values() for it in s["fields"]}
    aitems = {field_name(it): it for s in asecs.values() for it in s["fields"]}
    reordered = set()
    for n in aitems:
        label = name_of(n, aitems[n])
        if n not in bw:
            out.append({"kind": "field_placed", "field": n, "label": label, "to": label_dict(aw[n][1]) or {"en": aw[n][0]}})
        elif bw[n][0] != aw[n][0]:
            out.append({"kind": "field_moved", "field": n, "label": label, "from": label_dict(bw[n][1]) or {"en": bw[n][0]},
                        "to": label_dict(aw[n][1]) or {"en": aw[n][0]}})
        elif [x for x in _names(bsecs[bw[n][0]]) if x in aitems and aw[x][0] == aw[n][0]] != \
                [x for x in _names(asecs[aw[n][0]]) if x in bitems and bw[x][0] == aw[n][0]]:
            reordered.add(aw[n][0])
        if n in bitems:
            out += _property_changes({"kind": "field_property", "field": n, "label": label}, _props(bitems[n]), _props(aitems[n]), FIELD_PROPS,
                                     {"label": label_dict(labels.get(n))})
    for key in sorted(reordered):
        out.append({"kind": "fields_reordered", "section": key, "label": label_dict(asecs[key]["props"].get("label")) or {"en": key},
                    "from": _names(bsecs[key]), "to": _names(asecs[key])})
    for n in bitems:
        if n not in aitems:
            out.append({"kind": "field_left_off", "field": n, "label": name_of(n, bitems[n])})
    return out


def _names(section: dict) -> list[str]:
    return [field_name(it) for it in section["fields"]]
