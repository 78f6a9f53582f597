"""The designer page's posted form, read back into a form document and custom fields.

The page is one HTML form. Its `item` inputs, in page order, tell the arrangement: `tab:<key>`,
`section:<key>` and `field:<name>` as they stand, then `rest` (fields the form does not place)
and `pool` (fields left off the form). Dragging a row moves its `item` input with it, so the
order the browser posts is the order the admin sees. Properties come as
`field.<name>.<property>[.<language>]`, `section.<key>.<property>[.<language>]`,
`tab.<key>.label.<language>` and, for custom fields, `new.<name>.<property>`.
"""
from __future__ import annotations

import re

from engine.core.errors import FieldError, ValidationFailed
from engine.core.values import parse_int
from engine.metadata.overlay import slug

NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
LABELLED = ("label", "help", "placeholder", "required_message")


def _label(form, prefix: str, languages) -> dict | None:
    out = {lang: str(form.get(f"{prefix}.{lang}", "")).strip() for lang in languages}
    out = {k: v for k, v in out.items() if v}
    return out or None


def _text(form, key: str) -> str | None:
    v = str(form.get(key, "")).strip()
    return v or None


def read_draft(form, languages) -> tuple[dict, dict]:
    """(form document, custom fields) from the posted designer form."""
    tabs: list[dict] = []
    hidden: list[str] = []
    mode = "form"
    tab = section = None
    bad = []
    for value in form.getlist("item"):
        kind, _, key = str(value).partition(":")
        if kind in ("tab", "section", "field") and not NAME.match(key):
            bad.append(FieldError("item", f"'{key}' is not a name"))
            continue
        if kind == "tab":
            tab = {"name": key, **({"label": lbl} if (lbl := _label(form, f"tab.{key}.label", languages)) else {}), "sections": []}
            tabs.append(tab)
            mode, section = "form", None
        elif kind == "section":
            if tab is None:
                tab = {"name": None, "sections": []}
                tabs.append(tab)
            section = _section(form, key, languages)
            tab["sections"].append(section)
            mode = "form"
        elif kind == "field":
            if mode == "pool":
                hidden.append(key)
            elif mode == "form" and section is not None:
                section["fields"].append(_field(form, key, languages))
        elif kind in ("pool", "rest"):
            mode = kind
    if bad:
        raise ValidationFailed(bad)
    doc: dict = {}
    if tabs and tabs[0]["name"] is not None:
        doc["tabs"] = [{k: v for k, v in t.items()} for t in tabs]
    else:
        doc["sections"] = [s for t in tabs for s in t["sections"]]
    if hidden:
        doc["hidden"] = hidden
    return doc, read_custom(form, languages)


def _section(form, key: str, languages) -> dict:
    p = f"section.{key}"
    out: dict = {"name": key}
    if lbl := _label(form, f"{p}.label", languages):
        out["label"] = lbl
    cols = parse_int(str(form.get(f"{p}.columns", "")).strip())
    if cols is not None:
        out["columns"] = cols
    if v := _text(form, f"{p}.visible_when"):
        out["visible_when"] = v
    for k in ("roles", "states"):
        chosen = [str(x) for x in form.getlist(f"{p}.{k}") if NAME.match(str(x))]
        if chosen:
            out[k] = chosen
    out["fields"] = []
    return out


def _field(form, name: str, languages):
    p = f"field.{name}"
    out: dict = {"field": name}
    for k in LABELLED:
        if lbl := _label(form, f"{p}.{k}", languages):
            out[k] = lbl
    if v := _text(form, f"{p}.widget"):
        out["widget"] = v
    if form.get(f"{p}.required") in ("on", "true", "1"):
        out["required"] = True
    for k in ("visible_when", "required_when", "readonly_when"):
        if v := _text(form, f"{p}.{k}"):
            out[k] = v
    if "required_message" in out and "required_when" not in out and not out.get("required"):
        out.pop("required_message")
    return out if len(out) > 1 else name


def read_custom(form, languages) -> dict:
    """Custom fields: `new.<name>.type`, `.label.<lang>`, `.options` (one per line), `.default`."""
    out = {}
    for key in form.keys():
        m = re.fullmatch(r"new\.([a-z][a-z0-9_]{0,62})\.type", key)
        if m:
            out[m.group(1)] = custom_spec(form, m.group(1), languages)
    return out


def custom_spec(form, name: str, languages) -> dict:
    p = f"new.{name}"
    spec: dict = {"type": str(form.get(f"{p}.type", "")).strip()}
    if lbl := _label(form, f"{p}.label", languages):
        spec["label"] = lbl
    if spec["type"] == "select":
        spec["options"] = options(str(form.get(f"{p}.options", "")))
    if (default := _text(form, f"{p}.default")) is not None:
        spec["default"] = (default.lower() == "true") if spec["type"] == "boolean" and default.lower() in ("true", "false") else default
    return spec


def options(text: str) -> list:
    """One option per line: `Label` (its value made from it) or `value: Label`."""
    out = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        value, sep, label = line.partition(":")
        if sep and NAME.match(value.strip()):
            out.append({"value": value.strip(), "label": label.strip() or value.strip()})
        else:
            value = slug(line) or f"option_{len(out) + 1}"
            out.append(value if value == line else {"value": value, "label": line})
    return out


def options_text(opts) -> str:
    return "\n".join(o if isinstance(o, str) else (f"{o['value']}: {o.get('label', o['value'])}" if isinstance(o.get("label"), str) else o["value"])
                     for o in opts or ())
