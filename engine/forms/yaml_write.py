"""Writing form and entity documents back as YAML for the implementer, keeping their file's
comments, key order and style (ruamel.yaml round-trip): `run.py export-overlay` folds the admin
changes into the customer's repository this way, and the designer's diff view shows the result.

The new document is merged into the file's own tree: keys and values that did not change keep
their node (and its comments and quoting); list items are matched by their field, name or key,
so a reordered section moves with its comments. A tab or section gets `name:` only where its key
could not be told from its label.
"""
from __future__ import annotations

import io
from decimal import Decimal
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from engine.metadata.overlay import english, part_keys, slug


def _yaml() -> YAML:
    y = YAML()
    y.preserve_quotes = True
    y.width = 4096
    y.indent(mapping=2, sequence=4, offset=2)
    return y


def _is_label(value) -> bool:
    return isinstance(value, dict) and value and all(isinstance(k, str) and len(k) <= 8 and isinstance(v, str) for k, v in value.items())


def _node(value, key: str = ""):
    """A new node for a value that is not in the file yet: labels and short lists in flow style."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        m = CommentedMap()
        for k, v in value.items():
            m[k] = _node(v, k)
        if (_is_label(value) and key in ("label", "help", "placeholder", "required_message", "label_plural")) or key == "option":
            m.fa.set_flow_style()
        return m
    if isinstance(value, list):
        s = CommentedSeq(_node(v, "option" if key == "options" else "") for v in value)
        if all(isinstance(v, str) for v in value):
            s.fa.set_flow_style()
        return s
    return value


def _same_scalar(a, b) -> bool:
    if a == b:
        return True
    try:
        return str(a) == str(b) or float(a) == float(b)
    except (TypeError, ValueError):
        return False


def _item_keys(items: list, kind: str) -> list:
    """What tells list items apart: a tab's or section's key, a form item's field, an option's value,
    a plain value; else the place."""
    if kind == "parts":
        return part_keys([i if isinstance(i, dict) else {} for i in items], "part")
    out = []
    for n, i in enumerate(items):
        if isinstance(i, dict):
            key = next((("k", k, str(i[k])) for k in ("field", "name", "value") if k in i), ("at", n))
        elif isinstance(i, (str, int, float, bool)):
            key = ("v", str(i))
        else:
            key = ("at", n)
        out.append(key if key not in out else ("at", n))
    return out


def _merge(old, new, key: str = ""):
    if isinstance(new, dict):
        if not isinstance(old, CommentedMap):
            return _node(new, key)
        for k in [k for k in old if k not in new]:
            del old[k]
        for k, v in new.items():
            if k in old:
                merged = _merge(old[k], v, k)
                if merged is not old[k]:  # setting a key again would drop the comments that hang on it
                    old[k] = merged
            elif k == "name":
                old.insert(0, k, v)
            elif k not in ("fields", "sections") and ("fields" in old or "sections" in old):  # a part's own keys before its contents
                old.insert(list(old).index("fields" if "fields" in old else "sections"), k, _node(v, k))
            else:
                old[k] = _node(v, k)
        return old
    if isinstance(new, list):
        if not isinstance(old, CommentedSeq):
            return _node(new, key)
        kind = "parts" if key in ("tabs", "sections") else "items"
        olds = list(old)
        by_key = {k: (i, item) for i, (k, item) in enumerate(zip(_item_keys(olds, kind), olds))}
        new_keys = _item_keys(new, kind)
        items, comments = [], {}
        for j, (k, v) in enumerate(zip(new_keys, new)):
            if k in by_key:
                i, item = by_key[k]
                items.append(_merge(item, v, key))
                if i in old.ca.items:
                    comments[j] = old.ca.items[i]
            else:
                items.append(_node(v))
        if any(isinstance(v, dict) for v in new):
            old.fa.set_block_style()
        old.clear()
        old.extend(items)
        old.ca.items.clear()
        old.ca.items.update(comments)
        return old
    return old if _same_scalar(old, new) else _node(new, key)


def _drop_needless_names(doc: dict, had_name: set) -> dict:
    """Keep `name:` on a tab or section only where the file had one or the label would not give its key back."""
    def tidy(parts: list, prefix: str) -> list:
        out = []
        for i, p in enumerate(parts):
            p = dict(p)
            key = p.get("name")
            if key and key not in had_name and (slug(english(p.get("label"))) or f"{prefix}_{i + 1}") == key:
                p.pop("name")
            if "sections" in p:
                p["sections"] = tidy(p["sections"], "section")
            out.append(p)
        return out
    doc = dict(doc)
    if "tabs" in doc:
        doc["tabs"] = tidy(doc["tabs"], "tab")
    if "sections" in doc:
        doc["sections"] = tidy(doc["sections"], "section")
    return doc


def _named(tree) -> set:
    out = set()
    for t in (tree or {}).get("tabs") or []:
        if isinstance(t, dict) and t.get("name"):
            out.add(t["name"])
        for s in (t.get("sections") or []) if isinstance(t, dict) else []:
            if isinstance(s, dict) and s.get("name"):
                out.add(s["name"])
    for s in (tree or {}).get("sections") or []:
        if isinstance(s, dict) and s.get("name"):
            out.add(s["name"])
    return out


def merged_yaml(path: Path, doc: dict, form: bool = False) -> str:
    """The text of `path` with `doc` merged into it (the whole document as it should be)."""
    y = _yaml()
    tree = y.load(path.read_text(encoding="utf-8")) if path.is_file() else None
    if form:
        doc = _drop_needless_names(doc, _named(tree))
    tree = _merge(tree, doc) if isinstance(tree, CommentedMap) else _node(doc)
    buf = io.StringIO()
    y.dump(tree, buf)
    return buf.getvalue()


def form_yaml(path: Path, doc: dict) -> str:
    return merged_yaml(path, doc, form=True)
