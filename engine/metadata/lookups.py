"""Build and check a field's lookups: `fill` (take a value from another record) and `show` (list
related records beside the field). Both name another entity, its fields, and fields of this
record or its parent; each name is checked against what the documents declare, and a name in a
document that failed its own checks is left to that document's problem."""
from __future__ import annotations

from engine.metadata.model import Fill, Label, Show, Source


def _known_on(entity: str, raw: dict, failed):
    """A test for the names usable on a looked-up entity: its fields, `id`, and `parent.<field>` for
    a child (any `parent.<field>` when its parent is in a document that failed)."""
    data = raw[entity][1].data
    names = set(data.get("fields", {})) | {"id"}
    orphan = entity in failed.orphans
    if data.get("child"):
        for other, (_, odoc) in raw.items():
            for spec in odoc.data.get("fields", {}).values():
                if isinstance(spec, dict) and spec.get("type") == "table" and spec.get("entity") == entity:
                    names |= {f"parent.{n}" for n in odoc.data.get("fields", {})} | {"parent.id"}
    return lambda n: n in names or (orphan and n.startswith("parent."))


def _here(declared: dict, raw: dict, parent, entity: str, failed):
    """A test for the names a lookup may take its values from: this record's fields, then its parent's."""
    names = set(declared) | {"id"}
    if parent is not None and parent[0] in raw:
        names |= set(raw[parent[0]][1].data.get("fields", {}))
    orphan = entity in failed.orphans
    return lambda n: orphan or n in names


def _match(ctx, file, doc, path, match: dict, entity: str, raw: dict, here) -> tuple:
    known = _known_on(entity, raw, ctx.failed)
    for key, value in match.items():
        if not known(key):
            ctx.add("E015", file, doc, path + (key,), f"'{key}' is not a field of {entity}", key=True)
        if not here(value):
            ctx.add("E015", file, doc, path + (key,), f"'{value}' is not a field of this record or its parent")
    return tuple(match.items())


def _entity_unknown(ctx, file, doc, path, name: str, raw: dict) -> bool:
    """Is `name` no entity? Reports it, unless its document failed (reported there)."""
    if name in raw:
        return False
    if not ctx.failed.entity(name):
        ctx.add("E012", file, doc, path, f"'{name}' is not an entity; known: {', '.join(sorted(raw))}")
    return True


def fill(ctx, file, doc, path, spec: dict, declared: dict, raw: dict, parent, entity: str) -> Fill:
    """`declared`: this entity's fields as written (those that failed their own checks count: they were reported)."""
    here = _here(declared, raw, parent, entity, ctx.failed)
    sources = []
    for i, src in enumerate(spec["from"]):
        p = path + ("from", i)
        if _entity_unknown(ctx, file, doc, p + ("entity",), src["entity"], raw):
            continue
        known = _known_on(src["entity"], raw, ctx.failed)
        match = _match(ctx, file, doc, p + ("match",), src["match"], src["entity"], raw, here)
        for key in ("take", "latest"):
            if key in src and not known(src[key]):
                ctx.add("E015", file, doc, p + (key,), f"'{src[key]}' is not a field of {src['entity']}")
        sources.append(Source(src["entity"], match, src["take"], src.get("latest")))
    on = tuple(spec.get("on", ()))
    for i, n in enumerate(on):
        if n not in declared:
            ctx.add("E015", file, doc, path + ("on", i), f"'{n}' is not a field of this entity")
    if not on:  # by default: the fields of this record that the first source matches on
        on = tuple(dict.fromkeys(v for s in sources[:1] for _, v in s.match if v in declared))
    return Fill(on, tuple(sources))


def show(ctx, file, doc, path, spec: dict, declared: dict, raw: dict, parent, entity: str) -> Show | None:
    if _entity_unknown(ctx, file, doc, path + ("entity",), spec["entity"], raw):
        return None
    match = _match(ctx, file, doc, path + ("match",), spec["match"], spec["entity"], raw, _here(declared, raw, parent, entity, ctx.failed))
    known = set(raw[spec["entity"]][1].data.get("fields", {}))
    for i, c in enumerate(spec["columns"]):
        if c not in known:
            ctx.add("E015", file, doc, path + ("columns", i), f"'{c}' is not a field of {spec['entity']}")
    return Show(spec["entity"], match, tuple(spec["columns"]), Label.of(spec["label"]) if "label" in spec else None)
