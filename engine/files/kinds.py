"""What a file is, by its content as well as its name: an upload named drawing.pdf that is not a
PDF, or a page of HTML named photo.png, is refused rather than stored under a type it is not.
Only the types in INLINE may ever be shown in the browser; everything else is a download."""
from __future__ import annotations

import posixpath

from engine.core.errors import Msg

# content type -> the file name endings it may have (lower case)
ENDINGS = {
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jfif"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "application/pdf": (".pdf",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
    "application/zip": (".zip",),
    "application/x-ole-storage": (".doc", ".xls", ".ppt", ".msg"),
    "image/vnd.dwg": (".dwg",),
    "text/plain": (".txt", ".csv", ".md", ".log", ".json", ".xml", ".dxf", ".step", ".stp"),
}
INLINE = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"})  # may be previewed in the page
IMAGES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
_ZIPPED = {e: t for t, es in ENDINGS.items() if t.startswith("application/vnd.o") or t == "application/zip" for e in es}
_NAMES = {"image/png": Msg("a PNG image"), "image/jpeg": Msg("a JPEG image"), "image/gif": Msg("a GIF image"), "image/webp": Msg("a WebP image"),
          "application/pdf": Msg("a PDF document"), "application/x-ole-storage": Msg("an old Office document"),
          "image/vnd.dwg": Msg("a DWG drawing"), "text/plain": Msg("text"), "text/html": Msg("a web page"), "image/svg+xml": Msg("an SVG image"),
          "application/octet-stream": Msg("binary data"), "application/zip": Msg("a ZIP archive"),
          **{t: Msg("an Office document") for t in ENDINGS if t.startswith("application/vnd.o")}}


def ending(name: str) -> str:
    return posixpath.splitext(name.lower())[1]


def sniff(head: bytes, name: str) -> str:
    """The content type the first bytes of a file show (its name only tells zip-based documents apart)."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _ZIPPED.get(ending(name), "application/zip")
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return "application/x-ole-storage"
    if head[:4] == b"AC10":
        return "image/vnd.dwg"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:  # a multi-byte character cut at the end of the head
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return "application/octet-stream"
    lowered = text.lstrip("\ufeff \t\r\n").lower()
    if "<svg" in lowered[:512]:
        return "image/svg+xml"
    if lowered.startswith(("<!doctype html", "<html", "<script", "<head", "<body", "<iframe")):
        return "text/html"
    if "\x00" in text:
        return "application/octet-stream"
    return "text/plain"


def mismatch(content_type: str, name: str) -> Msg | None:
    """Why the name does not fit the content (a .png that is not a PNG image), or None."""
    end = ending(name)
    claimed = next((t for t, es in ENDINGS.items() if end in es), None)
    if claimed is None or claimed == content_type:
        return None
    if claimed == "application/zip" and content_type in _ZIPPED.values():
        return None
    if claimed == "text/plain" and content_type == "application/octet-stream":  # text in GB18030 or Windows-1251
        return None
    return Msg("%(name)s is named like %(claimed)s but its content is %(content)s", name=name, claimed=_NAMES.get(claimed, claimed),
               content=_NAMES.get(content_type, content_type))


def allowed(content_type: str, name: str, types: tuple[str, ...]) -> bool:
    """Is this file one of `types` (file endings like .pdf, content types like application/pdf or image/*)?"""
    if not types:
        return True
    end = ending(name)
    for t in types:
        t = t.lower()
        if t.startswith(".") and end == t and (mismatch(content_type, name) is None):
            return True
        if t.endswith("/*") and content_type.startswith(t[:-1]):
            return True
        if t == content_type:
            return True
    return False
