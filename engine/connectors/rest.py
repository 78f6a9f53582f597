"""The `rest` connector: an HTTP request to base_url + path built from templates, sent with httpx.

Every attempt carries `Idempotency-Key: <event id>`; with `sign`, Standard Webhooks headers too
(webhook-id, webhook-timestamp, webhook-signature: v1,<base64 HMAC-SHA256 of id.timestamp.body>
with the whsec_ secret). Timeouts, connection errors, 429 and 5xx are worth another try; any
other answer outside 2xx is final. Redirects are not followed (a redirect is an answer to fix, not
to chase). ${VAR} references in the address and headers are read from the environment when the
request is sent, so no secret is ever stored with a delivery.
"""
from __future__ import annotations

import datetime as dt
import json
import time

import httpx
from standardwebhooks.webhooks import Webhook

from engine.connectors.adapters import Outcome, render
from engine.metadata.connectors import substitute
from engine.metadata.model import Connector

MAX_ANSWER = 1_000_000  # bytes of an answer read at the most
_CLIENT: httpx.Client | None = None


def client() -> httpx.Client:
    """One pooled client for every rest connector of the process (keep-alive to each receiver)."""
    global _CLIENT
    if _CLIENT is None:
        _CLIENT = httpx.Client(follow_redirects=False, limits=httpx.Limits(max_connections=20, max_keepalive_connections=10))
    return _CLIENT


class Rest:
    def prepare(self, connector: Connector, context: dict) -> dict:
        s = connector.settings
        path = render(s.get("path", ""), context) if s.get("path") else ""
        body = s.get("body")
        if body is None:
            text, content_type = json.dumps(context["record"], ensure_ascii=False, default=str), "application/json"
        elif isinstance(body, str):
            text, content_type = str(render(body, context)), "text/plain; charset=utf-8"
        else:
            text, content_type = json.dumps(render(body, context), ensure_ascii=False, default=str), "application/json"
        headers = {"Content-Type": content_type, **dict(s.get("headers") or {})}
        return {"method": s.get("method", "POST"), "url": s["base_url"].rstrip("/") + str(path), "headers": headers, "body": text}

    def send(self, connector: Connector, request: dict, key: str) -> Outcome:
        try:
            url = substitute(request["url"])
            headers = {k: substitute(v) for k, v in request["headers"].items()}
        except KeyError as exc:  # a variable unset since the delivery was made
            return Outcome(False, error=f"the environment variable {exc.args[0]} is not set", retry=True)
        headers["Idempotency-Key"] = key
        body = request.get("body")
        sign = connector.settings.get("sign")
        if sign:
            stamp = int(time.time())
            try:
                signature = Webhook(substitute(sign["secret"])).sign(key, _utc(stamp), body or "")
            except Exception as exc:  # a secret that is not whsec_<base64>: the connector's setting is wrong
                return Outcome(False, error=f"cannot sign: the secret is not a whsec_ key ({type(exc).__name__})", retry=False)
            headers.update({"webhook-id": key, "webhook-timestamp": str(stamp), "webhook-signature": signature})
        started = time.monotonic()
        try:
            with client().stream(request["method"], url, content=(body or "").encode("utf-8") if body is not None else None,
                                 headers=headers, timeout=connector.timeout) as r:
                raw = b""
                for chunk in r.iter_bytes():  # the whole answer within the timeout, not each piece of it
                    raw += chunk
                    if len(raw) > MAX_ANSWER:
                        break
                    if time.monotonic() - started > connector.timeout:
                        raise httpx.ReadTimeout("the answer took too long")
        except httpx.TimeoutException:
            return Outcome(False, error=f"no answer within {connector.timeout:g} s", retry=True)
        except httpx.TransportError as exc:
            return Outcome(False, error=f"could not connect: {type(exc).__name__}: {exc}"[:500], retry=True)
        except httpx.InvalidURL as exc:
            return Outcome(False, error=f"the address is not valid: {exc}", retry=False)
        text = raw[:MAX_ANSWER].decode("utf-8", errors="replace")
        answer = _json(text, r.headers.get("content-type", ""))
        status = r.status_code
        if 200 <= status < 300:
            return Outcome(True, status, answer=answer, excerpt=text[:2000])
        retry = status == 429 or status >= 500
        where = f" to {r.headers.get('location')}" if 300 <= status < 400 and r.headers.get("location") else ""
        return Outcome(False, status, error=f"the receiver answered {status} {r.reason_phrase}{where}".strip(), retry=retry, excerpt=text[:2000])


def _json(text: str, content_type: str):
    if "json" in content_type.lower():
        try:
            return json.loads(text)
        except ValueError:
            return text
    return text


def _utc(stamp: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(stamp, dt.timezone.utc)
