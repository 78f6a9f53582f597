"""The command line: serve, worker, check, migrate, export-overlay, create-user, update-user,
create-token, verify-audit.

Every command prints what went wrong and what to do, never a traceback; exit codes are
0 (fine), 1 (a problem the user must fix), 2 (wrong usage). It works from any folder: without
--app and --db the app and database beside run.py are used. Every write a command makes is an
audit entry by the command line's actor (`cli:` and the OS user), like a screen's write.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sys

from engine.metadata.codes import MetadataInvalid


def _app_dir(args) -> str:
    from engine.storage.db import PROJECT
    return args.app or os.environ.get("ENGINE_APP") or str(PROJECT / "metadata")


def _db_url(args) -> str:
    from engine.storage.db import default_url
    return getattr(args, "db", None) or default_url()


def _fail(message: str, code: int = 1) -> int:
    print(message, file=sys.stderr)
    return code


def _hint(args, command: str, *extra: str, app: str | None = None) -> str:
    """A command to run next, as this user would type it: the same run.py and the --app and --db
    they gave (`app` replaces their --app)."""
    import shlex
    script = sys.argv[0] if os.path.basename(sys.argv[0] or "") == "run.py" else "run.py"
    words = ["python", script, command, *extra]
    app = app or getattr(args, "app", None)
    if app:
        words += ["--app", app]
    if getattr(args, "db", None):
        words += ["--db", args.db]
    return " ".join(shlex.quote(w) for w in words)


def _actor():
    """Who acts on the command line: an administrator path, named after the OS user when known."""
    from engine.core.actor import Actor
    try:
        who = getpass.getuser()
    except Exception:  # no user name in the environment or the password database
        who = ""
    return Actor(id=None, username=f"cli:{who}"[:64] if who else "cli", roles=frozenset({"admin"}), via="system")


def cmd_check(args) -> int:
    from engine.app.runtime import plugins_of
    from engine.metadata.loader import load_app
    try:
        app = load_app(_app_dir(args))
        plugins_of(app)
    except MetadataInvalid as exc:
        for p in exc.problems:
            print(p.format())
        print(f"{len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''} found", file=sys.stderr)
        return 1
    note = ""
    from engine.storage.db import project_var
    url = args.db or os.environ.get("ENGINE_DATABASE_URL") or (_db_url(args) if (project_var() / "app.db").is_file() else None)
    if url:  # the admin changes stored there, laid over the files as every app process does
        stored, err = _stored_overlay(app, url)
        if err is not None:
            if args.db:
                return _fail(err)
            note = f"; the admin changes in {_safe_url(url)} were not checked ({err})"
        elif stored.pieces:
            app = load_app(_app_dir(args), stored.pieces)
            for c in app.overlay_conflicts:
                print(c.format())
            note = (f"; admin changes to {len(stored.pieces)} form(s) from {_safe_url(url)}"
                    + (f", {len(app.overlay_conflicts)} set aside (see above): open those forms in Settings > Forms" if app.overlay_conflicts else ""))
    nfields = sum(len(e.fields) for e in app.entities.values())
    for w in app.warnings:
        print(w.format())
    if app.connectors:
        off = [f"{c.name} is off until {', '.join(c.missing)} is set" for c in app.connectors.values() if not c.enabled]
        note = f", {len(app.connectors)} connectors" + (f" ({'; '.join(off)})" if off else "") + note
    print(f"ok: {_app_dir(args)}: {len(app.entities)} entities, {nfields} fields, {len(app.forms)} forms{note}")
    return 1 if args.strict and app.overlay_conflicts else 0


def _stored_overlay(app, url: str):
    from engine.app.tables import schema_for
    from engine.storage import form_versions
    from engine.storage.db import Database
    try:
        db = Database(url)
        try:
            with db.read() as conn:
                return form_versions.load(conn, schema_for(app)), None
        finally:
            db.dispose()
    except Exception as exc:
        return None, f"cannot read the database: {type(exc).__name__}: {str(exc).splitlines()[0]}"


def cmd_export_overlay(args) -> int:
    """Write the admin changes back into the app's YAML files (or under --out), comments kept."""
    import difflib
    from pathlib import Path

    from engine.forms import designer
    from engine.metadata.loader import load_app
    try:
        app = load_app(_app_dir(args))
    except MetadataInvalid as exc:
        print("\n".join(p.format() for p in exc.problems))
        return _fail("fix the app's own problems first")
    stored, err = _stored_overlay(app, _db_url(args))
    if err is not None:
        return _fail(err)
    if not stored.pieces:
        print("there are no admin changes to export: every form is as the app's files say")
        return 0
    app = load_app(_app_dir(args), stored.pieces)
    for c in app.overlay_conflicts:
        print(c.format() + " - not exported")
    root = Path(_app_dir(args))
    out = Path(args.out) if args.out else root
    files = designer.exported_files(str(root), stored, app)
    for path, text in files.items():
        rel = path.relative_to(root)
        if args.diff:
            old = path.read_text(encoding="utf-8") if path.is_file() else ""
            sys.stdout.writelines(difflib.unified_diff(old.splitlines(True), text.splitlines(True), f"a/{rel}", f"b/{rel}"))
            continue
        target = out / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        print(f"wrote {target}")
    if not args.diff:
        print(f"{len(files)} file(s) written; check them with `{_hint(args, 'check', app=str(out))}` and commit them with the app")
    return 0


def _open(args, migrate_now: bool = True):
    """The runtime, with the additive migrations the metadata needs applied and audited (unless
    `migrate_now` is false); or None and what went wrong."""
    from engine.app.runtime import Runtime
    from engine.storage.migrate import DestructiveChange
    try:
        rt = Runtime.open(_app_dir(args), _db_url(args), migrate_now=False)
        if migrate_now:
            _migrate(args, rt.db, rt.schema)
        return rt, None
    except MetadataInvalid as exc:
        return None, ("\n".join(p.format() for p in exc.problems) + f"\nthe metadata has {len(exc.problems)} problem(s); "
                      f"fix them and check again with `{_hint(args, 'check')}`")
    except DestructiveChange as exc:
        return None, _destructive(args, exc)
    except ValueError as exc:  # a setting that cannot be used (ENGINE_SESSION_IDLE_HOURS=twelve, an unsupported database)
        return None, str(exc)
    except Exception as exc:  # connection problems and the like: say what, not where
        return None, f"cannot open the database {_safe_url(_db_url(args))}: {type(exc).__name__}: {str(exc).splitlines()[0]}"


def _migrate(args, db, schema, confirm_destructive: bool = False) -> list:
    """Apply what the metadata needs (additive only, unless confirmed) and record it in the audit trail."""
    from engine.storage import audit, migrate
    done = migrate.apply(db, schema, confirm_destructive=confirm_destructive)
    with db.write() as conn:
        audit.ensure_head(conn, schema)
        if done:
            audit.append(conn, schema, _actor(), "sys_schema", None, "migrate",
                         {"command": args.command, "steps": [s.description for s in done]})
    return done


def _destructive(args, exc) -> str:
    steps = "\n".join(f"  - {s.description}" for s in exc.steps)
    return (f"the metadata needs changes that would destroy data:\n{steps}\nBack up the database, then run "
            f"`{_hint(args, 'migrate', '--confirm-destructive')}` to apply them, or restore the fields in the metadata.")


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "(unparseable URL)"


def cmd_migrate(args) -> int:
    from engine.app.runtime import load_with_overlay
    from engine.app.tables import schema_for
    from engine.storage import migrate
    from engine.storage.db import Database
    try:
        db = Database(_db_url(args))
        app, stored = load_with_overlay(_app_dir(args), db)  # custom fields added in the designer are part of the app
    except MetadataInvalid as exc:
        for p in exc.problems:
            print(p.format())
        return _fail(f"the metadata has {len(exc.problems)} problem(s); fix them and check again with `{_hint(args, 'check')}`")
    except Exception as exc:
        return _fail(f"cannot open the database {_safe_url(_db_url(args))}: {str(exc).splitlines()[0]}")
    schema = schema_for(app, stored.kept_columns(app))
    try:
        steps = migrate.plan(db, schema)
    except Exception as exc:
        return _fail(f"cannot open the database {_safe_url(_db_url(args))}: {str(exc).splitlines()[0]}")
    if not steps:
        print("the database is up to date")
        return 0
    for s in steps:
        print(("  ! " if s.destructive else "  + ") + s.description)
    if args.dry_run:
        print(f"{len(steps)} step(s) planned; nothing was changed (dry run)")
        return 0
    try:
        done = _migrate(args, db, schema, confirm_destructive=args.confirm_destructive)
    except migrate.DestructiveChange as exc:
        return _fail(_destructive(args, exc))
    print(f"applied {len(done)} step(s)")
    return 0


def _logging() -> None:
    """What a running server or worker prints: its own news, and the libraries' warnings only."""
    import logging
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # connectors: a line per request sent; the delivery log keeps what matters
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("huey").setLevel(logging.WARNING)  # its task list at start and a line per periodic task, every minute
    logging.getLogger("casbin").setLevel(logging.WARNING)  # its model, line by line, at every start


def cmd_serve(args) -> int:

    import uvicorn

    from engine.app import demo
    from engine.server import create_app
    _logging()
    rt, err = _open(args)
    if rt is None:
        return _fail(err)
    if not args.no_demo and demo.is_empty(rt):
        print("loading demo data (first start) ...", flush=True)
        try:
            counts = demo.load(rt)
            _audit_demo(rt, counts)
        except Exception as exc:
            return _fail(f"the demo data could not be loaded: {exc}")
        print("demo data loaded: " + ", ".join(f"{n} {k}" for k, n in counts.items()), flush=True)
    try:
        asgi = create_app(rt)
    except ValueError as exc:  # a setting in the environment that cannot be used (ENGINE_TRUSTED_PROXIES...)
        return _fail(str(exc))
    from engine.app import tasks
    url = tasks.queue_url(_db_url(args))
    queue = tasks.make_queue(rt, url)  # also with --no-worker: imports and deliveries are queued for the workers
    consumer = None
    if not args.no_worker:
        consumer = tasks.start_embedded(queue)
        print(f"background tasks (SLA timers, imports) run in this process; queue: {_safe_url(url)}", flush=True)
    print(f"serving {rt.app.name} on http://{args.host}:{args.port}  (API: /api/v1, OpenAPI: /api/v1/openapi.json)", flush=True)
    try:
        uvicorn.run(asgi, host=args.host, port=args.port, log_level="info",
                    proxy_headers=False)  # X-Forwarded-* are read only from ENGINE_TRUSTED_PROXIES (engine/web/proxies.py)
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)
    return 0


def _audit_demo(rt, counts: dict) -> None:
    """The demo's records are audited by the record service; its users are recorded here, once."""
    from sqlalchemy import select

    from engine.storage import audit
    with rt.db.write() as conn:
        names = list(conn.execute(select(rt.schema.user.c.username).order_by(rt.schema.user.c.id)).scalars())
        audit.append(conn, rt.schema, _actor(), "sys_user", None, "demo_loaded", {"counts": counts, "users": names})


def cmd_worker(args) -> int:
    """Run the task consumer on its own (SLA timers), for deployments that serve with --no-worker."""

    from engine.app import tasks
    _logging()
    rt, err = _open(args)
    if rt is None:
        return _fail(err)
    url = tasks.queue_url(_db_url(args))
    huey = tasks.make_queue(rt, url)
    print(f"worker for {rt.app.name}: queue {_safe_url(url)}; SLA timers are checked every minute, connectors' deliveries sent as they fall due",
          flush=True)
    tasks.catch_up(huey)  # whatever a worker stopped before it could finish
    huey.create_consumer(workers=args.workers, periodic=True, worker_type="thread", max_delay=tasks.IDLE_POLL).run()
    return 0


def cmd_import(args) -> int:
    """Import a spreadsheet into an entity through the record service, as a user (or the command line's administrator)."""
    import json as _json
    from pathlib import Path

    from engine.access.users import actor_for_id
    from engine.core.errors import EngineError, ValidationFailed
    from engine.imports import importer, sheets
    rt, err = _open(args)
    if rt is None:
        return _fail(err)
    if args.entity not in rt.app.entities or rt.app.entities[args.entity].child:
        return _fail(f"there is no entity '{args.entity}' to import into; this app has: {', '.join(e.name for e in rt.app.top_entities())}")
    path = Path(args.file)
    if not path.is_file():
        return _fail(f"there is no file {args.file}")
    actor = _actor()
    if args.as_user:
        from sqlalchemy import select
        u = rt.schema.user
        with rt.db.read() as conn:
            uid = conn.execute(select(u.c.id).where(u.c.username == args.as_user)).scalar()
            actor = actor_for_id(conn, rt.schema, uid, via="import") if uid is not None else None
        if actor is None:
            return _fail(f"there is no active user '{args.as_user}'")
    try:
        sheet = sheets.read(path.read_bytes(), path.name, args.encoding, args.delimiter)
        result = importer.run_import(rt.records, actor, args.entity, sheet, key=args.key, dry_run=args.dry_run, skip_errors=args.skip_errors,
                                     lang=args.lang)
    except ValidationFailed as exc:
        return _fail("\n".join(f"{e.field}: {e.message}" for e in exc.errors))
    except EngineError as exc:
        return _fail(str(exc.reason))
    what = "would be" if args.dry_run else ("were" if not result["errors"] or args.skip_errors else "would have been")
    print(f"{args.entity}: {result['created']} {what} created, {result['updated']} updated, {result['unchanged']} unchanged"
          + (f", {result['transitioned']} moved on by a transition" if result["transitioned"] else "")
          + (" (a dry run: nothing was written)" if args.dry_run else ""))
    for e in result["errors"]:
        print(f"row {e['row']}, {e['field'] or '-'}: {e['message']}", file=sys.stderr)
    if result["errors"] and not args.dry_run and not args.skip_errors:
        print("nothing was written: fix the rows above, or run with --skip-errors to write the good ones", file=sys.stderr)
    if args.json:
        print(_json.dumps(result, ensure_ascii=False, default=str))
    return 1 if result["errors"] else 0


def cmd_connectors(args) -> int:
    """List the connectors, or send one sample request to an outbound connector's target and print the exchange."""
    import json as _json

    from engine.connectors import trial
    from engine.connectors.registry import registry
    rt, err = _open(args)
    if rt is None:
        return _fail(err)
    connectors = rt.app.connectors
    if args.action == "list" or not args.name:
        if not connectors:
            print("this app has no connectors (connectors/<name>.yaml; see docs/connectors.md)")
        for c in connectors.values():
            state = "on" if c.enabled else f"off: set {', '.join(c.missing)}"
            print(f"{c.name:<20} {c.type:<10} {state}")
        return 0 if args.action == "list" else _fail("name the connector to test: run.py connectors test NAME")
    c = connectors.get(args.name)
    if c is None:
        return _fail(f"there is no connector '{args.name}'; this app has: {', '.join(connectors) or 'none'}")
    if not c.enabled:
        return _fail(f"connector {c.name} is off: set {', '.join(c.missing)} where the app runs")
    adapters = registry(rt.records.plugin_manager)
    if c.type not in adapters:
        print(f"{c.name} is a {c.type} connector: it receives. Senders POST to /hooks/{c.name} (docs/connectors.md).")
        return 0
    if c.channel and not args.to:
        return _fail(f"{c.name} carries the workflows' {c.type} notifications: say where the sample goes, "
                     f"run.py connectors test {c.name} --to {'you@example.com' if c.type == 'email' else '+15550100'}", 2)
    t = trial.run_trial(rt.records, adapters, c, to=args.to)
    print(f"connector {c.name} ({c.type}); sample: {t.sample}; nothing is written (a test)")
    req = t.request
    if "url" in req:
        print(f"> {req.get('method', 'POST')} {req['url']}")
        for k, v in {**req.get("headers", {}), "Idempotency-Key": t.key}.items():
            print(f"> {k}: {v}")
        if req.get("body"):
            print(">")
            print("> " + req["body"][:4000].replace("\n", "\n> "))
    else:
        print("> " + _json.dumps(req, ensure_ascii=False)[:4000])
    o = t.outcome
    print(f"< {o.status if o.status is not None else '-'} ({t.ms} ms)")
    if o.excerpt:
        print("< " + o.excerpt[:4000].replace("\n", "\n< "))
    if o.delivered:
        print("delivered")
        return 0
    print(f"not delivered: {o.error}" + (" (worth retrying: the worker would try again)" if o.retry else " (final: the worker would not retry)"))
    return 1


def _password(args) -> str | None:
    if args.password:
        return args.password
    if os.environ.get("ENGINE_NEW_PASSWORD"):
        return os.environ["ENGINE_NEW_PASSWORD"]
    if sys.stdin.isatty():
        p1 = getpass.getpass("password: ")
        p2 = getpass.getpass("again: ")
        return p1 if p1 == p2 else None
    return None


def _attributes(args, rt) -> tuple[dict, str | None]:
    """--attribute NAME=VALUE pairs as user attributes (or an error)."""
    from engine.core.values import parse_int
    attributes = {}
    for pair in args.attribute or ():
        key, sep, value = pair.partition("=")
        if not sep:
            return {}, f"--attribute takes NAME=VALUE, like --attribute region=east; got '{pair}'"
        f = rt.app.user_fields.get(key)
        number = parse_int(value) if f is not None and f.type in ("link", "integer") else None
        attributes[key] = number if number is not None else value
    return attributes, None


def cmd_create_user(args) -> int:
    from engine.core.errors import ValidationFailed
    rt, err = _open(args)
    if rt is None:
        return _fail(err)
    password = _password(args)
    if not password:
        return _fail("give a password with --password, the ENGINE_NEW_PASSWORD variable, or type it twice at the prompt")
    attributes, err = _attributes(args, rt)
    if err:
        return _fail(err)
    try:  # through the same service as Settings > Users: the same checks and the same audit entry
        uid = rt.accounts.create(_actor(), args.username, password, args.role, manager=args.manager, full_name=args.full_name,
                                 attributes=attributes, email=args.email, phone=args.phone, party=args.party)
    except ValidationFailed as exc:
        return _fail("\n".join(f"{e.field}: {e.message}" for e in exc.errors))
    print(f"created user {args.username} (id {uid}) with role(s) {', '.join(args.role)}")
    return 0


def cmd_update_user(args) -> int:
    """Change a user's roles, manager, name, attributes or whether they are active, as Settings > Users does."""
    from sqlalchemy import select

    from engine.core.errors import ValidationFailed
    rt, err = _open(args)
    if rt is None:
        return _fail(err)
    attributes, err = _attributes(args, rt)
    if err:
        return _fail(err)
    u = rt.schema.user
    with rt.db.read() as conn:
        row = conn.execute(select(u.c.id, u.c.attributes).where(u.c.username == args.username)).first()
    if row is None:
        return _fail(f"there is no user '{args.username}'; create one with `{_hint(args, 'create-user', args.username, '--role', 'ROLE')}`")
    if not any((args.role, args.manager is not None, args.full_name is not None, attributes, args.active is not None,
                args.email is not None, args.phone is not None)):
        return _fail("say what to change: --role (repeat for several; replaces the user's roles), --manager NAME (\"\" for none), "
                     "--full-name, --email, --phone, --attribute NAME=VALUE, --active or --inactive", 2)
    try:
        rt.accounts.update(_actor(), row[0], roles=args.role, manager=args.manager, full_name=args.full_name,
                           attributes={**(row[1] or {}), **attributes} if attributes else None, active=args.active,
                           email=args.email, phone=args.phone)
    except ValidationFailed as exc:
        return _fail("\n".join(f"{e.field}: {e.message}" for e in exc.errors))
    print(f"updated user {args.username} (id {row[0]})")
    return 0


def cmd_create_token(args) -> int:
    from sqlalchemy import select

    from engine.access import users
    from engine.core.errors import EngineError
    from engine.storage import audit
    rt, err = _open(args)
    if rt is None:
        return _fail(err)
    try:
        with rt.db.write() as conn:
            token = users.create_token(conn, rt.schema, args.username, label=args.label)
            uid = conn.execute(select(rt.schema.user.c.id).where(rt.schema.user.c.username == args.username)).scalar_one()
            audit.append(conn, rt.schema, _actor(), "sys_user", uid, "token_created", {"label": (args.label or "")[:140]})
    except EngineError as exc:
        return _fail(exc.detail)
    print(token)
    return 0


def _since(text: str | None):
    """--since as an aware UTC datetime: a date (its midnight, UTC) or an ISO date and time (UTC unless it has an offset)."""
    import datetime as dt
    if not text:
        return None
    try:
        if len(text.strip()) == 10:
            d = dt.date.fromisoformat(text.strip())
            return dt.datetime(d.year, d.month, d.day, tzinfo=dt.timezone.utc)
        value = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"--since takes a date (2026-01-31) or a date and time (2026-01-31T14:00, UTC unless an offset such as "
                         f"+08:00 is given); got '{text}'") from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def cmd_verify_audit(args) -> int:
    """Check the audit trail's chain and signatures, then that every record is what its trail says."""
    import time

    from engine.records import reconcile
    from engine.storage import audit, migrate
    try:
        since = _since(args.since)
    except ValueError as exc:
        return _fail(str(exc), 2)
    rt, err = _open(args, migrate_now=False)  # a check changes nothing
    if rt is None:
        return _fail(err)
    known = [e.name for e in rt.app.top_entities()]
    for name in args.entity or ():
        if name not in known:
            return _fail(f"there is no entity '{name}'; known entities: {', '.join(known)}", 2)
    try:
        pending = migrate.plan(rt.db, rt.schema)
    except Exception as exc:
        return _fail(f"cannot open the database {_safe_url(_db_url(args))}: {str(exc).splitlines()[0]}")
    if pending:
        return _fail(f"the database is behind the metadata ({len(pending)} step(s), such as: {pending[0].description}); "
                     f"bring it up to date with `{_hint(args, 'migrate')}`, then verify again")
    failed = 0
    with rt.db.snapshot() as conn:  # one consistent state, while the app keeps writing
        t0 = time.perf_counter()
        result = audit.verify(conn, rt.schema, since=since)
        took = time.perf_counter() - t0
        print(f"{result.message} ({took:.1f} s)", file=sys.stdout if result.ok else sys.stderr, flush=True)
        stats = reconcile.Stats()
        t0 = time.perf_counter()
        for d in reconcile.reconcile(conn, rt.app, rt.schema, args.entity or None, since, stats):
            failed += 1
            print(d.format(), flush=True)
        took = time.perf_counter() - t0
    scope = f" changed since {since:%Y-%m-%d %H:%M} UTC" if since else ""
    checked = (f"{stats.records} record(s){scope} with {stats.lines} line(s) and {stats.entries} audit entries, "
               f"of {', '.join(stats.entities)} ({took:.1f} s)")
    if failed:
        print(f"{failed} record(s) differ from their audit trail (above): they were changed in the database behind the engine's "
              f"back. Checked {checked}. Restore them from a backup (the trail shows what they should be) and find out who can "
              f"write to the database", file=sys.stderr)
    else:
        print(f"the data matches the audit trail: checked {checked}")
    return 0 if result.ok and not failed else 1


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run.py", description="Serve and manage a metadata-defined order application.")
    sub = p.add_subparsers(dest="command")

    def common(sp, db: bool = True):
        sp.add_argument("--app", help="the app folder (default: $ENGINE_APP, else metadata/ beside run.py)")
        if db:
            sp.add_argument("--db", help="database URL (default: $ENGINE_DATABASE_URL, else var/app.db beside run.py)")

    s = sub.add_parser("serve", help="serve the app (the default command)")
    common(s)
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--no-demo", action="store_true", help="do not load demo data into an empty database")
    s.add_argument("--no-worker", action="store_true", help="do not run background tasks in this process (run `run.py worker` instead)")
    s.set_defaults(func=cmd_serve)
    w = sub.add_parser("worker", help="run background tasks (SLA timers) without serving; queue from $ENGINE_QUEUE_URL")
    common(w)
    w.add_argument("--workers", type=int, default=1)
    w.set_defaults(func=cmd_worker)
    c = sub.add_parser("check", help="check the metadata (and the admin changes stored in the database) and list every problem")
    common(c)
    c.add_argument("--strict", action="store_true", help="exit 1 when admin changes no longer fit the metadata")
    c.set_defaults(func=cmd_check)
    x = sub.add_parser("export-overlay", help="write the admin changes to forms back into the app's YAML files")
    common(x)
    x.add_argument("--out", help="write the changed files under this folder instead of into the app folder")
    x.add_argument("--diff", action="store_true", help="print what would change as a unified diff, write nothing")
    x.set_defaults(func=cmd_export_overlay)
    m = sub.add_parser("migrate", help="bring the database in line with the metadata")
    common(m)
    m.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    m.add_argument("--confirm-destructive", action="store_true", help="also apply steps that drop or narrow data")
    m.set_defaults(func=cmd_migrate)
    u = sub.add_parser("create-user", help="create a user")
    common(u)
    u.add_argument("username")
    u.add_argument("--role", action="append", required=True, help="a role (repeat for several)")
    u.add_argument("--manager", help="username of the user's manager (the reporting line)")
    u.add_argument("--full-name")
    u.add_argument("--email", help="the e-mail address notifications go to")
    u.add_argument("--phone", help="the phone number text messages go to")
    u.add_argument("--attribute", action="append", metavar="NAME=VALUE", help="a user field from roles.yaml, e.g. region=east (repeat for several)")
    u.add_argument("--party", type=int, help="a portal user's party: the id of the customer (supplier, partner) record they are a contact of")
    u.add_argument("--password", help="the password (else $ENGINE_NEW_PASSWORD, else a prompt)")
    u.set_defaults(func=cmd_create_user)
    uu = sub.add_parser("update-user", help="change a user's roles, manager, name, attributes or active flag")
    common(uu)
    uu.add_argument("username")
    uu.add_argument("--role", action="append", help="a role (repeat for several); the user's roles become exactly these")
    uu.add_argument("--manager", help="username of the user's manager (\"\" for none)")
    uu.add_argument("--email", help="the e-mail address notifications go to (\"\" for none)")
    uu.add_argument("--phone", help="the phone number text messages go to (\"\" for none)")
    uu.add_argument("--full-name")
    uu.add_argument("--attribute", action="append", metavar="NAME=VALUE", help="a user field from roles.yaml, e.g. region=east")
    uu.add_argument("--active", dest="active", action="store_const", const=True, default=None, help="let the user sign in again")
    uu.add_argument("--inactive", dest="active", action="store_const", const=False, help="deactivate the user (ends their sessions and tokens)")
    uu.set_defaults(func=cmd_update_user)
    t = sub.add_parser("create-token", help="create an API token for a user and print it (shown once)")
    common(t)
    t.add_argument("username")
    t.add_argument("--label", default="cli")
    t.set_defaults(func=cmd_create_token)
    im = sub.add_parser("import", help="import a spreadsheet (.xlsx or .csv) into an entity: import ENTITY FILE [--dry-run] [--key FIELD]")
    common(im)
    im.add_argument("entity")
    im.add_argument("file")
    im.add_argument("--dry-run", action="store_true", help="do everything, write nothing: say what would happen")
    im.add_argument("--skip-errors", action="store_true", help="write the good records and report the others (default: one error writes nothing)")
    im.add_argument("--key", help="a unique field: a record whose key exists is updated, others are created")
    im.add_argument("--as", dest="as_user", metavar="USER", help="import as this user, with their permissions and scopes")
    im.add_argument("--encoding", help="a CSV file's encoding (default: UTF-8, GB18030 or Windows-1251, detected)")
    im.add_argument("--delimiter", choices=[",", ";"], help="a CSV file's delimiter (default: detected)")
    im.add_argument("--lang", default="en", choices=["en", "zh", "ru"], help="how dates and numbers are written, and the errors' language")
    im.add_argument("--json", action="store_true", help="print the result as JSON too")
    im.set_defaults(func=cmd_import)
    cn = sub.add_parser("connectors", help="list the connectors, or send a sample request: connectors test NAME")
    common(cn)
    cn.add_argument("action", choices=["list", "test"])
    cn.add_argument("name", nargs="?", help="the connector to test")
    cn.add_argument("--to", help="for a connector carrying the email or sms channel: the address or number the sample notification goes to")
    cn.set_defaults(func=cmd_connectors)
    v = sub.add_parser("verify-audit", help="verify the audit trail's signed chain, and that the data matches it")
    common(v)
    v.add_argument("--entity", action="append", help="reconcile only this entity's records (repeat for several; the chain is always checked)")
    v.add_argument("--since", help="only entries and records changed since this date or UTC date and time (2026-01-31, 2026-01-31T14:00)")
    v.set_defaults(func=cmd_verify_audit)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not argv or argv[0].startswith("-") and argv[0] not in ("-h", "--help"):
        argv = ["serve", *argv]
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
