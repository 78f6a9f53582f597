"""The kanban board of a workflow: one column per state, the records the user may read as cards.
Dragging a card to another column fires the transition between the two states, if this user may;
otherwise the card snaps back and the reason is shown. Each card also carries a "Move to" form,
so the board works with the keyboard and without JavaScript. A transition that needs inputs (a
reason, a date) opens its small form instead of firing blind."""
from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse

from engine.core.errors import Conflict, Forbidden, Msg, NotFound, ValidationFailed
from engine.core.i18n import reason
from engine.core.values import parse_id
from engine.records.listing import ListQuery
from engine.web import i18n, session
from engine.web.base import ScreenBase
from engine.workflow import transitions

PER_COLUMN = 12


class BoardScreens(ScreenBase):
    async def board_page(self, request: Request, message: str | None = None, status: int = 200):
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        wf = self.rt.records.workflow_of(ent.name)
        if wf is None:
            raise NotFound(Msg("%(entity)s has no workflow, so it has no board", entity=ent.name))
        lang = self.lang(request, actor)
        columns_shown = [f for f in self.columns(ent, actor) if f.name not in (wf.state_field, ent.title_field)][:2]

        may = self.may_fire_on(actor, wf)

        def work():
            cols = []
            with self.rt.db.reading():
                for st in wf.states.values():
                    page = self.rt.records.list(actor, ent.name, ListQuery(filters=[(wf.state_field, "eq", st.name)], sort="-updated_at",
                                                                         limit=PER_COLUMN))
                    titles = self._titles(actor, ent, page["items"])
                    leaving = [t for t in wf.transitions.values() if st.name in t.sources]
                    # each card's menu: only the moves this user may make on that record
                    cols.append({"state": st, "page": page, "titles": titles,
                                 "moves": {r["id"]: [t for t in leaving if may(t, r)] for r in page["items"]}})
            return cols
        cols = await run_in_threadpool(work)
        return self.render(request, "board.html", actor, status=status, ent=ent, workflow=wf, cols=cols, fields=columns_shown,
                           message=message, lang_=lang)

    async def board_move(self, request: Request):
        """Move a card: fire the transition from its state to the chosen one. JSON for the drag and drop
        script ({ok, message, form}); a redirect back to the board for the plain form."""
        actor = await self.actor_or_login(request)
        ent = self.entity(request.path_params["entity"])
        wf = self.rt.records.workflow_of(ent.name)
        if wf is None:
            raise NotFound(Msg("%(entity)s has no workflow, so it has no board", entity=ent.name))
        form = await request.form()
        session.check_csrf(request, form)
        wants_json = "application/json" in request.headers.get("accept", "")
        lang = self.lang(request, actor)
        _ = i18n.translations(lang).gettext
        rid = parse_id(str(form.get("id", ""))) or 0  # 0: no record, so "not found"
        target = str(form.get("to", ""))
        transition_name = str(form.get("transition", ""))

        def work():
            flow = transitions.available(self.rt.records, actor, ent.name, rid, lang)
            if transition_name:
                choices = [t for t in flow["transitions"] if t["name"] == transition_name]
            else:
                choices = [t for t in flow["transitions"] if t["to"] == target]
            if not choices:
                here = wf.states[flow["state"]].label.get(lang)
                if transition_name in wf.transitions:  # the menu's choice: say where it would have gone
                    target_ = wf.transitions[transition_name].target
                else:
                    target_ = target
                there = wf.states[target_].label.get(lang) if target_ in wf.states else (target_ or "?")
                return None, _("You cannot move it from %(here)s to %(there)s.") % {"here": here, "there": there}
            t = next((c for c in choices if c["enabled"]), choices[0])
            if not t["enabled"]:
                return None, t["message"]
            if any(i["required"] for i in t["inputs"]):
                return t, None
            transitions.fire(self.rt.records, actor, ent.name, rid, t["name"], None, None, None, lang)
            return None, None
        try:
            needs, refused = await run_in_threadpool(work)
        except (Conflict, Forbidden, NotFound, ValidationFailed) as exc:
            needs, refused = None, reason(exc, lang)
        if needs is not None:  # ask for the inputs on the record page's form for this transition
            url = f"/{ent.name}/{rid}#step-{needs['name']}"
            label = needs["label"].get(lang) or needs["label"].get("en")
            text = _("'%(transition)s' needs more from you; open the record to give it.") % {"transition": label}
            if wants_json:
                return JSONResponse({"ok": False, "message": text, "open": url})
            return RedirectResponse(url, status_code=303)
        if wants_json:
            return JSONResponse({"ok": refused is None, "message": refused}, status_code=200 if refused is None else 422)
        if refused is not None:
            return await self.board_page(request, message=refused, status=422)
        return RedirectResponse(f"/{ent.name}/board", status_code=303)
