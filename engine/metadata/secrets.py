"""Secrets never sit in metadata: a value that is one is written as a `${ENV_VAR}` reference and
read from the environment when the app loads, so the YAML can be committed and shared.

A field whose name says it holds a credential (password, secret, token, api_key, private_key,
credential) may not carry a literal default (E035); a `${NAME}` reference whose variable is not
set is reported too (E036), at load, not when the value is first needed.
"""
from __future__ import annotations

import os
import re

REFERENCE = re.compile(r"^\$\{([A-Z_][A-Z0-9_]{0,99})\}$")
SECRET_NAME = re.compile(r"(^|_)(password|passwd|secret|token|api_?key|private_?key|credentials?)($|_)")


class MissingVariable(Exception):
    def __init__(self, name: str):
        super().__init__(name)
        self.name = name


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def is_reference(value) -> bool:
    return isinstance(value, str) and bool(REFERENCE.match(value))


def resolve(value):
    """`${NAME}` -> the environment's value of NAME (MissingVariable if unset); anything else as is."""
    if not isinstance(value, str):
        return value
    m = REFERENCE.match(value)
    if m is None:
        return value
    if m.group(1) not in os.environ:
        raise MissingVariable(m.group(1))
    return os.environ[m.group(1)]
