"""YAML parsing that keeps line numbers and refuses YAML 1.1 surprises.

Only `true`/`false` are booleans (a state called `on` or a code `NO` stays a string),
dates stay strings (the field type coerces them), and a duplicated key is an error
instead of a silent overwrite. Every value's position is recorded by its path inside
the document so that later checks can point at `file:line:col`.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

import yaml
from yaml.nodes import MappingNode, ScalarNode, SequenceNode

Path = tuple  # a path inside a document: keys and list indexes


class StrictLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2-like scalars: booleans only true/false, no timestamps."""


StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
StrictLoader.add_constructor(
    "tag:yaml.org,2002:float",
    lambda loader, node: Decimal(loader.construct_scalar(node).replace("_", "")) if re.fullmatch(r"[-+]?[0-9_]*\.?[0-9_]+(?:[eE][-+]?[0-9]+)?", loader.construct_scalar(node)) else yaml.SafeLoader.construct_yaml_float(loader, node),
)
StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)

if getattr(yaml, "__with_libyaml__", False):
    class _Composer(yaml.CSafeLoader):
        """LibYAML's parser (several times faster) with StrictLoader's scalar resolution."""

    _Composer.yaml_implicit_resolvers = StrictLoader.yaml_implicit_resolvers
else:  # pragma: no cover - PyYAML built without LibYAML
    _Composer = StrictLoader


@dataclass(frozen=True)
class Mark:
    line: int  # 1-based
    col: int  # 1-based


@dataclass
class YamlProblem:
    code: str
    message: str
    mark: Mark
    hint: str = ""


@dataclass
class Document:
    """A parsed YAML document with the position of every value, keyed by path."""

    data: object
    marks: dict

    def mark(self, path: Path) -> Mark:
        """The position of the value at `path`, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path not in self.marks and path:
            path = path[:-1]
        return self.marks.get(path, Mark(1, 1))

    def key_mark(self, path: Path) -> Mark:
        return self.marks.get(("#key",) + tuple(path), self.mark(path))


_PARSED: dict[str, tuple] = {}  # text -> (Document, problems): the same file is parsed once per process


def parse(text: str) -> tuple[Document | None, list[YamlProblem]]:
    """Parse one YAML document; return it with its marks, or the problems that stop parsing.
    Documents are shared between callers with the same text: nothing may change them."""
    hit = _PARSED.get(text)
    if hit is None:
        if len(_PARSED) > 2000:
            _PARSED.clear()
        hit = _PARSED[text] = _parse(text)
    return hit[0], list(hit[1])


def _parse(text: str) -> tuple[Document | None, list[YamlProblem]]:
    try:
        node = yaml.compose(text, Loader=_Composer)
    except yaml.MarkedYAMLError as exc:
        m = exc.problem_mark
        mark = Mark(m.line + 1, m.column + 1) if m else Mark(1, 1)
        return None, [YamlProblem("E001", f"YAML syntax error: {exc.problem}", mark, "check indentation, colons and quotes on this line")]
    except yaml.YAMLError as exc:  # pragma: no cover - composer errors are marked
        return None, [YamlProblem("E001", f"YAML syntax error: {exc}", Mark(1, 1))]
    if node is None:
        return Document({}, {(): Mark(1, 1)}), []
    problems: list[YamlProblem] = []
    marks: dict = {}
    data = _build(node, (), marks, problems)
    return Document(data, marks), problems


def _mark(node) -> Mark:
    return Mark(node.start_mark.line + 1, node.start_mark.column + 1)


def _build(node, path: Path, marks: dict, problems: list[YamlProblem]):
    marks[path] = _mark(node)
    if isinstance(node, MappingNode):
        result: dict = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                problems.append(YamlProblem("E001", "a mapping key must be a plain value", _mark(key_node)))
                continue
            key = _scalar(key_node)
            key = key if isinstance(key, str) else str(key)
            if key == "<<":
                problems.append(YamlProblem("E001", "YAML merge keys (<<) are not supported", _mark(key_node), "write the keys out"))
                continue
            if key in result:
                problems.append(
                    YamlProblem("E002", f"duplicate key '{key}'", _mark(key_node), "remove or rename one of the two; the later one would silently win")
                )
                continue
            marks[("#key",) + path + (key,)] = _mark(key_node)
            result[key] = _build(value_node, path + (key,), marks, problems)
        return result
    if isinstance(node, SequenceNode):
        return [_build(child, path + (i,), marks, problems) for i, child in enumerate(node.value)]
    return _scalar(node)


def _scalar(node: ScalarNode):
    return StrictLoader.construct_object(_scalar_loader, node)


_scalar_loader = StrictLoader("")
