"""The `sms` connector: a text message through any HTTP SMS gateway, described like a `rest`
connector (base_url, path, headers, body, sign, retry) plus `to` (the phone number, a template),
`text` (per language) and `language`. The gateway's request is built from the body template, which
sees the message as `sms.to` and `sms.text` (without a body: {"to": ..., "text": ...}); sent,
retried and logged like any rest delivery, with the event id as the idempotency key."""
from __future__ import annotations

from dataclasses import replace

from engine.connectors.adapters import render
from engine.connectors.rest import Rest
from engine.core.values import BadValue, coerce
from engine.metadata.model import Connector, Field, Label

_PHONE = Field("to", "phone", Label.of("to"))


class Sms(Rest):
    def prepare(self, connector: Connector, context: dict) -> dict:
        s = connector.settings
        default = context.get("app_language") or "en"
        texts = s["text"] if isinstance(s["text"], dict) else {default: s["text"]}
        lang = str(render(s["language"], context) or "") if s.get("language") else default
        lang = lang if lang in texts else default if default in texts else next(iter(texts))
        phone = render(s["to"][0] if isinstance(s["to"], list) else s["to"], context)
        if phone in (None, ""):
            raise ValueError("no phone number to send to for this record")
        try:
            phone = coerce(_PHONE, str(phone))
        except BadValue:
            raise ValueError(f"'{str(phone)[:40]}' is not a phone number") from None
        message = {"to": phone, "text": " ".join(str(render(texts[lang], context)).split()), "language": lang}
        if s.get("body") is None:
            connector = _with_body(connector, {"to": "{{ sms.to }}", "text": "{{ sms.text }}"})
        return super().prepare(connector, {**context, "sms": message})


def _with_body(connector: Connector, body: dict) -> Connector:
    return replace(connector, settings={**connector.settings, "body": body})
