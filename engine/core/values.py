"""Field values: coercion from JSON or query strings, constraint checks, and JSON output.

One place decides what a valid value of each field type is, so the API, screens, imports
and metadata defaults agree. Errors are messages that say what to send instead.
"""
from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import BinaryIO
from urllib.parse import urlsplit

from engine.core.errors import Msg

DEFAULT_MAX_LENGTH = {"string": 255, "text": 100_000, "email": 254, "phone": 32, "url": 2048}
MAX_JSON_BYTES = 65_536
INT_MIN, INT_MAX = -(2**63), 2**63 - 1
_DATE_RX = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EMAIL_RX = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_RX = re.compile(r"^\+?[0-9][0-9 ()./-]{2,30}$")
_INT_RX = re.compile(r"^[-+]?\d+$")


class BadValue(ValueError):
    """A value that does not fit its field; the message says what would."""


def parse_id(raw) -> int | None:
    """A record id (or another positive whole number: a version, a count) from a URL, a form or JSON:
    1 to 2^63-1, written in ASCII digits when it is text. None for anything else - Unicode digits
    such as '³', signs, spaces, fractions, true/false and numbers beyond 64 bits included."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        return raw if 1 <= raw <= INT_MAX else None
    if isinstance(raw, str) and 0 < len(raw) <= 19 and raw.isascii() and raw.isdigit():
        n = int(raw)
        return n if 1 <= n <= INT_MAX else None
    return None


def parse_int(raw) -> int | None:
    """A whole number written in ASCII digits with an optional '-', within 64 bits; None otherwise."""
    if isinstance(raw, str) and 0 < len(raw) <= 20 and re.fullmatch(r"-?[0-9]+", raw):
        n = int(raw)
        return n if INT_MIN <= n <= INT_MAX else None
    return None


def parse_ids(raw, most: int) -> list[int] | None:
    """A JSON list of 1 to `most` ids (each as parse_id), or None when it is anything else."""
    if not isinstance(raw, list) or not 1 <= len(raw) <= most:
        return None
    ids = [parse_id(i) if isinstance(i, int) else None for i in raw]
    return None if None in ids else ids


def _text(value, field, from_query: bool) -> str:
    if not isinstance(value, str):
        raise BadValue(Msg("expected text, got %(kind)s", kind=kind_of(value)))
    if "\x00" in value:
        raise BadValue("text must not contain NUL characters")
    return value


def kind_of(value, mapping: str = Msg("an object")) -> str:
    """How to name a value's kind in a message ("text", "a number", ...)."""
    if value is None:
        return Msg("nothing")
    if isinstance(value, bool):
        return Msg("true/false")
    if isinstance(value, (int, Decimal, float)):
        return Msg("a number")
    if isinstance(value, str):
        return Msg("text")
    if isinstance(value, list):
        return Msg("a list")
    if isinstance(value, dict):
        return mapping
    return type(value).__name__


def coerce(field, value, from_query: bool = False):
    """Turn an incoming value into the field's Python value, or raise BadValue.

    Empty strings count as no value. Query strings (from_query) may spell numbers,
    booleans and ids as text; JSON input must use the JSON type.
    """
    if value is None or value == "":
        return None
    t = field.value_type
    if t in ("string", "text", "email", "phone", "url"):
        s = _text(value, field, from_query)
        if t == "email":
            s = s.strip()
            if not _EMAIL_RX.match(s):
                raise BadValue("not an e-mail address, expected name@example.com")
        elif t == "phone":
            s = s.strip()
            if not _PHONE_RX.match(s):
                raise BadValue("not a phone number: digits, spaces, ()-./ and an optional leading +")
        elif t == "url":
            s = s.strip()
            parts = urlsplit(s)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise BadValue("not a web address, expected https://...")
        return s
    if t == "select":
        s = _text(value, field, from_query)
        allowed = field.option_values()
        if s not in allowed:
            raise BadValue(Msg("'%(value)s' is not an option; choose one of: %(options)s", value=s[:50], options=", ".join(allowed)))
        return s
    if t in ("integer", "link", "user"):
        if isinstance(value, bool):
            raise BadValue(Msg("expected a whole number, got %(kind)s", kind=kind_of(value)))
        if isinstance(value, int):
            n = value
        elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
            n = int(value)
        elif isinstance(value, float) and value.is_integer():
            n = int(value)
        elif isinstance(value, str) and from_query and _INT_RX.match(value.strip()):
            n = int(value.strip())
        else:
            if t != "integer":
                raise BadValue(Msg("expected an id (a whole number), got %(kind)s", kind=kind_of(value)))
            raise BadValue(Msg("expected a whole number, got %(kind)s", kind=kind_of(value)))
        if not INT_MIN <= n <= INT_MAX:
            raise BadValue("number is out of range")
        if t != "integer" and n < 1:
            raise BadValue("ids are positive whole numbers")
        return n
    if t == "decimal":
        return _decimal(field, value, from_query)
    if t == "boolean":
        if isinstance(value, bool):
            return value
        if from_query and isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        raise BadValue(Msg("expected true or false, got %(kind)s", kind=kind_of(value)))
    if t == "date":
        if isinstance(value, dt.datetime):
            raise BadValue("expected a date without time, like 2026-03-31")
        if isinstance(value, dt.date):
            return value
        if not isinstance(value, str) or not _DATE_RX.match(value.strip()):
            raise BadValue("expected a date like 2026-03-31")
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError:
            raise BadValue(Msg("'%(value)s' is not a real date", value=value[:20])) from None
    if t == "datetime":
        if isinstance(value, dt.datetime):
            d = value
        elif isinstance(value, str):
            s = value.strip()
            if s.endswith(("Z", "z")):
                s = s[:-1] + "+00:00"
            if not re.match(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", s):
                raise BadValue("expected a time like 2026-03-31T14:30:00Z")
            try:
                d = dt.datetime.fromisoformat(s)
            except ValueError:
                raise BadValue(Msg("'%(value)s' is not a real date and time", value=value[:40])) from None
        else:
            raise BadValue(Msg("expected a time like 2026-03-31T14:30:00Z, got %(kind)s", kind=kind_of(value)))
        if d.tzinfo is None:
            raise BadValue("the time needs a timezone, like 2026-03-31T14:30:00Z or +08:00")
        return d.astimezone(dt.timezone.utc)
    if t == "json":
        if from_query:
            raise BadValue("json fields cannot be filtered")
        try:
            size = len(json.dumps(value, default=str))
        except (TypeError, ValueError):
            raise BadValue("not a JSON value") from None
        if size > MAX_JSON_BYTES:
            raise BadValue(Msg("JSON value is larger than %(n)s bytes", n=MAX_JSON_BYTES))
        return value
    if t == "file":
        if isinstance(value, NewFile):
            return value
        raise BadValue("send the file itself: upload it in a form, or PUT it to /api/v1/{entity}/{id}/files/{field}; "
                       "a file field's value is never written as an id or a name")
    raise BadValue(Msg("fields of type %(type)s cannot be set", type=t))


@dataclass(frozen=True, eq=False)
class NewFile:
    """A file given as a file field's new value (an upload): `file` is seekable and read from its start.
    The files plugin (engine.files.fields) keeps it in the write's transaction and puts the id of its
    attachment in its place."""
    name: str
    file: BinaryIO

    def __repr__(self) -> str:
        return f"NewFile({self.name!r})"


def _decimal(field, value, from_query: bool) -> Decimal:
    if isinstance(value, bool):
        raise BadValue(Msg("expected a number, got %(kind)s", kind=kind_of(value)))
    if isinstance(value, float):
        value = Decimal(repr(value))
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, str):
        s = value.strip()
        if not re.match(r"^[-+]?(\d+(\.\d*)?|\.\d+)$", s):
            raise BadValue(Msg("expected a number like 12.50, got '%(value)s'", value=value[:30]))
        value = Decimal(s)
    if not isinstance(value, Decimal):
        raise BadValue(Msg("expected a number, got %(kind)s", kind=kind_of(value)))
    if not value.is_finite():
        raise BadValue("expected a finite number")
    scale = field.scale if field.scale is not None else 2
    precision = field.precision or 18
    exp = value.normalize().as_tuple().exponent
    if isinstance(exp, int) and -exp > scale:
        raise BadValue(Msg("at most %(n)s decimal place", n=scale) if scale == 1 else Msg("at most %(n)s decimal places", n=scale))
    try:
        q = value.quantize(Decimal(1).scaleb(-scale))
    except InvalidOperation:
        raise BadValue("number is too large") from None
    if abs(q) >= Decimal(10) ** (precision - scale):
        raise BadValue(Msg("number is too large: at most %(n)s digits before the decimal point", n=precision - scale))
    return q


def quantize_result(field, value):
    """Bring a computed value to its result type (rounding decimals half-up to the scale)."""
    if value is None:
        return None
    t = field.result
    if t == "decimal":
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise BadValue(Msg("computed value is %(kind)s, not a number", kind=kind_of(value)))
        scale = field.scale if field.scale is not None else 2
        precision = field.precision or 18
        if not Decimal(value).is_finite() or abs(value) >= Decimal(10) ** (precision - scale):  # it would not fit its column
            raise BadValue(Msg("the result is too large: at most %(n)s digits before the decimal point; check the values it is computed from",
                               n=precision - scale))
        return Decimal(value).quantize(Decimal(1).scaleb(-scale), rounding="ROUND_HALF_UP")
    if t == "integer":
        if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
            raise BadValue(Msg("computed value is %(kind)s, not a number", kind=kind_of(value)))
        n = int(Decimal(value).to_integral_value(rounding="ROUND_HALF_UP"))
        if not INT_MIN <= n <= INT_MAX:
            raise BadValue("the result is too large to store; check the values it is computed from")
        return n
    if t == "string":
        return str(value)
    if t == "boolean":
        return bool(value)
    if t == "date":
        if not isinstance(value, dt.date):
            raise BadValue(Msg("computed value is %(kind)s, not a date", kind=kind_of(value)))
        return value
    return value


def check_constraints(field, value) -> list[str]:
    """Messages for every declared constraint this (coerced, non-empty) value breaks."""
    problems = []
    if isinstance(value, str):
        limit = field.max_length or DEFAULT_MAX_LENGTH.get(field.value_type)
        if limit and len(value) > limit:
            problems.append(Msg("at most %(n)s characters (this has %(has)s)", n=limit, has=len(value)))
        if field.min_length and len(value) < field.min_length:
            problems.append(Msg("at least %(n)s characters", n=field.min_length))
        if field.pattern and not re.fullmatch(field.pattern, value):
            problems.append(Msg("does not match the required format %(pattern)s", pattern=field.pattern))
    if isinstance(value, (int, Decimal)) and not isinstance(value, bool) and field.value_type in ("integer", "decimal"):
        if field.min is not None and value < field.min:
            problems.append(Msg("must be at least %(n)s", n=field.min))
        if field.max is not None and value > field.max:
            problems.append(Msg("must be at most %(n)s", n=field.max))
    return problems


def to_json(field_type: str, value):
    """A JSON-safe form of a stored value: decimals as strings, dates ISO, times UTC with Z."""
    if value is None:
        return None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, NewFile):
        return {"name": value.name}
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return value.astimezone(dt.timezone.utc).isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


QUERY_FLAGS = {"true": True, "1": True, "false": False, "0": False, "": False}


def query_flag(text: str | None) -> bool | None:
    """A yes/no query parameter (?dry_run=true, ?per_line=0; absent or empty is no); None when it is neither."""
    return QUERY_FLAGS.get((text or "").lower())
