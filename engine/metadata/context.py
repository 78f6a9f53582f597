"""The state of one check of an app's metadata: every problem found so far, each pointing into its
document, and what failed its own checks (so the checks that depend on it stay quiet)."""
from __future__ import annotations

from engine.metadata.codes import Problem
from engine.metadata.failures import Failed
from engine.metadata.roles import BASE_USER_ATTRIBUTES
from engine.metadata.yamlload import Document


class Ctx:
    """Collects problems while loading, with the document each one points into."""

    def __init__(self):
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []  # W codes: shown by `run.py check`, the app still starts
        self.user_attributes = BASE_USER_ATTRIBUTES  # plus roles.yaml's user_fields
        self.root = None  # the app's folder (a Path), for files a document names
        self.failed = Failed()  # what failed its own checks: the checks depending on it stay quiet
        self.states: dict[str, frozenset] = {}  # entity -> the states its workflow names (the state field's options)
        self.channels: frozenset | None = frozenset({"in_app"})  # the channels some connector carries (None: unknown, a connector failed)

    def add(self, code: str, file: str, doc: Document | None, path: tuple, message: str, key: bool = False, hint: str = "", col_offset: int = 0):
        if doc is None:
            line, col = 1, 1
        else:
            m = doc.key_mark(path) if key else doc.mark(path)
            line, col = m.line, m.col + col_offset
        self.problems.append(Problem(code, file, line, col, message, path_str(path), hint))


def path_str(path: tuple) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out
