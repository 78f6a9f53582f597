"""Reading an uploaded file into a header and rows, whatever it is: .xlsx (python-calamine: about
ten times faster than openpyxl's read-only mode on 100,000 rows - 0.7 s against 7.8 s - with
formulas read as their cached values) or .csv (UTF-8 with or without a BOM, GB18030 or
Windows-1251, chosen or detected; `,` or `;`, chosen or detected). What cannot be read is refused
with a message that says what to do: an empty file, a file that is not a spreadsheet, a sheet
whose header has merged cells, a file larger than the limit (ENGINE_IMPORT_MAX_MB, default 50)."""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from engine.core.errors import BadRequest, Msg
from engine.core.settings import size_limit

ENCODINGS = ("utf-8", "gb18030", "cp1251")
DEFAULT_MAX_MB = 50


@dataclass
class Sheet:
    header: list[str]
    rows: list[tuple[int, list]]  # (the row's number as the spreadsheet shows it, its cells)
    kind: str = "xlsx"  # or csv: what the file was, so that its errors go back in the same form
    encoding: str = "utf-8"  # a CSV's encoding and delimiter
    delimiter: str = ","


def max_bytes() -> int:
    """The largest file an import takes (ENGINE_IMPORT_MAX_MB, default 50)."""
    return size_limit("ENGINE_IMPORT_MAX_MB", DEFAULT_MAX_MB)


def read(data: bytes, filename: str = "", encoding: str | None = None, delimiter: str | None = None) -> Sheet:
    if len(data) > max_bytes():
        raise BadRequest(Msg("the file is %(size)s MB; imports take at most %(limit)s MB (ENGINE_IMPORT_MAX_MB)",
                             size=round(len(data) / 1048576, 1), limit=round(max_bytes() / 1048576)))
    if not data.strip():
        raise BadRequest(Msg("the file is empty: give a header row with the column names, then a row per record"))
    if data[:4] == b"PK\x03\x04":
        return _xlsx(data)
    if filename.lower().endswith((".xlsx", ".xlsm", ".xls", ".ods")) or data[:8] == b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" or b"\x00" in data[:4096]:
        raise BadRequest(Msg("this is not a spreadsheet this import reads: save it as .xlsx or as .csv (UTF-8)"))
    return _csv(data, encoding, delimiter)


def _xlsx(data: bytes) -> Sheet:
    from python_calamine import CalamineError, CalamineWorkbook
    try:
        book = CalamineWorkbook.from_filelike(io.BytesIO(data))
        sheet = book.get_sheet_by_index(0)
        merged = getattr(sheet, "merged_cell_ranges", None) or []
        rows = iter(sheet.iter_rows())
        header = next(rows, None)
    except (CalamineError, ValueError, OSError) as exc:
        raise BadRequest(Msg("this is not a spreadsheet this import reads (%(why)s): save it as .xlsx or as .csv (UTF-8)",
                             why=str(exc)[:120])) from None
    if header is None or not any(_cell(v) for v in header):
        raise BadRequest(Msg("the first sheet is empty: give a header row with the column names, then a row per record"))
    for (r0, c0), (r1, c1) in merged:
        if r0 == 0:
            raise BadRequest(Msg("the header has merged cells (columns %(first)s to %(last)s): give each column a name of its own",
                                 first=c0 + 1, last=c1 + 1))
    return Sheet([str(_cell(v) or "").strip() for v in header],
                 [(i + 2, list(r)) for i, r in enumerate(rows) if any(_cell(v) not in (None, "") for v in r)])


def _cell(v):
    return v.strip() if isinstance(v, str) else v


def _common_hanzi(ch: str) -> bool:
    """One of the 3,755 common Chinese characters (GB2312 level 1). Russian in Windows-1251 read as
    GB18030 also makes Chinese characters, but rare ones: lower-case Cyrillic bytes are level 2."""
    try:
        return 0xB0 <= ch.encode("gb2312")[0] <= 0xD7
    except UnicodeEncodeError:
        return False


def _decoded(data: bytes, encoding: str | None) -> tuple[str | None, str]:
    """(the text, its encoding): in the encoding given, else UTF-8 (with or without a BOM), else whichever
    of GB18030 and Windows-1251 reads as more common Chinese characters or Russian letters (GB18030 decodes nearly any bytes)."""
    if encoding:
        try:
            return data.decode(encoding).lstrip("\ufeff"), encoding
        except (UnicodeDecodeError, LookupError):
            return None, encoding
    try:
        return data.decode("utf-8").lstrip("\ufeff"), "utf-8"
    except UnicodeDecodeError:
        pass
    best, score, used = None, -1.0, "utf-8"
    for enc, likely in (("gb18030", _common_hanzi), ("cp1251", lambda ch: "\u0400" <= ch <= "\u04ff")):
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        sample = [ch for ch in text[:65536] if ord(ch) > 127]
        share = sum(1 for ch in sample if likely(ch)) / max(1, len(sample))
        if share > score:
            best, score, used = text, share, enc
    return best, used


def _csv(data: bytes, encoding: str | None, delimiter: str | None) -> Sheet:
    text, used = _decoded(data, encoding)
    if text is None:
        raise BadRequest(Msg("the file is not text in %(encodings)s: save it as CSV (UTF-8) or as .xlsx",
                             encodings=encoding or ", ".join(ENCODINGS)))
    first = text.split("\n", 1)[0]
    sep = delimiter or (";" if first.count(";") > first.count(",") else ",")
    try:  # newline="": the csv module itself reads \r, \n and \r\n line ends, also a bare \r (old Mac files)
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep))
    except csv.Error as exc:  # e.g. a NUL character
        raise BadRequest(Msg("the file is not a readable CSV file (%(why)s): save it again as CSV (UTF-8) or as .xlsx", why=str(exc))) from None
    if not rows or not any(c.strip() for c in rows[0]):
        raise BadRequest(Msg("the file is empty: give a header row with the column names, then a row per record"))
    return Sheet([c.strip() for c in rows[0]], [(i + 2, r) for i, r in enumerate(rows[1:]) if any(c.strip() for c in r)], "csv",
                 used, sep)
