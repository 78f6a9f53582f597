"""Forms that carry files: read with a cap on the whole body, told by its Content-Length or counted
while it streams in (413 past it), so no post fills the disk with a spooled upload."""
from __future__ import annotations

from starlette.requests import Request

from engine.core.errors import Msg, PayloadTooLarge
from engine.core.transfer import capped, megabytes
from engine.files.attachments import default_max_bytes
from engine.metadata.model import App, Entity

SLACK = 65536  # the multipart envelope and the form's other fields
LINE_FILES = 10  # files of lines one record form may bring at once, at their field's limit each


async def capped_form(request: Request, most: int, max_files: int, max_fields: int = 1000):
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > most:
        raise PayloadTooLarge(Msg("the upload is larger than %(limit)s MB, the most it may be", limit=megabytes(most)))
    return await Request(request.scope, capped(request.receive, most)).form(max_files=max_files, max_fields=max_fields)


def form_limit(app: App, ent: Entity) -> tuple[int, int]:
    """(the most bytes, the most files) a record form of `ent` may bring: each file field's file at its limit, and up
    to LINE_FILES files of lines at the largest limit of the lines' file fields."""
    def limit(f) -> int:
        return (f.accepts.max_bytes if f.accepts else None) or default_max_bytes()
    most = sum(limit(f) for f in ent.file_fields())
    files = len(ent.file_fields())
    line_fields = [f for tf in ent.table_fields() for f in app.entity(tf.entity).file_fields()]
    if line_fields:
        most += LINE_FILES * max(limit(f) for f in line_fields)
        files += LINE_FILES
    return most + SLACK, max(files, 1)
