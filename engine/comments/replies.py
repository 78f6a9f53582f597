"""An e-mail reply as a comment: what the person wrote above the e-mail they answer.

The mail provider posts each message sent to the reply mailbox to a webhook connector of the app
(an action with `reply:`, engine.connectors.webhooks); the reply address says who the e-mail went to
and which record it was about, signed (engine.core.replyto). The comment is that person's, through
the comment service - so it is refused where they may not comment now (the record out of their
scope since, their account deactivated) - and only when the reply comes from their own address."""
from __future__ import annotations

import re
from email.utils import parseaddr

from sqlalchemy import select

from engine.access import users
from engine.core import replyto
from engine.core.errors import FieldError, Forbidden, Msg, NotFound, ValidationFailed

# where the quoted e-mail begins, in the mail programs our users have (English, Chinese, Russian)
_QUOTE_STARTS = (
    re.compile(r"^\s*On\b.{0,300}\bwrote:\s*$", re.I),  # On Mon, 7 Dec 2026 at 10:00, Orders <...> wrote:
    re.compile(r"^.{0,300}(написал|написала|написал\(а\)|пишет)\s*:\s*$", re.I),  # 7 дек. 2026 г., в 10:00, Orders <...> написал:
    re.compile(r"^.{0,300}(写道|寫道)\s*[:：]\s*$"),  # 2026年12月7日 10:00，Orders <...> 写道：
    re.compile(r"^\s*-{2,}\s*(Original Message|Исходное сообщение|原始邮件|原始郵件)\s*-{2,}", re.I),
    re.compile(r"^\s*(From|От|发件人|寄件者)\s*[:：]\s*\S"),  # Outlook's block of the original's headers
    re.compile(r"^\s*_{20,}\s*$"),  # Outlook's line above it
)


def reply_text(text: str) -> str:
    """The part of a reply its writer typed: up to the quoted e-mail or the signature ("-- "), without "> " lines."""
    lines = str(text or "").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out = []
    for i, line in enumerate(lines):
        joined = line + " " + lines[i + 1] if i + 1 < len(lines) else line  # a client that wraps "On ... <addr>" / "wrote:"
        if any(p.match(line) for p in _QUOTE_STARTS) or (line.lstrip().startswith("On ") and _QUOTE_STARTS[0].match(joined)):
            break
        if line in ("-- ", "--"):
            break
        if line.lstrip().startswith(">"):
            continue
        out.append(line.rstrip())
    return "\n".join(out).strip()


def add_reply(comments, recipients, sender, text) -> tuple[str, int, str]:
    """The reply as a comment of the person it was sent to, on the record it was about: (entity, record id, what was done).
    NotFound without a valid reply address among `recipients`; Forbidden from an address not theirs, or for an account
    that no longer works; ValidationFailed for a reply with nothing of its own."""
    found = replyto.read(recipients if isinstance(recipients, (list, tuple)) else [recipients])
    if found is None:
        raise NotFound(Msg("none of the recipients is a reply address of this app with a valid signature"))
    user_id, entity, record_id = found
    records = comments.records
    u = records.schema.user
    with records.db.read() as conn:
        actor = users.actor_for_id(conn, records.schema, user_id, via="email")
        email = conn.execute(select(u.c.email).where(u.c.id == user_id)).scalar()
    if actor is None:
        raise Forbidden(Msg("the person this e-mail was sent to can no longer sign in"))
    came_from = parseaddr(str(sender or ""))[1].strip().lower()
    if not email or came_from != email.strip().lower():
        raise Forbidden(Msg("the reply came from %(sender)s, not from the address the e-mail was sent to", sender=came_from[:254] or "?"))
    said = reply_text(text)
    if not said:
        raise ValidationFailed([FieldError("text", Msg("the reply has no text of its own above the quoted e-mail"))])
    made = comments.add(actor, entity, record_id, said)
    return entity, record_id, f"comment {made['id']} by {actor.username}"
