"""Messages in the reader's language: the message catalogues (engine/locale/<lang>/LC_MESSAGES/
messages.po, compiled in memory at first use, so there is no build step), choosing a language from
Accept-Language, and saying an engine message (engine.core.errors.Msg) or error in a language.

Screens and the API both say errors through here, so a validation message reads the same in a
form and in a problem+json body, in English, Chinese or Russian.
"""
from __future__ import annotations

import gettext
import io
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from engine.core.errors import EngineError, FieldError, Msg, ValidationFailed

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
_CACHE: dict[str, gettext.NullTranslations] = {}


def _load(lang: str) -> gettext.NullTranslations:
    po = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not po.is_file():
        return gettext.NullTranslations()
    with po.open("rb") as f:
        catalog = read_po(f, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


def translations(lang: str) -> gettext.NullTranslations:
    if lang not in _CACHE:
        _CACHE[lang] = _load(lang)
    return _CACHE[lang]


def negotiate(accept_language: str | None, offered: tuple[str, ...], default: str) -> str:
    """Pick from `offered` by the Accept-Language header's preference order."""
    if not accept_language:
        return default
    prefs = []
    for part in accept_language.split(","):
        piece = part.strip().split(";")
        tag = piece[0].strip().lower()
        q = 1.0
        for p in piece[1:]:
            if p.strip().startswith("q="):
                try:
                    q = float(p.strip()[2:])
                except ValueError:
                    q = 0.0
        if tag:
            prefs.append((q, tag))
    for _, tag in sorted(prefs, key=lambda x: -x[0]):
        base = tag.split("-")[0]
        if base in offered:
            return base
    return default


def localize(text, lang: str) -> str:
    """An engine message in `lang`: a Msg's template from the catalogue with its parts said in
    `lang` too, a metadata text in its own translation, a plain message as the catalogue has it."""
    if text is None:
        return ""
    if lang == "en" and not isinstance(text, Msg):
        return str(text)
    gettext_ = translations(lang).gettext
    if isinstance(text, Msg):
        if text.source is not None:
            said = text.source.get(lang)
            return said.lower() if text.lower else said
        parts = {k: localize(v, lang) if isinstance(v, Msg) else v for k, v in text.parts.items()}
        template = gettext_(text.template)
        try:
            return template % parts if parts else template
        except (KeyError, ValueError, TypeError):  # a translation that lost a part: English is better than nothing
            return str(text)
    return gettext_(text) if isinstance(text, str) else str(text)


def field_errors(errors: list[FieldError], lang: str) -> list[FieldError]:
    return [FieldError(e.field, localize(e.message, lang)) for e in errors]


def reason(exc: EngineError, lang: str) -> str:
    """A refusal in one sentence in `lang`, for a message beside a button (field errors without their field names)."""
    if isinstance(exc, ValidationFailed):
        return "; ".join(localize(e.message, lang) for e in exc.errors)
    return localize(exc.detail, lang)


def error_text(exc: EngineError, lang: str) -> tuple[str, str, list[FieldError]]:
    """(title, detail, field errors) of an error, in `lang`."""
    title = localize(exc.title, lang)
    if isinstance(exc, ValidationFailed):
        errors = field_errors(exc.errors, lang)
        if exc.composed:  # the detail lists the field errors: list them in this language
            n = len(errors)
            shown = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
            detail = localize(Msg("1 field needs fixing: %(list)s", list=shown) if n == 1 else
                              Msg("%(n)s fields need fixing: %(list)s", n=n, list=shown), lang)
        else:
            detail = localize(exc.detail, lang)
        return title, detail, errors
    return title, localize(exc.detail, lang), []
