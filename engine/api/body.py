"""Reading request bodies safely: a size cap, JSON only, exact decimals."""
from __future__ import annotations

import json
from decimal import Decimal

from engine.core.errors import BadRequest, Msg, PayloadTooLarge

MAX_BODY = 2 * 1024 * 1024


_REQUIRED = object()


async def read_json(request, empty=_REQUIRED):
    """The JSON body; `empty` is what an empty body means (without it, an empty body is a 400)."""
    ctype = request.headers.get("content-type", "")
    if ctype and "json" not in ctype:
        raise BadRequest(Msg("send the body as JSON (Content-Type: application/json), not %(type)s", type=ctype.split(";")[0]))
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > MAX_BODY:
        raise PayloadTooLarge(Msg("the body is %(n)s bytes; at most %(most)s bytes are accepted", n=int(length), most=MAX_BODY))
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY:
            raise PayloadTooLarge(Msg("the body is larger than %(most)s bytes", most=MAX_BODY))
        chunks.append(chunk)
    raw = b"".join(chunks)
    if not raw.strip():
        if empty is not _REQUIRED:
            return empty
        raise BadRequest("the request body is empty; send a JSON object")
    try:
        return json.loads(raw.decode("utf-8"), parse_float=Decimal, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise BadRequest("the body is not UTF-8 text") from None
    except (json.JSONDecodeError, ValueError) as exc:
        msg = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)
        where = f" at line {exc.lineno}, column {exc.colno}" if isinstance(exc, json.JSONDecodeError) else ""
        raise BadRequest(Msg("the body is not valid JSON: %(why)s%(where)s", why=msg, where=where)) from None
    except RecursionError:
        raise BadRequest("the JSON body is nested too deeply") from None


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")
