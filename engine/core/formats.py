"""Values written for people in one language and time zone: numbers with the locale's signs, dates,
times in the reader's zone, durations, file sizes. Shared by the screens and the printed documents.
"""
from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal

from babel import Locale, dates, numbers, units

BABEL_LOCALES = {"en": "en_US", "zh": "zh_Hans_CN", "ru": "ru_RU"}


@functools.lru_cache(maxsize=None)
def _locale(lang: str) -> Locale:
    return Locale.parse(BABEL_LOCALES.get(lang, lang))


@functools.lru_cache(maxsize=None)
def _number_pattern(scale: int):
    """A parsed '#,##0.00' pattern per scale: parsing once makes formatting twice as fast."""
    return numbers.parse_pattern("#,##0." + "0" * scale if scale else "#,##0")


@functools.lru_cache(maxsize=None)
def _symbols(lang: str) -> tuple[str, str, str]:
    symbols = _locale(lang).number_symbols
    symbols = symbols.get("latn", symbols)
    return symbols.get("group", ","), symbols.get("decimal", "."), symbols.get("minusSign", "-")


@functools.lru_cache(maxsize=20000)
def _format_date(lang: str, value: dt.date) -> str:
    return dates.format_date(value, format="medium", locale=_locale(lang))


class Formatter:
    """Formats values for one language."""

    def __init__(self, lang: str, tz: str = "UTC"):
        self.lang = lang
        self.tz = tz or "UTC"  # where the reader is: times are shown in this zone
        self.locale = _locale(lang)
        self.group, self.point, self.minus = _symbols(lang)

    def decimal(self, value: Decimal, scale: int = 2) -> str:
        """Grouped, exact, with the locale's symbols: Python's format spec on the Decimal itself
        (no float), then the locale's group and decimal signs; matches Babel's #,##0.00."""
        text = format(value, f",.{scale}f")
        if self.group != "," or self.point != ".":
            text = text.replace(",", "\0").replace(".", self.point).replace("\0", self.group)
        return text.replace("-", self.minus) if self.minus != "-" else text

    def integer(self, value: int) -> str:
        return numbers.format_decimal(value, locale=self.locale)

    def date(self, value: dt.date) -> str:
        return _format_date(self.lang, value)

    def datetime(self, value: dt.datetime, tz: str | None = None) -> str:
        """A moment in the reader's time zone (a time without one is UTC), e.g. 7 Dec 2026, 15:08:35."""
        if value.tzinfo is None:
            value = value.replace(tzinfo=dt.timezone.utc)
        return dates.format_datetime(value, format="medium", tzinfo=dates.get_timezone(tz or self.tz), locale=self.locale)

    def duration(self, seconds: int | None) -> str:
        """A span of time in words, e.g. '3 hours'."""
        return dates.format_timedelta(dt.timedelta(seconds=seconds or 0), locale=self.locale)

    def size(self, n: int) -> str:
        """A file's size in the locale's units and signs: 2.4 MB, 2,4 МБ, 512 KB."""
        for unit, step in (("megabyte", 1048576), ("kilobyte", 1024)):
            if n >= step:
                return units.format_unit(round(n / step, 1), f"digital-{unit}", length="short", locale=self.locale)
        return units.format_unit(n, "digital-byte", length="short", locale=self.locale)

    def ago(self, value: dt.datetime) -> str:
        delta = value - dt.datetime.now(dt.timezone.utc)
        return dates.format_timedelta(delta, add_direction=True, locale=self.locale)
