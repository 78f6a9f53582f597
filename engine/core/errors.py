"""Errors shared by every layer, so the API and the screens can render one error body.

Each error carries what is wrong and what to do about it; adapters turn them into
problem+json (API) or an error page (screens) without knowing where they came from.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class Msg(str):
    """A message for people, in English, that remembers its template and parts so an adapter can
    say it in the reader's language (engine.core.i18n.localize): `Msg("at most %(n)s lines", n=500)`.
    It is a str, so code that compares, joins or logs messages sees the English text.

    `Msg.label(label)` is a text the metadata gives per language (a rule's message, an entity's
    label): it is said with the label's own translation, not the UI catalogue's."""

    template: str
    parts: dict
    source = None  # a metadata Label (anything with .get(lang)) for Msg.label
    lower = False

    def __new__(cls, template: str, **parts):
        try:
            text = template % parts if parts else template
        except (KeyError, ValueError, TypeError):  # a part missing from the template: keep the template readable
            text = template
        obj = super().__new__(cls, text)
        obj.template = template
        obj.parts = parts
        return obj

    @classmethod
    def label(cls, label, lower: bool = False) -> "Msg":
        text = label.get("en")
        obj = cls(text.lower() if lower else text)
        obj.source, obj.lower = label, lower
        return obj


def message_of(exc: BaseException) -> str:
    """The message an exception carries (a Msg when it was raised with one), for wrapping in another."""
    return exc.args[0] if exc.args and isinstance(exc.args[0], str) else str(exc)


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str

    def as_dict(self) -> dict:
        return {"field": self.field, "message": self.message}


class EngineError(Exception):
    """Base class for errors that are meant to be shown to a user."""

    status = 400
    title = "Bad request"

    def __init__(self, detail: str):
        super().__init__(detail)
        self.detail = detail

    @property
    def reason(self) -> str:
        """The refusal in one sentence, for a message beside a button (field errors without their field names)."""
        return self.detail


class BadRequest(EngineError):
    status = 400
    title = "Bad request"


class Unauthenticated(EngineError):
    status = 401
    title = "Not signed in"


class Forbidden(EngineError):
    status = 403
    title = "Not allowed"


class NotFound(EngineError):
    status = 404
    title = "Not found"


class Conflict(EngineError):
    status = 409
    title = "Conflict"

    def __init__(self, detail: str, current: dict | None = None):
        super().__init__(detail)
        self.current = current


class Gone(EngineError):
    """A single-use link already used, or past its time."""
    status = 410
    title = "Link no longer valid"


class TooManyRequests(EngineError):
    status = 429
    title = "Too many attempts"

    def __init__(self, detail: str, retry_after: int = 60):
        super().__init__(detail)
        self.retry_after = retry_after


class PayloadTooLarge(EngineError):
    status = 413
    title = "Request too large"


class Unavailable(EngineError):
    """Something this installation lacks (a system library), which an administrator can add."""
    status = 503
    title = "Not available"


class ValidationFailed(EngineError):
    """One or more field errors; all of them are collected before this is raised."""

    status = 422
    title = "Invalid input"

    def __init__(self, errors: list[FieldError], detail: str | None = None):
        self.errors = list(errors)
        self.composed = detail is None  # the detail is made from the field errors (and can be made again in another language)
        if detail is None:
            n = len(self.errors)
            detail = f"{n} field{'s' if n != 1 else ''} need{'s' if n == 1 else ''} fixing: " + "; ".join(
                f"{e.field}: {e.message}" for e in self.errors[:5]
            )
        super().__init__(detail)

    @property
    def reason(self) -> str:
        return "; ".join(e.message for e in self.errors)


@dataclass
class ErrorCollector:
    """Collects field errors so that every problem is reported at once."""

    errors: list[FieldError] = field(default_factory=list)

    def add(self, field_name: str, message: str, **parts) -> None:
        """`message` may be a template with %(name)s parts given as keywords (then it is said in the reader's language)."""
        self.errors.append(FieldError(field_name, Msg(message, **parts) if parts else message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise ValidationFailed(self.errors)

    def __bool__(self) -> bool:
        return bool(self.errors)
