"""Settings > Connectors: each connector with its deliveries by status, a delivery's attempts, and
Retry / Replay buttons - for administrators (engine.connectors.log checks it and audits the buttons)."""
from __future__ import annotations

import datetime as dt
import json

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse

from engine.connectors import log as connector_log
from engine.connectors.tables import STATUSES
from engine.core.values import parse_id
from engine.web import session
from engine.web.base import ScreenBase, _record_id


def _times(item: dict) -> dict:
    """The log's ISO times as datetimes, for the screens' date formatting."""
    out = dict(item)
    for k in ("next_try", "created_at", "delivered_at", "at", "received_at"):
        if isinstance(out.get(k), str):
            out[k] = dt.datetime.fromisoformat(out[k].replace("Z", "+00:00"))
    return out


class ConnectorScreens(ScreenBase):
    async def connectors_page(self, request: Request):
        actor = await self.actor_or_login(request)
        connectors = await run_in_threadpool(connector_log.connectors, self.rt.records, actor)
        q = request.query_params
        chosen = q.get("connector") or (connectors[0]["name"] if connectors else None)
        status = q.get("status") if q.get("status") in STATUSES else None
        page = None
        titles: dict = {}
        calls = None
        if chosen in self.app.connectors and self.app.connectors[chosen].type == "webhook":
            calls = await run_in_threadpool(connector_log.calls, self.rt.records, actor, chosen, parse_id(q.get("before", "")), 50)
            calls = {**calls, "items": [_times(i) for i in calls["items"]]}
            titles = await run_in_threadpool(self._record_titles, actor, calls["items"])
        elif chosen in self.app.connectors:
            page = await run_in_threadpool(connector_log.deliveries, self.rt.records, actor, chosen, status, parse_id(q.get("before", "")), 50)
            page = {**page, "items": [_times(i) for i in page["items"]]}
            titles = await run_in_threadpool(self._record_titles, actor, page["items"])
        return self.render(request, "settings_connectors.html", actor, connectors=connectors, chosen=chosen, shown_status=status,
                           statuses=STATUSES, page=page, calls=calls, titles=titles)

    def _record_titles(self, actor, items: list[dict]) -> dict:
        """{entity: {id: title}} of the records the deliveries are about (and "@user": the people notifications are for), one query per entity."""
        wanted: dict[str, set] = {}
        for d in items:
            if d["record_id"] is not None and d["entity"] in self.app.entities:
                wanted.setdefault(d["entity"], set()).add(d["record_id"])
            if d.get("recipient_id"):  # a notification: whom it is for
                wanted.setdefault("@user", set()).add(d["recipient_id"])
        return self._titles(actor, None, [], extra=wanted, only=[])

    async def delivery_page(self, request: Request):
        actor = await self.actor_or_login(request)
        name = request.path_params["name"]
        d = await run_in_threadpool(connector_log.delivery, self.rt.records, actor, name, _record_id(request))
        d = {**_times(d), "attempts": [_times(a) for a in d["attempts"]]}
        titles = await run_in_threadpool(self._record_titles, actor, [d])
        body = (d.get("request") or {}).get("body")
        try:
            shown_body = json.dumps(json.loads(body), ensure_ascii=False, indent=2) if body else body
        except ValueError:
            shown_body = body
        return self.render(request, "settings_delivery.html", actor, name=name, d=d, done=request.query_params.get("done"), titles=titles,
                           shown_body=shown_body)

    async def retry(self, request: Request):
        actor = await self.actor_or_login(request)
        form = await request.form()
        session.check_csrf(request, form)
        name, delivery_id = request.path_params["name"], _record_id(request)
        done = await run_in_threadpool(connector_log.again, self.rt.records, actor, name, delivery_id)
        wake = getattr(self.rt.records, "wake", None)
        if wake is not None:
            await run_in_threadpool(wake)
        return RedirectResponse(f"/settings/connectors/{name}/deliveries/{delivery_id}?done={done['action']}", status_code=303)
