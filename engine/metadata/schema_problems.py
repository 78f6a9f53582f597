"""Turn JSON Schema errors into problems a person can act on.

A schema error says what rule a value broke; a person needs to know what they wrote wrong.
So: the most specific error per place, once; one problem per unknown key, with the nearest
allowed key when the spelling is close (and no second "missing property" for the same typo);
the nearest allowed value for a misspelt choice; a plain "'*' is not supported here" instead of
a pattern; and for a label map written in flow style with an unquoted comma -
`{en: Pumps, valves, zh: 泵}`, which YAML reads as a language `valves` without text - one
problem that says to quote the text.
"""
from __future__ import annotations

import difflib
import json
import re
from importlib import resources

import jsonschema
from referencing import Registry, Resource

from engine.core.values import kind_of


# the JSON Schema of each kind of document (engine/metadata/schemas), and of an overlay piece
def _schemas() -> dict:
    base = resources.files("engine.metadata") / "schemas"
    out = {}
    for name in ("defs", "entity", "form", "app", "roles", "workflow", "connector", "report", "dashboard", "overlay"):
        out[name] = json.loads((base / f"{name}.json").read_text(encoding="utf-8"))
    return out


SCHEMAS = _schemas()
REGISTRY = Registry().with_resources(
    (s["$id"], Resource.from_contents(s)) for s in SCHEMAS.values()
)
VALIDATORS = {
    kind: jsonschema.Draft202012Validator(SCHEMAS[kind], registry=REGISTRY) for kind in ("entity", "form", "app", "roles", "workflow", "connector", "report", "dashboard")
}
OVERLAY = jsonschema.Draft202012Validator(SCHEMAS["overlay"], registry=REGISTRY)

_JSON_TYPES = {dict: "object", list: "array", str: "string", bool: "boolean"}
_LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
STAR_HINT = ("'*' works in roles.yaml only: for every entity or every action under permissions, and for every other "
             "field in a role's field rules; elsewhere list the names one by one (a state's editable: all means every field)")


def validate(ctx, validator, file: str, doc) -> bool:
    """Report the problems of `doc` against `validator`; True when it has none."""
    errors = list(validator.iter_errors(doc.data))
    if not errors:
        return True
    found: list[tuple] = []  # (path, code, message, key, hint)
    for err in sorted(errors, key=lambda e: (list(map(str, e.absolute_path)), e.validator)):
        for leaf in _leaves(err):
            found.extend([leaf] if isinstance(leaf, tuple) else _describe(leaf))
    found = _merge_typos(found)
    seen = set()
    for path, code, msg, key, hint in found:
        if (path, code, msg) in seen:
            continue
        seen.add((path, code, msg))
        ctx.add(code, file, doc, path, msg, key=key, hint=hint)
    return False


def _is_label(err) -> bool:
    """Is this the failure of a label (a text, or a map of language tags to texts)?"""
    if err.validator != "oneOf" or not isinstance(err.schema, dict):
        return False
    return any(isinstance(b, dict) and "propertyNames" in b and b.get("propertyNames", {}).get("pattern") == _LANGUAGE.pattern
               for b in err.schema.get("oneOf", ()))


def _label_problem(value: dict, path: tuple = ()) -> tuple | None:
    """A label map with an entry that is no language with a text - what an unquoted comma in
    `{en: Pumps, valves}` leaves behind - as one problem with the quoted text to write instead."""
    keys = list(value)
    for i, k in enumerate(keys):
        if value[k] is not None and _LANGUAGE.match(k):
            continue
        if value[k] is None and i > 0 and isinstance(value[keys[i - 1]], str) and _LANGUAGE.match(keys[i - 1]):
            lang, text = keys[i - 1], value[keys[i - 1]]
            rest = [k]
            for later in keys[i + 1:]:
                if value[later] is not None:
                    break
                rest.append(later)
            whole = ", ".join([text, *rest])
            msg = (f"the {lang} text ends at a comma: inside {{...}} a comma separates entries, so '{k}' became "
                   f"a language without text")
            return path + (k,), "E006", msg, True, f'quote the text: {lang}: "{whole}"'
        if value[k] is None:
            return path + (k,), "E005", f"'{k}' has no text", True, f'give it a text, {k}: "...", or quote the text it belongs to'
        msg = f"'{k}' is not a language tag like en, zh, ru or pt-BR"
        return path + (k,), "E006", msg, True, "use language tags as keys (en: ..., zh: ...); quote a text that holds a comma or a colon"
    return None


def _leaves(err) -> list:
    """The errors to report for `err`: for oneOf/anyOf failures, those of the branch written for
    the value's own type; for a label map cut by a comma, one ready problem."""
    if _is_label(err) and isinstance(err.instance, dict):
        problem = _label_problem(err.instance, tuple(err.absolute_path))
        if problem is not None:
            return [problem]
    alternatives = _alternatives(err)
    if alternatives and isinstance(err.instance, dict):
        given = [n for n in alternatives if n in err.instance]
        path = tuple(err.absolute_path)
        if given:
            return [(path + (given[1],), "E006", f"give {' or '.join(given)}, not both", True, "")]
        return [(path, "E004", "missing required property: " + " or ".join(f"'{n}'" for n in alternatives), False, "")]
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


def _alternatives(err) -> list[str]:
    """The property names of a oneOf that asks for exactly one of them (a form's sections or tabs)."""
    branches = err.validator_value if err.validator == "oneOf" else None
    if not isinstance(branches, list) or not all(isinstance(b, dict) and set(b) == {"required"} and len(b["required"]) == 1 for b in branches):
        return []
    return [b["required"][0] for b in branches]


def _describe(e) -> list[tuple]:
    """(path, code, message, key, hint) for one schema error; an unknown-keys error gives one per key."""
    path = tuple(e.absolute_path)
    v = e.validator
    if v == "additionalProperties" and isinstance(e.instance, dict):
        allowed = sorted(e.schema.get("properties", {}))
        extra = sorted(set(e.instance) - set(allowed)) or ["?"]
        out = []
        for name in extra:
            msg = f"unknown property '{name}'" + (f"; allowed here: {', '.join(allowed)}" if allowed else "")
            out.append((path + (name,), "E003", msg, True, ""))
        return out
    if v == "required":
        name = e.message.split(" is a required")[0]
        return [(path, "E004", f"missing required property: {name}", False, "")]
    if v == "type":
        expected = e.validator_value if isinstance(e.validator_value, str) else " or ".join(e.validator_value)
        return [(path, "E005", f"expected {expected}, got {kind_of(e.instance, 'a mapping')}", False, "")]
    if v == "pattern":
        of_key = "propertyNames" in e.absolute_schema_path
        where = path + (e.instance,) if of_key else path
        if e.instance == "*":
            return [(where, "E007", "'*' (every ...) is not supported here", of_key, STAR_HINT)]
        if "a-z][a-z0-9_]" in str(e.validator_value):
            return [(where, "E007", f"'{e.instance}' is not a valid name", of_key, "")]
        return [(where, "E006", f"'{e.instance}' does not have the expected form ({e.validator_value})", of_key, "")]
    if v == "enum":
        choices = [str(c) for c in e.validator_value]
        msg = f"'{e.instance}' is not allowed; use one of: {', '.join(choices)}"
        near = difflib.get_close_matches(str(e.instance), choices, n=1, cutoff=0.75) if isinstance(e.instance, str) else []
        if e.instance == "*":
            return [(path, "E006", msg, False, STAR_HINT)]
        return [(path, "E006", msg + (f" - did you mean '{near[0]}'?" if near else ""), False, "")]
    return [(path, "E006", e.message, False, "")]


def _merge_typos(found: list[tuple]) -> list[tuple]:
    """An unknown key that is a misspelling of a missing required one is one mistake: report the
    unknown key with the right spelling, and drop the 'missing' report it caused."""
    missing = {(p[0], name): i for i, p in enumerate(found) if p[1] == "E004" for name in re.findall(r"'([^']+)'", p[2])}
    dropped = set()
    out = []
    for i, (path, code, msg, key, hint) in enumerate(found):
        if code != "E003":
            out.append((i, (path, code, msg, key, hint)))
            continue
        name = path[-1]
        want = sorted(n for (where, n) in missing if where == path[:-1])
        near = difflib.get_close_matches(name, want, n=1, cutoff=0.75)
        if near:
            i_missing = missing[(path[:-1], near[0])]
            dropped.add(i_missing)
            required = "" if " or " in found[i_missing][2] else " (it is required)"
            msg = f"unknown property '{name}' - did you mean '{near[0]}'?{required}"
        else:
            allowed = msg.split("; allowed here: ", 1)[1].split(", ") if "; allowed here: " in msg else []
            close = difflib.get_close_matches(name, allowed, n=1, cutoff=0.75)
            if close:
                msg = f"unknown property '{name}' - did you mean '{close[0]}'?"
        out.append((i, (path, code, msg, key, hint)))
    return [p for i, p in out if i not in dropped]
