"""A record printed as a PDF: the entity's `documents:` name an HTML+CSS Jinja template in the app
folder (the first whose `when` holds, for one document with several templates), rendered in a
sandbox with the record as the printing user may read it - a field hidden from them is not in the
record at all, so it never prints - and laid out by WeasyPrint, with page numbers and the fonts
of the machine (a CJK font such as WenQuanYi Micro Hei for Chinese; DejaVu covers Cyrillic).
The template may load only files beside it (CSS, a logo): nothing from the network, nothing
elsewhere on disk. Each print is an audit entry (`print`)."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

from jinja2 import FileSystemLoader, select_autoescape
from jinja2.sandbox import SandboxedEnvironment

from engine.core.actor import Actor
from engine.core.errors import Msg, NotFound, Unavailable
from engine.core.i18n import localize
from engine.core.transfer import inline
from engine.storage import audit

PDF = "application/pdf"


def pdf_headers(file_name: str) -> dict:
    """The headers of a printed document's response: shown in the browser's PDF viewer, under its name, never cached."""
    return {"Content-Disposition": inline(file_name), "X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-store"}


def document_of(ent, name: str):
    for d in ent.documents:
        if d.name == name:
            return d
    raise NotFound(Msg("%(thing)s has no document '%(name)s'; documents: %(names)s", thing=Msg.label(ent.label), name=name,
                       names=", ".join(d.name for d in ent.documents) or "none"))


def template_for(doc, record: dict, user: dict) -> Path:
    """The template of the first choice whose `when` holds for the record (a choice without one always does)."""
    for when, path in doc.templates:
        if when is None:
            return path
        try:
            if when.evaluate({**record, "user": user}):
                return path
        except Exception:  # a value of the wrong type: this choice does not hold
            continue
    raise NotFound(Msg("no template of the document '%(name)s' fits this record", name=doc.name))


def render(records, actor: Actor, entity: str, record_id: int, name: str, lang: str, formatter) -> tuple[bytes, str]:
    """(the PDF, its file name) of document `name` of the record, as `actor` may read it, in `lang`."""
    try:  # loaded on the first print: it is large, and a server that never prints need not pay for it
        import weasyprint
    except (ImportError, OSError) as exc:  # Pango missing on this machine
        raise Unavailable(Msg("printing is not set up on this server (%(why)s): an administrator installs Pango "
                              "(apt-get install -y libpango-1.0-0 libpangoft2-1.0-0)", why=type(exc).__name__)) from None

    ent = records.entity(entity)
    doc = document_of(ent, name)
    record = records.get(actor, ent.name, record_id)  # the read scope (404) and the field rules (hidden fields are gone)
    path = template_for(doc, record, actor.context())
    titles = _titles(records, actor, ent, record)
    env = _environment(path.parent)
    html = env.get_template(path.name).render(
        record=record, doc={"name": doc.name, "label": doc.label.get(lang)}, lang=lang, titles=titles,
        label=lambda field: _label(ent, field, lang), value=lambda field, v=None: _value(records.app, ent, field, record, v, titles, lang, formatter),
        fmt=formatter, now=dt.datetime.now(dt.timezone.utc), app_label=records.app.label.get(lang) if records.app.label else "",
        lines=lambda table: record.get(table) or [], line_value=lambda table, field, line: _line_value(records.app, ent, table, field, line,
                                                                                                    titles, lang, formatter),
        line_label=lambda table, field: _line_label(records.app, ent, table, field, lang))
    pdf = weasyprint.HTML(string=html, base_url=str(path.parent), url_fetcher=_only_beside(path.parent)).write_pdf()
    with records.db.write() as conn:
        audit.append(conn, records.schema, actor, ent.name, record_id, "print", {"document": doc.name, "template": path.name, "language": lang})
    title = record.get(ent.title_field) if ent.title_field else None
    return pdf, f"{title or record_id} {localize(Msg.label(doc.label), lang)}.pdf"


def _environment(folder: Path) -> SandboxedEnvironment:
    return SandboxedEnvironment(loader=FileSystemLoader(str(folder)), autoescape=select_autoescape(["html", "htm"]),
                                trim_blocks=True, lstrip_blocks=True)


def _only_beside(folder: Path):
    """WeasyPrint's fetcher for a template's CSS and images: files in its folder, nothing else (no
    network, no other file on disk)."""
    from urllib.parse import unquote, urlparse

    from weasyprint.urls import URLFetcher
    root = folder.resolve()

    class BesideOnly(URLFetcher):
        def fetch(self, url, headers=None):
            parsed = urlparse(url)
            target = Path(unquote(parsed.path)).resolve() if parsed.scheme == "file" else None
            if target is None or root not in target.parents:
                raise ValueError(f"a document template may only load files beside it, not {url[:200]}")
            return super().fetch(url, headers)
    return BesideOnly(allowed_protocols={"file"}, allow_redirects=False)


def _titles(records, actor, ent, record: dict) -> dict:
    out: dict = {}
    for f in ent.fields.values():
        if f.type == "link" and record.get(f.name) is not None:
            out.setdefault(f.entity, set()).add(record[f.name])
        if f.type == "table":
            child = records.app.entity(f.entity)
            for cf in child.fields.values():
                if cf.type == "link":
                    out.setdefault(cf.entity, set()).update(line.get(cf.name) for line in record.get(f.name) or [] if line.get(cf.name) is not None)
    return {target: records.titles(actor, target, ids) for target, ids in out.items()}


def _label(ent, field: str, lang: str) -> str:
    f = ent.fields.get(field)
    return f.label.get(lang) if f is not None else field


def _line_label(app, ent, table: str, field: str, lang: str) -> str:
    tf = ent.fields.get(table)
    child = app.entity(tf.entity) if tf is not None and tf.entity else None
    f = child.fields.get(field) if child is not None else None
    return f.label.get(lang) if f is not None else field


def _value(app, ent, field: str, record: dict, value, titles: dict, lang: str, formatter) -> str:
    f = ent.fields.get(field)
    if f is None or field not in record:
        return ""  # not a field, or hidden from the one who prints
    return _shown(f, record.get(field) if value is None else value, titles, lang, formatter)


def _line_value(app, ent, table: str, field: str, line: dict, titles: dict, lang: str, formatter) -> str:
    tf = ent.fields.get(table)
    if tf is None or field not in line:
        return ""
    f = app.entity(tf.entity).fields.get(field)
    return _shown(f, line.get(field), titles, lang, formatter) if f is not None else ""


def _shown(f, value, titles: dict, lang: str, formatter) -> str:
    if value is None or value == "":
        return ""
    if f.type == "link":
        return titles.get(f.entity, {}).get(value, f"#{value}")
    if f.type == "select":
        for o in f.options:
            if o.value == value:
                return o.label.get(lang) if o.label is not None else str(value)
        return str(value)
    if isinstance(value, Decimal) or f.value_type == "decimal":
        return formatter.decimal(Decimal(str(value)), f.scale if f.scale is not None else 2)
    if isinstance(value, dt.datetime):
        return formatter.datetime(value)
    if isinstance(value, dt.date):
        return formatter.date(value)
    if isinstance(value, bool):
        return "✓" if value else "—"
    return str(value)
