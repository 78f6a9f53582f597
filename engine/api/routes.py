"""The /api/v1 routes. Each one authenticates, reads input, calls the service, writes JSON."""
from __future__ import annotations

import json
import os

from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Match, Route

from engine.access import logins, users
from engine.api.body import read_json
from engine.api.openapi import build_openapi
from engine.app.runtime import Runtime
from engine.connectors import log as connector_log
from engine.connectors.tables import STATUSES
from engine.core.actor import Actor
from engine.core.errors import BadRequest, FieldError, Msg, Unauthenticated, ValidationFailed
from engine.core.i18n import negotiate
from engine.core.values import parse_id, parse_ids, parse_int, to_json
from engine.records import explain as access
from engine.records import feed
from engine.records.export import XLSX_TYPE, export_csv, export_xlsx
from engine.records.export import options as export_options
from engine.records.listing import ListQuery
from engine.records.serialize import file_ids, record_json
from engine.records.service import record_id
from engine.workflow import reviews, transitions

READS = ("GET", "HEAD")  # Starlette answers HEAD wherever GET is allowed: a HEAD reads, it never writes


def _json(data, status: int = 200) -> Response:
    return Response(json.dumps(data, ensure_ascii=False, default=str), status_code=status, media_type="application/json")


def _language(rt: Runtime, request: Request, actor: Actor) -> str:
    """The language an answer is in: ?lang=, else the user's, else the request's Accept-Language, else English."""
    lang = request.query_params.get("lang")
    if lang in rt.app.languages:
        return lang
    return actor.language if actor.language in rt.app.languages else negotiate(request.headers.get("accept-language"), rt.app.languages, "en")


def _files(rt: Runtime, ent, records) -> dict:
    """The files the file fields of records just read hold, described (one query; none without file fields)."""
    ids = file_ids(rt.app, ent, records)
    return rt.files.describe(ids) if ids else {}


def shown(rt: Runtime, ent, record: dict) -> dict:
    """A record as the API answers it, its file fields' files described."""
    return record_json(rt.app, ent, record, files=_files(rt, ent, [record]))


def _actor(rt: Runtime, request: Request) -> Actor:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated("send an API token as 'Authorization: Bearer TOKEN'; get one from POST /api/v1/auth/token")
    with rt.db.read() as conn:
        return users.actor_for_token(conn, rt.schema, token.strip(), via="api")


async def _reading(rt: Runtime, request: Request, fn):
    """A read handler's work, `fn(actor)`, with the token's lookup in the same read transaction and
    the same thread hop."""
    def work():
        with rt.db.reading():
            return fn(_actor(rt, request))
    return await run_in_threadpool(work)


def _page(q, before_hint, errors: list) -> tuple[int | None, int]:
    """?before=ID and ?limit=N of a newest-first log page; ValidationFailed with `errors` and these."""
    before = parse_id(q["before"]) if q.get("before") is not None else None
    if q.get("before") is not None and before is None:
        errors.append(FieldError("before", before_hint))
    limit = parse_id(q.get("limit", "50"))
    if limit is None or limit > connector_log.MAX_LIMIT:
        errors.append(FieldError("limit", Msg("a whole number from 1 to %(most)s", most=connector_log.MAX_LIMIT)))
    if errors:
        raise ValidationFailed(errors)
    return before, limit


def _record_id(request: Request) -> int:
    return record_id(request.path_params["id"])


def _path_id(request: Request) -> int:
    """The `{id}` of the path, a whole number (of a job, a file, a comment); 422 otherwise."""
    found = parse_id(request.path_params["id"])
    if found is None:
        raise ValidationFailed([FieldError("id", Msg("expected a whole number"))])
    return found


def make_routes(rt: Runtime) -> list[Route]:

    async def token(request: Request):
        body = await read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("username"), str) or not isinstance(body.get("password"), str):
            raise ValidationFailed([FieldError("username", "send {\"username\": ..., \"password\": ...}")])

        address = request.client.host if request.client else None

        def work():
            def make(conn, who):  # in the transaction that checks the password: a change or reset revokes it, or it is not made
                return users.create_token(conn, rt.schema, who.username, label=str(body.get("label") or "api")[:140])
            return logins.sign_in(rt.db, rt.schema, body["username"], body["password"], address, "api", make)[1]
        return _json({"token": await run_in_threadpool(work)})

    async def revoke(request: Request):
        """Revoke the token this request carries (sign out of the API)."""
        def work():
            rt.accounts.revoke_token(_actor(rt, request), token=request.headers["authorization"].partition(" ")[2].strip())
        await run_in_threadpool(work)
        return Response(status_code=204)

    async def me(request: Request):
        actor = await run_in_threadpool(_actor, rt, request)
        return _json({"id": actor.id, "username": actor.username, "full_name": actor.full_name, "roles": sorted(actor.roles)})

    async def index(request: Request):
        return _json({
            "app": rt.app.name,
            "entities": [{"name": e.name, "label": e.label.as_dict(), "url": f"/api/v1/{e.name}"} for e in rt.app.top_entities()],
            "openapi": "/api/v1/openapi.json",
        })

    spec_cache: dict = {}

    async def openapi(request: Request):
        """The document for the caller's permissions (by bearer token); anonymous: sign-in only."""
        grants = None
        if request.headers.get("authorization"):
            actor = await run_in_threadpool(_actor, rt, request)
            grants = rt.records.permissions.grants(actor)
        key = grants.roles if grants is not None and not grants.unrestricted else ("*" if grants is not None else None)
        if spec_cache.get("app") is not rt.app:  # an admin change put another app in force
            spec_cache.clear()
            spec_cache["app"] = rt.app
        if key not in spec_cache:
            if len(spec_cache) > 1000:
                spec_cache.clear()
            spec_cache[key] = build_openapi(rt.app, grants)
        return _json(spec_cache[key])

    async def explain(request: Request):
        """May a user do an action on an entity or record, and which rule decided (administrators)."""
        q = request.query_params

        def work():
            actor = _actor(rt, request)
            rid = q.get("record")
            if rid is not None and parse_id(rid) is None:
                raise ValidationFailed([FieldError("record", "a record id: a whole number")])
            return access.explain(rt.records, actor, q.get("user", ""), q.get("entity", ""), q.get("action", "read"), parse_id(rid))
        return _json(await run_in_threadpool(work))

    async def role(request: Request):
        def work():
            return access.role_table(rt.records, _actor(rt, request), request.path_params["role"])
        table = await run_in_threadpool(work)
        for row in table["entities"]:
            row["label"] = row["label"].as_dict()
        return _json(table)

    async def run_export(request: Request, write):
        """`write` (export_csv or export_xlsx) as the token's user, on the list the query string filters,
        with its columns, per_line and lang."""
        name = request.path_params["entity"]

        def work():
            actor = _actor(rt, request)  # who asks comes first: a stranger's bad query is a 401, not a 422
            pairs, columns, per_line = export_options([(k, v) for k, v in request.query_params.multi_items()
                                                       if k not in ("lang", "limit", "cursor", "count")])
            return write(rt.records, actor, name, ListQuery.from_params(pairs), request.query_params.get("lang", "en"),
                         str(request.query_params), columns, per_line)
        out, _ = await run_in_threadpool(work)
        return name, out

    async def export(request: Request):
        name, text = await run_export(request, export_csv)
        return Response(text, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})

    async def export_xlsx_(request: Request):
        """The same rows as export.csv as an .xlsx file, streamed from the temporary file it was written to, which is then removed."""
        name, path = await run_export(request, export_xlsx)
        return FileResponse(path, media_type=XLSX_TYPE, filename=f"{name}.xlsx", background=BackgroundTask(os.unlink, path))

    def refuse_shadowed(request: Request) -> None:
        """`/api/v1/{entity}` and `/api/v1/{entity}/{id}` also match fixed paths such as
        /api/v1/notifications or /api/v1/customer/export.csv with another method: that is a 405
        naming the methods the fixed path has, not a lookup of an entity or record by that name."""
        allowed: set[str] = set()
        for route in table:
            if route.endpoint not in (collection, item) and route.matches(request.scope)[0] == Match.PARTIAL:
                allowed |= route.methods or set()
        if allowed:
            raise HTTPException(405, headers={"Allow": ", ".join(sorted(allowed))})

    async def collection(request: Request):
        refuse_shadowed(request)
        name = request.path_params["entity"]
        if request.method in READS:
            def work(actor):
                ent = rt.records.entity(name)
                result = rt.records.list(actor, name, ListQuery.from_params(request.query_params))
                files = _files(rt, ent, result["items"])
                out = {"items": [record_json(rt.app, ent, r, with_lines=False, files=files) for r in result["items"]],
                       "next_cursor": result["next_cursor"], "count": result["count"], "count_exact": result["count_exact"]}
                if "sla" in result:  # {id: {"flag": "at_risk" | "overdue", "due": ...}} for the page's records
                    out["sla"] = {str(k): {"flag": v["flag"], "due": to_json("datetime", v["due"])} for k, v in result["sla"].items()}
                return out
            return _json(await _reading(rt, request, work))
        actor = await run_in_threadpool(_actor, rt, request)
        rt.records.permissions.require(actor, rt.records.entity(name).name, "create")  # who may not create hears so before the body is read
        body = await read_json(request)

        def create():
            return shown(rt, rt.records.entity(name), rt.records.create(actor, name, body))
        rec = await run_in_threadpool(create)
        resp = _json(rec, 201)
        resp.headers["Location"] = f"/api/v1/{name}/{rec['id']}"
        return resp

    async def item(request: Request):
        refuse_shadowed(request)
        name = request.path_params["entity"]
        if request.method in READS:  # the id is read once the caller is known: an anonymous caller hears 401 whatever it sent
            return _json(await _reading(rt, request, lambda actor: shown(rt, rt.records.entity(name),
                                                                         rt.records.get(actor, name, _record_id(request)))))
        actor = await run_in_threadpool(_actor, rt, request)
        ent = rt.records.entity(name)
        rid = _record_id(request)
        rt.records.permissions.require(actor, ent.name, "update" if request.method == "PATCH" else "delete")  # before the body or version is read
        if request.method == "PATCH":
            body = await read_json(request)
            if not isinstance(body, dict):
                raise ValidationFailed([FieldError("body", "expected a JSON object of field names and values")])
            rec = await run_in_threadpool(rt.records.update, actor, name, rid, body, body.get("version"))
            return _json(await run_in_threadpool(shown, rt, ent, rec))
        version = request.query_params.get("version")
        if version is not None and parse_id(version) is None:
            raise BadRequest("version must be a whole number, the version you last read")
        await run_in_threadpool(rt.records.delete, actor, name, rid, parse_id(version))
        return Response(status_code=204)

    async def transitions_(request: Request):
        name = request.path_params["entity"]
        lang = request.query_params.get("lang", "en")
        return _json(await _reading(rt, request, lambda actor: transitions.available(rt.records, actor, name, _record_id(request), lang)))

    async def fire(request: Request):
        name = request.path_params["entity"]
        actor = await run_in_threadpool(_actor, rt, request)
        rid = _record_id(request)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ValidationFailed([FieldError("body", 'expected {"comment": ..., "fields": {...}}')])
        unknown = set(body) - {"comment", "fields", "version"}
        if unknown:
            raise ValidationFailed([FieldError(k, "unknown property; send comment, fields and version") for k in sorted(unknown)])
        rec = await run_in_threadpool(lambda: transitions.fire(rt.records, actor, name, rid, request.path_params["transition"],
                                                               body.get("comment"), body.get("fields"), body.get("version"),
                                                               request.query_params.get("lang", "en")))
        return _json(await run_in_threadpool(shown, rt, rt.records.entity(name), rec))

    async def fire_bulk(request: Request):
        name = request.path_params["entity"]
        actor = await run_in_threadpool(_actor, rt, request)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ValidationFailed([FieldError("body", 'expected {"ids": [...], "comment": ..., "fields": {...}}')])
        results = await run_in_threadpool(lambda: transitions.fire_many(rt.records, actor, name, body.get("ids"), request.path_params["transition"],
                                                                        body.get("comment"), body.get("fields"),
                                                                        request.query_params.get("lang", "en")))
        return _json({"results": results, "moved": sum(r["ok"] for r in results)})

    async def timeline(request: Request):
        name = request.path_params["entity"]
        return _json({"items": await _reading(rt, request, lambda actor: transitions.timeline(rt.records, actor, name, _record_id(request)))})

    async def review(request: Request):
        name = request.path_params["entity"]
        lang = request.query_params.get("lang", "en")
        if request.method in READS:
            return _json(await _reading(rt, request, lambda actor: reviews.summary(rt.records, actor, name, _record_id(request), lang)))
        actor = await run_in_threadpool(_actor, rt, request)
        rid = _record_id(request)
        body = await read_json(request)
        if not isinstance(body, dict):
            raise ValidationFailed([FieldError("body", 'expected {"decision": "approve" | "reject", "opinion": ..., "role": ...}')])
        unknown = set(body) - {"decision", "opinion", "role"}
        if unknown:
            raise ValidationFailed([FieldError(k, "unknown property; send decision, opinion and role") for k in sorted(unknown)])
        return _json(await run_in_threadpool(lambda: reviews.decide(rt.records, actor, name, rid, body.get("decision"), body.get("opinion"),
                                                                    body.get("role"), lang)))

    async def pending_reviews(request: Request):
        lang = request.query_params.get("lang", "en")
        return _json({"items": await _reading(rt, request, lambda actor: reviews.pending_for(rt.records, actor, 200, lang))})

    async def notifications_(request: Request):
        if request.method in READS:
            items, total = await _reading(rt, request, rt.records.notifications)
            return _json({"items": items, "unread": total})
        actor = await run_in_threadpool(_actor, rt, request)
        body = await read_json(request, empty={})
        if not isinstance(body, dict):
            raise ValidationFailed([FieldError("body", 'expected {"ids": [...]}, or {} to mark all as read')])
        ids = body.get("ids")
        if ids is not None:
            ids = parse_ids(ids, 1000)
            if ids is None:
                raise ValidationFailed([FieldError("ids", "a list of 1 to 1,000 notification ids (whole numbers), or leave it out to mark all as read")])
        return _json({"marked": await run_in_threadpool(rt.records.mark_read, actor, ids)})

    async def events_(request: Request):
        """The event feed, in id order (administrators and integration accounts)."""
        q = request.query_params

        def work(actor):
            errors = []
            after = 0
            if q.get("cursor"):
                after = feed.decode_cursor(q["cursor"])
            elif q.get("after") is not None:
                after = parse_int(q["after"])
                if after is None or after < 0:
                    errors.append(FieldError("after", Msg("the id of the last event you have, a whole number (0 for the start)")))
            limit = parse_id(q.get("limit", "100"))
            if limit is None or limit > feed.MAX_LIMIT:
                errors.append(FieldError("limit", Msg("a whole number from 1 to %(most)s", most=feed.MAX_LIMIT)))
            if errors:
                raise ValidationFailed(errors)
            return feed.events(rt.records, actor, after, limit)
        return _json(await _reading(rt, request, work))

    async def connectors_(request: Request):
        """The connectors and their deliveries by status (administrators)."""
        return _json({"items": await _reading(rt, request, lambda actor: connector_log.connectors(rt.records, actor))})

    async def deliveries_(request: Request):
        """A connector's deliveries, newest first; ?status=pending|sending|delivered|dead, ?before=ID, ?limit=N (administrators)."""
        q = request.query_params

        def work(actor):
            errors = []
            status = q.get("status")
            if status is not None and status not in STATUSES:
                errors.append(FieldError("status", Msg("one of: %(options)s", options=", ".join(STATUSES))))
            before, limit = _page(q, Msg("the id of the oldest delivery you have, a whole number"), errors)
            return connector_log.deliveries(rt.records, actor, request.path_params["name"], status, before, limit)
        return _json(await _reading(rt, request, work))

    async def calls_(request: Request):
        """A webhook connector's calls, newest first; ?before=ID, ?limit=N (administrators)."""
        q = request.query_params

        def work(actor):
            before, limit = _page(q, Msg("the id of the oldest call you have, a whole number"), [])
            return connector_log.calls(rt.records, actor, request.path_params["name"], before, limit)
        return _json(await _reading(rt, request, work))

    async def delivery_(request: Request):
        """One delivery with its request, its last answer and every attempt (administrators)."""
        def work(actor):
            return connector_log.delivery(rt.records, actor, request.path_params["name"], _record_id(request))
        return _json(await _reading(rt, request, work))

    async def retry_(request: Request):
        """Retry a dead or waiting delivery now, or replay a delivered one (administrators; audited)."""
        actor = await run_in_threadpool(_actor, rt, request)
        done = await run_in_threadpool(connector_log.again, rt.records, actor, request.path_params["name"], _record_id(request))
        wake = getattr(rt.records, "wake", None)
        if wake is not None:
            await run_in_threadpool(wake)
        return _json(done)

    async def history(request: Request):
        name = request.path_params["entity"]
        actor = await run_in_threadpool(_actor, rt, request)
        rid = _record_id(request)
        return _json({"items": await run_in_threadpool(rt.records.history, actor, name, rid)})

    table = [
        Route("/api/v1", index, methods=["GET"]),
        Route("/api/v1/openapi.json", openapi, methods=["GET"]),
        Route("/api/v1/auth/token", token, methods=["POST"]),
        Route("/api/v1/auth/token", revoke, methods=["DELETE"]),
        Route("/api/v1/auth/me", me, methods=["GET"]),
        Route("/api/v1/permissions/explain", explain, methods=["GET"]),
        Route("/api/v1/permissions/roles/{role}", role, methods=["GET"]),
        Route("/api/v1/reviews/pending", pending_reviews, methods=["GET"]),
        Route("/api/v1/events", events_, methods=["GET"]),
        Route("/api/v1/connectors", connectors_, methods=["GET"]),
        Route("/api/v1/connectors/{name}/deliveries", deliveries_, methods=["GET"]),
        Route("/api/v1/connectors/{name}/calls", calls_, methods=["GET"]),
        Route("/api/v1/connectors/{name}/deliveries/{id}", delivery_, methods=["GET"]),
        Route("/api/v1/connectors/{name}/deliveries/{id}/retry", retry_, methods=["POST"]),
        Route("/api/v1/notifications", notifications_, methods=["GET"]),
        Route("/api/v1/notifications/read", notifications_, methods=["POST"]),
        Route("/api/v1/{entity}", collection, methods=["GET", "POST"]),
        Route("/api/v1/{entity}/export.csv", export, methods=["GET"]),
        Route("/api/v1/{entity}/export.xlsx", export_xlsx_, methods=["GET"]),
        Route("/api/v1/{entity}/transitions/{transition}", fire_bulk, methods=["POST"]),
        Route("/api/v1/{entity}/{id}", item, methods=["GET", "PATCH", "DELETE"]),
        Route("/api/v1/{entity}/{id}/history", history, methods=["GET"]),
        Route("/api/v1/{entity}/{id}/transitions", transitions_, methods=["GET"]),
        Route("/api/v1/{entity}/{id}/transitions/{transition}", fire, methods=["POST"]),
        Route("/api/v1/{entity}/{id}/timeline", timeline, methods=["GET"]),
        Route("/api/v1/{entity}/{id}/review", review, methods=["GET", "POST"]),
    ]
    return table

