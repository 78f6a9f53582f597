"""Inbound webhooks: `POST /hooks/<connector>` from a system outside, verified and applied.

The Standard Webhooks scheme: headers webhook-id, webhook-timestamp and webhook-signature
(`v1,<base64 HMAC-SHA256 of id.timestamp.body>` with the connector's whsec_ secret, read from the
environment). A bad or missing signature is refused (401), so is a timestamp more than five minutes
away from now; a body larger than the connector's max_body is refused (413) before it is read whole.

A verified call is matched to the first action whose `match` fits the payload; the action finds
one record by id or a unique field, then sets fields and/or fires a transition, through the record
service, as the connector's named system actor (audited). All of it is one transaction together
with the note that the message id is done: a replayed webhook-id has no second effect (200,
`duplicate`), and a call that failed leaves nothing, so the sender's retry can succeed. Every call
is logged in sys_webhook_call: applied, ignored (no action fits), duplicate, refused, or failed and why.
"""
from __future__ import annotations

import binascii
import json
import re
from dataclasses import dataclass
from typing import Mapping

from sqlalchemy import bindparam
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from engine.connectors.adapters import render
from engine.core.actor import Actor
from engine.core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from engine.metadata.connectors import substitute
from engine.metadata.model import Connector
from engine.records.service import Records
from engine.workflow import transitions

DEFAULT_MAX_BODY = 65_536


@dataclass(frozen=True)
class Answer:
    status: int  # the HTTP status for the sender
    body: dict


def connector_for(records: Records, name: str) -> Connector | None:
    c = records.app.connectors.get(name)
    return c if c is not None and c.type == "webhook" else None


def max_body(c: Connector) -> int:
    return int(c.settings.get("max_body", DEFAULT_MAX_BODY))


def actor_for(c: Connector) -> Actor:
    """Who a webhook's changes are by, in the audit trail: the connector's `actor`, else webhook:<name>."""
    return Actor(id=None, username=str(c.settings.get("actor") or f"webhook:{c.name}")[:64], roles=frozenset({"admin"}), via="system")


def receive(records: Records, c: Connector, body: bytes, headers: Mapping[str, str], too_large: bool = False, reply=None) -> Answer:
    """Verify, apply and log one call to the connector `c` (see the module's text). `reply(to, from, text)`
    makes an e-mail reply a comment (engine.comments.replies.add_reply), for an action with `reply:`."""
    message_id = headers.get("webhook-id")
    message_id = message_id[:200] if isinstance(message_id, str) else None
    call = {"connector": c.name, "webhook_id": message_id, "size": len(body)}
    answer, logged = _handle(records, c, body, headers, too_large, message_id, call, reply)
    if not logged:  # refused or failed: the log row on its own (the failed work was rolled back)
        with records.db.write() as conn:
            _log(records, conn, call, answer)
    return answer


def _log(records: Records, conn, call: dict, answer: Answer) -> None:
    conn.execute(records.schema.webhook_call.insert(), {  # values as parameters: the statement is compiled once
        "connector": call["connector"], "webhook_id": call["webhook_id"], "size": call["size"], "received_at": records.clock(),
        "outcome": answer.body["status"], "http_status": answer.status, "detail": answer.body.get("detail") or answer.body.get("done"),
        "entity": answer.body.get("entity") or call.get("entity"), "record_id": answer.body.get("id")})


def _first_time(records: Records, conn):
    """INSERT the message id unless it is there, RETURNING it when it was not: built once per database."""
    stmt = getattr(records.schema, "_webhook_seen_insert", None)
    if stmt is None:
        seen = records.schema.webhook_seen
        insert = (pg_insert if conn.dialect.name == "postgresql" else sqlite_insert)(seen)
        stmt = records.schema._webhook_seen_insert = (
            insert.values(connector=bindparam("c"), webhook_id=bindparam("w"), at=bindparam("at"))
            .on_conflict_do_nothing(index_elements=["connector", "webhook_id"]).returning(seen.c.webhook_id))
    return stmt


_SIGNATURE = re.compile(r"^v[0-9]+[a-z]?,[A-Za-z0-9+/=_-]+$")  # one signature of the header: a version, a comma, base64


def _refused(status: int, detail: str) -> tuple[Answer, bool]:
    return Answer(status, {"status": "refused", "detail": detail}), False


def _handle(records: Records, c: Connector, body: bytes, headers: Mapping[str, str], too_large: bool, message_id: str | None,
            call: dict, reply=None) -> tuple[Answer, bool]:
    """The answer, and whether its log row is written already (with the work, in its transaction)."""
    if not c.enabled:
        return _refused(503, f"the connector is off: set {', '.join(c.missing)} where the app runs")
    if too_large:
        return _refused(413, f"the body is larger than {max_body(c)} bytes")
    try:
        hook = Webhook(substitute(c.settings["secret"]))
    except Exception:  # the secret set in the environment is not a whsec_<base64> key
        return _refused(503, "the connector's secret is not a whsec_ key; fix the environment variable")
    signature = headers.get("webhook-signature")
    if signature is not None and not any(_SIGNATURE.match(part) for part in signature.split()):
        return _refused(401, "not verified: the signature headers or the body are malformed")  # told alike whatever the library's version
    try:
        text = body.decode("utf-8")
        hook.verify(text, dict(headers), json_parse=False)
    except WebhookVerificationError as exc:
        return _refused(401, f"not verified: {exc}")
    except (UnicodeDecodeError, ValueError, binascii.Error):  # a body that is not UTF-8, a malformed signature header
        return _refused(401, "not verified: the signature headers or the body are malformed")
    try:
        payload = json.loads(text)
    except ValueError:
        return _refused(400, "the body is not JSON")
    if not isinstance(payload, dict):
        return _refused(400, "the body must be a JSON object")
    action = next((a for a in c.settings.get("actions", ()) if _fits(a.get("match"), payload)), None)
    try:
        with records.db.write() as conn:  # the effect, the note that this message is done and the log row: together, or none
            fresh = conn.execute(_first_time(records, conn), {"c": c.name, "w": message_id, "at": records.clock()}
                                 ).first() is not None  # a row only when this message is new
            if not fresh:
                answer = Answer(200, {"status": "duplicate", "detail": f"message {message_id} was applied before; nothing done again"})
            elif action is None:
                answer = Answer(200, {"status": "ignored", "detail": "no action of this connector matches the payload"})
            else:
                entity, record_id, done = _reply(action, payload, reply) if "reply" in action else _apply(records, c, action, payload)
                answer = Answer(200, {"status": "applied", "entity": entity, "id": record_id, "done": done})
            _log(records, conn, call, answer)
            return answer, True
    except NotFound as exc:
        status, detail = 404, exc.reason
    except (Conflict, Forbidden) as exc:
        status, detail = 409, exc.reason
    except ValidationFailed as exc:
        status, detail = 422, "; ".join(f"{e.field}: {e.message}" for e in exc.errors)
    call["entity"] = action.get("entity") if action is not None else None  # for the log; the sender is told what went wrong only
    return Answer(status, {"status": "failed", "detail": detail}), False


def _fits(match, payload: dict) -> bool:
    """Does every dotted path of `match` hold the value it names (`data.type: contract.signed`)?"""
    for path, expected in (match or {}).items():
        value = payload
        for part in path.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        if value != expected and str(value) != str(expected):
            return False
    return True


def _reply(action: dict, payload: dict, reply) -> tuple[str, int, str]:
    """An e-mail reply (the action's `reply:` templates name its recipients, sender and text in the payload) made a comment."""
    if reply is None:  # pragma: no cover - the server always passes the comment service's
        raise NotFound("replies are not taken here")
    context = {**payload, "payload": payload}
    spec = action["reply"]
    return reply(render(spec["to"], context), render(spec["from"], context), render(spec["text"], context))


def _apply(records: Records, c: Connector, action: dict, payload: dict) -> tuple[str, int, str]:
    actor = actor_for(c)
    context = {**payload, "payload": payload}
    entity = action["entity"]
    [(key, source)] = action["find"].items()
    wanted = render(source, context)
    if wanted is None or wanted == "":
        raise NotFound(f"the payload gives no {key} to find the {entity} by")
    found = records.find(actor, entity, key, str(wanted))
    if len(found) != 1:
        raise NotFound(f"no {entity} has {key} {str(wanted)[:100]}" if not found else f"more than one {entity} has {key} {str(wanted)[:100]}")
    [(record_id, version)] = found
    done = []
    if action.get("set"):
        values = render(dict(action["set"]), context)
        records.update(actor, entity, record_id, values, version=version)
        done.append("set " + ", ".join(sorted(values)))
    if action.get("fire"):
        inputs = render(dict(action.get("inputs") or {}), context)
        transitions.fire(records, actor, entity, record_id, action["fire"], fields=inputs or None)
        done.append(f"fired {action['fire']}")
    return entity, record_id, "; ".join(done)
