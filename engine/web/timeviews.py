"""Calendar and Gantt views of an entity's records (`views:` in its metadata): FullCalendar and
frappe-gantt, vendored, fed by the same scoped list as every screen - only the records the user may
read, only those in the window shown. Dragging an item to another day (or stretching a bar), or a
Gantt bar to another row (another crew or specialist: the view's `group` field), is an update
through the record service: refused, it goes back where it was, with the service's message.

FullCalendar adds its stylesheet at run time: those pages allow that one style element by a nonce
made for the response (a meta tag it reads), and nothing else inline."""
from __future__ import annotations

import datetime as dt
import json
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from engine.access import users
from engine.core.errors import BadRequest, EngineError, Msg, NotFound, ValidationFailed
from engine.core.i18n import localize
from engine.core.values import parse_id, to_json
from engine.records.listing import ListQuery
from engine.web import i18n, session
from engine.web.base import ScreenBase, _record_id
from engine.web.display import Display
from engine.web.headers import CSP

MOST = 2000  # records in one window at most
ROWS = 200  # rows a Gantt bar may be moved to, at most (a link's records)
COLORS = {"grey": "#6b7280", "blue": "#1f5fbf", "green": "#1a7f37", "amber": "#b7791f", "red": "#cf222e", "purple": "#8250df"}


def _day(text: str | None) -> dt.date | None:
    try:
        return dt.date.fromisoformat(str(text or "")[:10])
    except ValueError:
        return None


class TimeViewScreens(ScreenBase):
    def _time_view(self, request: Request, kind: str):
        ent = self.entity(request.path_params["entity"])
        view = ent.views.get(kind)
        if view is None:
            raise NotFound(Msg("%(thing)s have no %(view)s", thing=Msg.label(ent.label_plural), view=kind))
        return ent, view

    def _items(self, actor, ent, view, start: dt.date, end: dt.date, lang: str) -> list[dict]:
        """The records of the window [start, end) the user may read: starting in it, or (with an end) overlapping it."""
        def bound(name: str, day: dt.date) -> str:  # a date as a time filter says it, for a time field (midnight UTC)
            f = ent.fields.get(name)
            return f"{day.isoformat()}T00:00:00Z" if f is None or f.value_type == "datetime" else day.isoformat()
        if view.end:
            filters = [(view.start, "lt", bound(view.start, end)), (view.end, "gte", bound(view.end, start))]
        else:
            filters = [(view.start, "gte", bound(view.start, start)), (view.start, "lt", bound(view.start, end))]
        fields = tuple(dict.fromkeys(n for n in (view.start, view.end, view.color, view.group, view.depends_on, *view.title, "version", "owner")
                                     if n))
        out, cursor = [], None
        ui = Display(self.app, lang, i18n.translations(lang).gettext, actor.time_zone or "UTC")
        wf = self.rt.records.workflow_of(ent.name)
        while len(out) < MOST:
            page = self.rt.records.list(actor, ent.name, ListQuery(filters=filters, sort=view.start, limit=MOST, cursor=cursor, fields=fields,
                                                                   with_titles=True))
            titles = self._titles(actor, ent, page["items"], only=[f for f in ent.fields.values() if f.type == "user"
                                                                     and f.name in fields]) if page["items"] else {}
            if view.group == "owner" and page["items"]:
                titles["@user"] = {**titles.get("@user", {}), **self.rt.records.titles(actor, "@user", {r["owner"] for r in page["items"]})}
            for r in page["items"]:
                out.append(self._item(ent, view, r, ui, titles, wf))
            cursor = page["next_cursor"]
            if cursor is None:
                break
        return out

    def _item(self, ent, view, r: dict, ui, titles: dict, wf) -> dict:
        def said(name: str) -> str:
            if f"{name}__title" in r:
                return str(r[f"{name}__title"] or "")
            f = ent.fields.get(name)
            if name == "owner":
                return titles.get("@user", {}).get(r.get("owner"), "")
            return ui.value(f, r.get(name), titles) if f is not None else str(r.get(name) or "")
        color = None
        if view.color and wf is not None and view.color == wf.state_field:
            color = COLORS.get(getattr(wf.states.get(r.get(view.color)), "color", None) or "blue")
        return {"id": r["id"], "title": " · ".join(t for t in (said(n) for n in view.title) if t) or f"#{r['id']}",
                "start": to_json(ent.fields[view.start].value_type if view.start in ent.fields else "datetime", r.get(view.start)),
                "end": to_json(ent.fields[view.end].value_type, r.get(view.end)) if view.end and view.end in ent.fields else None,
                "group": said(view.group) if view.group else None, "group_value": r.get(view.group) if view.group else None,
                "color": color, "url": f"/{ent.name}/{r['id']}", "version": r.get("version"),
                "after": r.get(view.depends_on) if view.depends_on else None}

    def _row_field(self, actor, ent, view):
        """The field a Gantt bar moves to another row by (its `group`): a stored choice, link or person the user may
        change on records they may update - not the owner, which passes by the workflow."""
        f = ent.fields.get(view.group) if view.group else None
        g = self.grants(actor)
        if f is None or f.read_only or f.type not in ("select", "link", "user") or not g.can(ent.name, "update") \
                or g.level(ent.name, f.name) != "editable":
            return None
        return f

    def _rows(self, actor, ent, f, lang: str) -> list:
        """[value, label] of each row a bar may move to: the field's choices, the active people, or (a link) the first
        records of its entity the user may read; a blank first when the field may be empty."""
        if f.type == "select":
            out = [[o.value, o.label.get(lang)] for o in f.options]
        elif f.type == "user":  # each named as on the bars
            with self.rt.db.read() as conn:
                people = [i for i, _ in users.choices(conn, self.rt.schema)]
                named = self.rt.records.titles_in(conn, actor, "@user", people)
            out = sorted(([i, named.get(i, f"#{i}")] for i in people), key=lambda r: r[1].casefold())
        elif self.grants(actor).can(f.entity, "read"):
            target = self.app.entity(f.entity)
            page = self.rt.records.list(actor, target.name, ListQuery(limit=ROWS, sort=target.title_field or "id"))
            out = [[r["id"], str(r.get(target.title_field) or f"#{r['id']}")] for r in page["items"]]
        else:
            out = []
        return ([["", "—"]] if not f.required else []) + out

    def _with_nonce(self, request: Request, actor, template: str, **ctx) -> Response:
        nonce = secrets.token_urlsafe(16)
        resp = self.render(request, template, actor, csp_nonce=nonce, **ctx)
        resp.headers["Content-Security-Policy"] = (CSP.replace("style-src 'self'", f"style-src 'self' 'nonce-{nonce}'")
                                                   .replace("font-src 'self'", "font-src 'self' data:"))  # FullCalendar's arrows: a font in its CSS
        return resp

    async def calendar_page(self, request: Request):
        actor = await self.actor_or_login(request)
        ent, view = self._time_view(request, "calendar")
        self.rt.records.permissions.require(actor, ent.name, "read")
        may_move = self.grants(actor).can(ent.name, "update")
        return self._with_nonce(request, actor, "calendar.html", ent=ent, view=view, may_move=may_move,
                          words=self._words(request, actor), field=ent.fields.get(view.start))

    async def calendar_events(self, request: Request):
        """GET /{entity}/calendar/events?start=&end=: the records of the window, as FullCalendar reads them."""
        actor = await self.actor_or_login(request)
        ent, view = self._time_view(request, "calendar")
        start, end = _day(request.query_params.get("start")), _day(request.query_params.get("end"))
        if start is None or end is None or not start < end or (end - start).days > 62:
            raise BadRequest(Msg("give start and end dates at most two months apart"))
        items = await run_in_threadpool(self._items, actor, ent, view, start, end, self.lang(request, actor))
        events = [{"id": str(i["id"]), "title": i["title"], "start": i["start"], "allDay": len(str(i["start"] or "")) == 10,
                   **({"end": i["end"]} if i["end"] else {}),
                   "url": i["url"], **({"color": i["color"]} if i["color"] else {}), "extendedProps": {"version": i["version"]}}
                  for i in items if i["start"]]
        capped = {"X-Engine-Capped": str(MOST)} if len(items) >= MOST else {}  # the page says it shows the first MOST only
        return Response(json.dumps(events, ensure_ascii=False), media_type="application/json", headers=capped)

    async def gantt_page(self, request: Request):
        actor = await self.actor_or_login(request)
        ent, view = self._time_view(request, "gantt")
        lang = self.lang(request, actor)
        today = dt.datetime.now(dt.timezone.utc).date()
        start = _day(request.query_params.get("from")) or today.replace(day=1) - dt.timedelta(days=31)
        end = _day(request.query_params.get("to")) or start + dt.timedelta(days=122)
        if not start < end or (end - start).days > 400:
            raise BadRequest(Msg("give from and to dates at most a year apart"))
        items = await run_in_threadpool(self._items, actor, ent, view, start, end, lang)
        items.sort(key=lambda i: (i["group"] or "", i["start"] or ""))
        shown = {i["id"] for i in items}
        tasks = [{"id": str(i["id"]), "name": (f"{i['group']} · " if i["group"] else "") + i["title"], "title": i["title"],
                  "start": str(i["start"])[:10], "end": max(str(i["end"] or i["start"])[:10], str(i["start"])[:10]),  # no bar ends before it starts
                  "progress": 0, "url": i["url"], "group": i["group_value"] if i["group_value"] is not None else "",
                  "dependencies": str(i["after"]) if i["after"] in shown and i["after"] != i["id"] else "",
                  "version": i["version"]}
                 for i in items if i["start"]]
        row_field = self._row_field(actor, ent, view)
        rows = await run_in_threadpool(self._rows, actor, ent, row_field, lang) if row_field is not None else None
        step = (end - start)
        return self._with_nonce(request, actor, "gantt.html", ent=ent, view=view, tasks=tasks, start=start, end=end, capped=len(items) >= MOST,
                                most=MOST, rows=rows, row_field=row_field,
                                earlier=(start - step, start), later=(end, end + step), may_move=self.grants(actor).can(ent.name, "update"),
                                words=self._words(request, actor))

    async def reschedule(self, request: Request):
        """POST /{entity}/{id}/reschedule {"start": "2026-12-09", "end": ..., "group": ..., "version": 3}: the record's dates (and,
        on the Gantt chart, its row) changed through the record service - a drag on the calendar or the chart; 200 {version},
        or the refusal's status and message."""
        actor = await self.actor_or_login(request)
        lang = self.lang(request, actor)
        fields = {}
        try:
            session.check_csrf(request)
            ent, kind, rid, data, version = self._move_of(request, actor, await request.body())
            fields = ent.fields
            rec = await run_in_threadpool(self.rt.records.update, actor, ent.name, rid, data, version)
        except EngineError as exc:  # the page's script says it and puts the item back: JSON, never an error page
            said = "; ".join((f"{fields[e.field].label.get(lang)}: " if e.field in fields else "") + localize(e.message, lang) for e in exc.errors) \
                if isinstance(exc, ValidationFailed) else localize(exc.detail, lang)
            return Response(json.dumps({"error": said}, ensure_ascii=False), status_code=exc.status, media_type="application/json")
        return Response(json.dumps({"version": rec["version"]}), media_type="application/json")

    def _move_of(self, request: Request, actor, raw: bytes):
        """(entity, view kind, record id, the values to write, the version the user saw) of a move."""
        ent = self.entity(request.path_params["entity"])
        kind = request.query_params.get("view", "calendar")
        view = ent.views.get(kind)
        if view is None:
            raise NotFound(Msg("%(thing)s have no %(view)s", thing=Msg.label(ent.label_plural), view=kind))
        rid = _record_id(request)
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise BadRequest(Msg("send JSON: {\"start\": ..., \"end\": ..., \"version\": ...}"))
        data = {view.start: body["start"]} if "start" in body else {}
        if view.end and "end" in body:
            data[view.end] = body.get("end")
        if "group" in body:
            f = self._row_field(actor, ent, view)
            if f is None or kind != "gantt":
                raise BadRequest(Msg("the rows of this chart cannot be changed here"))
            data[f.name] = body["group"] if body["group"] != "" else None
        if not data:
            raise BadRequest(Msg("send JSON: {\"start\": ..., \"end\": ..., \"version\": ...}"))
        return ent, kind, rid, data, parse_id(str(body.get("version", "")))

    def _words(self, request: Request, actor) -> dict:
        _ = i18n.translations(self.lang(request, actor)).gettext
        return {"today": _("Today"), "month": _("Month"), "week": _("Week"), "day": _("Day"), "list": _("List"),
                "noEvents": _("Nothing in this period."), "moved": _("Moved."), "earlier": _("Earlier"), "later": _("Later"),
                "Quarter": _("Quarter"), "Year": _("Year"), "allDay": _("All day"),
                "capped": _("Only the first %(n)s of this period are shown: choose a shorter one.") % {"n": f"{MOST:,}"}}
