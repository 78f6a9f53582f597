"""The `email` connector: a message built from per-language templates, sent through the SMTP server
that ENGINE_SMTP_URL names (smtp://user:password@host:port; STARTTLS whenever the server offers it,
smtps:// for TLS from the start, the server's certificate verified either way; ENGINE_SMTP_FROM is
the sender, default noreply@<host>).

The message is built once, when the delivery is made: the addresses (`to`, templates), the subject
and the plain text (and HTML, when given) in the `language` the connector names (a template, e.g.
the record's language field), else the app's default language. A server that is down or answers 4xx
is tried again; a 5xx answer for every recipient is final. Each message carries the event id in
`X-Engine-Event`, so a receiving system can tell a message sent twice (after a crash) from a new one.
"""
from __future__ import annotations

import os
import smtplib
import socket
import ssl
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import unquote, urlsplit

from engine.connectors.adapters import Outcome, render
from engine.core.values import BadValue, coerce
from engine.metadata.connectors import SMTP_URL
from engine.metadata.model import Connector, Field, Label

_EMAIL = Field("to", "email", Label.of("to"))


def _text(source, lang: str, default: str) -> str | None:
    """The template for `lang` of a text given per language (or one text for all)."""
    if source is None or isinstance(source, str):
        return source
    return source.get(lang) or source.get(default) or next(iter(source.values()))


class Email:
    default_language = "en"

    def prepare(self, connector: Connector, context: dict) -> dict:
        s = connector.settings
        default = context.get("app_language") or self.default_language
        lang = str(render(s["language"], context) or "") if s.get("language") else default
        subjects = s["subject"] if isinstance(s["subject"], dict) else {}
        lang = lang if lang in subjects or not subjects else default
        to = []
        for source in s["to"]:
            value = render(source, context)
            for address in (value if isinstance(value, list) else [value]):
                if address in (None, ""):
                    continue
                try:
                    to.append(coerce(_EMAIL, str(address)))
                except BadValue:
                    raise ValueError(f"'{str(address)[:80]}' is not an e-mail address") from None
        if not to:
            raise ValueError("no address to send to: every `to` was empty for this record")
        html = _text(s.get("html"), lang, default)
        return {"to": list(dict.fromkeys(to)), "language": lang,
                "subject": " ".join(str(render(_text(s["subject"], lang, default), context)).split())[:250],
                "text": str(render(_text(s["text"], lang, default), context)),
                "html": str(render(html, context)) if html else None}

    def send(self, connector: Connector, request: dict, key: str) -> Outcome:
        url = os.environ.get(SMTP_URL)
        if not url:
            return Outcome(False, error=f"{SMTP_URL} is not set", retry=True)
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            return Outcome(False, error=f"{SMTP_URL} must look like smtp://user:password@host:port", retry=True)
        sender = os.environ.get("ENGINE_SMTP_FROM") or f"noreply@{parts.hostname}"
        msg = EmailMessage()
        msg["From"] = formataddr(("", sender)) if "<" not in sender else sender
        msg["To"] = ", ".join(request["to"])
        msg["Subject"] = request["subject"]
        msg["Message-ID"] = make_msgid(domain=parts.hostname)
        msg["X-Engine-Event"] = key
        if request.get("reply_to"):  # a reply becomes a comment on the record (engine.core.replyto)
            msg["Reply-To"] = request["reply_to"]
        msg["Content-Language"] = request.get("language") or self.default_language
        msg.set_content(request["text"])
        if request.get("html"):
            msg.add_alternative(request["html"], subtype="html")
        try:
            tls = ssl.create_default_context()  # the server's certificate is verified (system CAs; SSL_CERT_FILE adds one)
            port = parts.port or (465 if parts.scheme == "smtps" else 25)
            smtp_open = (lambda: smtplib.SMTP_SSL(parts.hostname, port, timeout=connector.timeout, context=tls)) if parts.scheme == "smtps" \
                else (lambda: smtplib.SMTP(parts.hostname, port, timeout=connector.timeout))
            with smtp_open() as smtp:
                smtp.ehlo()
                if parts.scheme == "smtp" and smtp.has_extn("starttls"):
                    smtp.starttls(context=tls)
                    smtp.ehlo()
                if parts.username:
                    smtp.login(unquote(parts.username), unquote(parts.password or ""))
                refused = smtp.send_message(msg)
        except smtplib.SMTPRecipientsRefused as exc:
            codes = {code for code, _ in exc.recipients.values()}
            return Outcome(False, status=min(codes), error=f"every recipient was refused: {', '.join(exc.recipients)}",
                           retry=all(400 <= c < 500 for c in codes))
        except smtplib.SMTPResponseException as exc:
            return Outcome(False, status=exc.smtp_code, error=f"the mail server answered {exc.smtp_code}: {exc.smtp_error!r}"[:500],
                           retry=400 <= exc.smtp_code < 500)
        except ssl.SSLCertVerificationError as exc:
            return Outcome(False, error=f"the mail server's certificate is not trusted: {exc.verify_message or exc}; "
                                        "give its CA in SSL_CERT_FILE, or fix the server's certificate"[:500], retry=True)
        except (OSError, socket.timeout, smtplib.SMTPException) as exc:
            return Outcome(False, error=f"could not reach the mail server: {type(exc).__name__}: {exc}"[:500], retry=True)
        note = f"; refused: {', '.join(refused)}" if refused else ""
        return Outcome(True, status=250, excerpt=f"sent to {', '.join(a for a in request['to'] if a not in refused)}{note}")
