"""Settings read from the environment: one reader per kind of value, so every variable is refused
the same way, naming itself and what it takes, when it is set to something unusable."""
from __future__ import annotations

import os
from collections.abc import Mapping


def size_limit(name: str, default_mb: float, environ: Mapping[str, str] | None = None) -> int:
    """A size limit given in MB by the variable `name`, in bytes; `default_mb` when it is unset, not a
    number, or not above zero (a limit is read on each upload: a typo must not stop every upload)."""
    raw = ((os.environ if environ is None else environ).get(name) or "").strip()
    try:
        mb = float(raw) if raw else default_mb
    except ValueError:
        mb = default_mb
    return int((mb if mb > 0 else default_mb) * 1048576)


def positive_number(name: str, default: float, environ: Mapping[str, str] | None = None) -> float:
    """The variable `name` as a number above zero; `default` when it is unset or empty; ValueError otherwise."""
    raw = (os.environ if environ is None else environ).get(name)
    if raw in (None, ""):
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1
    if not value > 0:
        raise ValueError(f"{name} must be a positive number, not {raw!r}")
    return value
