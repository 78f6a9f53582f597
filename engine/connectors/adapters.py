"""The one small interface every connector type implements, and the templates they render.

An adapter turns an event into a request once, when the delivery is made (`prepare`: JSON that is
stored with the delivery, so every attempt sends the same), and sends a stored request (`send`,
outside any transaction). It reports an Outcome: delivered, or failed and whether trying again
may help.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Protocol

from engine.metadata.connectors import TEMPLATES
from engine.metadata.model import Connector

_WHOLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int | None = None  # the HTTP status, when there was an answer
    error: str | None = None  # why not, in words
    retry: bool = False  # a failure that trying again may cure (timeouts, connection errors, 429, 5xx)
    answer: Any = None  # the answer's JSON (or text), for a response mapping
    excerpt: str = ""  # the start of the answer, for the delivery log


class Adapter(Protocol):
    def prepare(self, connector: Connector, context: dict) -> dict:
        """The request for one event, JSON-safe: stored with the delivery and sent as it is on every attempt.
        `context`: record (JSON values, links with their titles as <field>__title, lines), event, connector."""

    def send(self, connector: Connector, request: dict, key: str) -> Outcome:
        """Send a stored request; `key` is the idempotency key (the event id). Raises nothing: every failure is an Outcome."""


def render(source, context: dict):
    """A mapping template: every string in it rendered with the context (sandboxed Jinja); a string that is
    one {{ expression }} as a whole keeps the expression's type (a number stays a number, a list a list)."""
    if isinstance(source, dict):
        return {k: render(v, context) for k, v in source.items()}
    if isinstance(source, list):
        return [render(v, context) for v in source]
    if not isinstance(source, str):
        return source
    m = _WHOLE.match(source)
    if m and "{{" not in m.group(1) and "}}" not in m.group(1):
        return _expression(m.group(1))(**context)
    return _template(source).render(**context)


_COMPILED: dict[str, Any] = {}


def _expression(source: str):
    fn = _COMPILED.get("e:" + source)
    if fn is None:
        fn = _COMPILED["e:" + source] = TEMPLATES.compile_expression(source, undefined_to_none=True)
    return fn


def _template(source: str):
    t = _COMPILED.get("t:" + source)
    if t is None:
        t = _COMPILED["t:" + source] = TEMPLATES.from_string(source)
    return t
