"""The screens' names for locale-aware formatting (engine.core.formats, shared with the printed
documents) and for the message catalogues and language choice (engine.core.i18n, shared with the API).

The language of a screen is the user's setting, else the browser's Accept-Language, else the
app's default.
"""
from __future__ import annotations

from engine.core.formats import BABEL_LOCALES, Formatter  # noqa: F401  (the screens' names for them)
from engine.core.i18n import LOCALE_DIR, localize, negotiate, translations  # noqa: F401
