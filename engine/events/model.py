"""The domain events a write emits, and the transaction context that carries them.

Each event is emitted inside the transaction of the change it describes (engine.events.bus), gets
its monotonic id from the outbox row that stores it, and reaches every subscriber through the
`on_event` plugin hook: the built-in behaviours (audit, timeline, review tasks, deadlines,
notifications) and any customer plugin. `data` is what the outbox keeps and the event feed shows
(JSON); `record`, `before` and `inputs` are the Python values the in-transaction subscribers need.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy.engine import Connection

from engine.core.actor import Actor

if TYPE_CHECKING:  # for editors and type checkers only: records sits above events (the layer contracts leave this import out)
    from engine.records.service import Records

# the kinds of events; later features add theirs (comment_added, attachment_added...)
CREATED = "created"  # a record was created (data: changes)
UPDATED = "updated"  # a record changed (data: changes with old and new values)
DELETED = "deleted"  # a record was deleted (data: changes, the values it had)
TRANSITIONED = "transitioned"  # a workflow transition fired (data: changes, transition: name, from, to, comment, inputs)
STATE_ENTERED = "state_entered"  # a record entered a workflow state (data: from, to, and the transition that took it there)
OPINION_GIVEN = "opinion_given"  # a department gave its opinion in a review (data: review: role, decision, opinion)
DEADLINE_REACHED = "deadline_reached"  # a reminder or escalation of a state's deadline fired (data: kind, step, state)
IMPORT_FINISHED = "import_finished"  # an import wrote its records (data: file, created, updated, unchanged, transitioned, errors, job)
ATTACHMENT_ADDED = "attachment_added"  # a file was attached to a record (data: attachment: id, name, size, content_type, sha256)
ATTACHMENT_REMOVED = "attachment_removed"  # a file was removed from a record (data: attachment, as above)
COMMENT_ADDED = "comment_added"  # a comment on a record (data: comment: id, text; mentions: the ids of the people it mentions)
COMMENT_EDITED = "comment_edited"  # a comment changed by its author (data: comment, before: the text it had, mentions: people newly mentioned)
COMMENT_REMOVED = "comment_removed"  # a comment deleted (data: comment)
ACCESS_LINK = "access_link"  # an invitation (on the party record) or a password reset link was sent (data: user, purpose; never the link)
KINDS = (CREATED, UPDATED, DELETED, TRANSITIONED, STATE_ENTERED, OPINION_GIVEN, DEADLINE_REACHED, IMPORT_FINISHED, ATTACHMENT_ADDED,
         ATTACHMENT_REMOVED, COMMENT_ADDED, COMMENT_EDITED, COMMENT_REMOVED, ACCESS_LINK)


@dataclass(frozen=True)
class Event:
    type: str
    entity: str
    record_id: int | None
    actor: Actor
    at: dt.datetime
    data: dict = field(default_factory=dict)  # JSON: what the outbox stores and the feed shows
    action: str | None = None  # the audit entry's action ("create", "update", "transition", "reassign"...); None: not audited
    record: dict | None = field(default=None, compare=False, repr=False)  # the record after the change (in-transaction only)
    before: dict | None = field(default=None, compare=False, repr=False)  # the record before it
    inputs: dict | None = field(default=None, compare=False, repr=False)  # a transition's inputs as values
    id: int | None = None  # the outbox id, set when emitted


@dataclass
class Tx:
    """One write's transaction and what every step of it shares: the connection, the record service,
    who acts, the moment it happens and the language of its messages."""

    conn: Connection
    records: Records
    actor: Actor
    now: dt.datetime
    lang: str = "en"
    emitted: list = field(default_factory=list)  # the events of this transaction, in order
    told: dict = field(default_factory=dict)  # event id -> how many people a notification subscriber told (a timer reports it)
    noticed: set = field(default_factory=set)  # (event id, user id, channel) already sent beyond the bell: each person hears once per channel


@dataclass(frozen=True)
class Notice:
    """One person told of a record on a channel beyond the bell (email, sms), in the words and
    language meant for them: what the record service hands the `send_notice` hook once it has
    decided the person may read the record and wants to hear by this channel."""

    channel: str  # email or sms
    event_id: int  # the event that caused it (with the user: the idempotency key)
    user_id: int
    to: str  # the e-mail address or phone number
    name: str  # the person's display name
    language: str
    subject: str
    text: str
    entity: str
    record_id: int | None
    kind: str  # transition, reminder, escalation, reduced, reassigned

    def json(self) -> dict:
        return {"channel": self.channel, "to": self.to, "name": self.name, "language": self.language, "subject": self.subject,
                "text": self.text, "entity": self.entity, "record_id": self.record_id, "kind": self.kind}
