"""Connector documents (connectors/*.yaml) checked and built into Connector models.

Checked here, with file and line: the name, the triggers (an entity of the app, one of the events
created / updated / deleted / transitioned, a state of its workflow for `to`, a condition in the
expression dialect over the record), the templates (sandboxed Jinja that compiles), the fields a
response writes back (stored fields of the triggering entities that a write may set), and secrets:
a signing secret or a credential header is a ${VAR} reference, never a literal. A variable that is
not set does not stop the app: the connector is built with `missing` naming it and stays off
(reported when the app starts). A type other than the built-in ones is checked once the plugins
are loaded, since a plugin may add it (engine.app.runtime.plugins_of).
"""
from __future__ import annotations

import os
import re
from types import MappingProxyType

from jinja2 import TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from engine.expressions.language import Scope
from engine.metadata import secrets
from engine.metadata.model import CHILD_SYSTEM_COLUMNS, SYSTEM_COLUMNS, Connector, Entity, Label, Retry, Trigger, Workflow
from engine.metadata.report import compile_or_report

BUILT_IN = ("rest", "webhook", "email", "sms")
_OUTBOUND_ONLY = ("on", "base_url", "path", "method", "headers", "body", "sign", "response", "retry", "timeout")
_EMAIL_KEYS = ("to", "subject", "text", "html", "language")
# what a channel connector sends when it gives no template of its own: the notification as the workflow words it
CHANNEL_DEFAULTS = {
    "email": {"to": ["{{ notice.to }}"], "subject": "{{ notice.subject }}", "text": "{{ notice.text }}", "language": "{{ notice.language }}"},
    "sms": {"to": "{{ notice.to }}", "text": "{{ notice.text }}", "language": "{{ notice.language }}"},
}
SMTP_URL = "ENGINE_SMTP_URL"  # smtp://user:password@host:port, where an email connector sends
_INBOUND_ONLY = ("secret", "actor", "max_body", "actions")
_VARIABLE = re.compile(r"\$\{([A-Z_][A-Z0-9_]{0,99})\}")
_CREDENTIAL_HEADERS = re.compile(r"^(authorization|proxy-authorization|cookie)$|(^|-)(token|secret|api-?key|password)($|-)", re.I)
TEMPLATES = SandboxedEnvironment(autoescape=False)
_WHOLE = re.compile(r"^\s*\{\{(.*)\}\}\s*$", re.S)


def variables(value) -> list[str]:
    """The ${NAME} references anywhere in a setting (strings inside mappings and lists too)."""
    if isinstance(value, str):
        return _VARIABLE.findall(value)
    if isinstance(value, dict):
        return [v for item in value.values() for v in variables(item)]
    if isinstance(value, list):
        return [v for item in value for v in variables(item)]
    return []


def substitute(value: str) -> str:
    """A setting with its ${NAME} references replaced by the environment's values (all set: checked at load)."""
    return _VARIABLE.sub(lambda m: os.environ[m.group(1)], value)


def template_problem(source) -> str | None:
    """Why a template (a string, or a mapping or list of them) does not compile, or None. A string that
    is one {{ expression }} as a whole gives the expression's value with its type (a number stays a number)."""
    if isinstance(source, dict):
        return next((p for v in source.values() if (p := template_problem(v))), None)
    if isinstance(source, list):
        return next((p for v in source if (p := template_problem(v))), None)
    if not isinstance(source, str):
        return None
    try:
        m = _WHOLE.match(source)
        if m and "{{" not in m.group(1) and "}}" not in m.group(1):
            TEMPLATES.compile_expression(m.group(1))
        else:
            TEMPLATES.parse(source)
    except TemplateSyntaxError as exc:
        return f"the template does not compile: {exc.message}"
    return None


def build_connector(ctx, file: str, doc, stem: str, entities: dict[str, Entity], workflows: dict[str, Workflow]) -> Connector | None:
    d = doc.data
    before = len(ctx.problems)
    if stem != d["name"]:
        ctx.add("E010", file, doc, ("name",), f"connector '{d['name']}' is in a file named '{stem}'", hint=f"rename the file to {d['name']}.yaml")
    triggers = []
    for i, spec in enumerate(d.get("on", ())):
        t = _trigger(ctx, file, doc, ("on", i), spec, entities, workflows)
        if t is not None:
            triggers.append(t)
    channel = bool(d.get("channel"))
    if channel:
        _check_channel(ctx, file, doc, d)
    settings = {**(CHANNEL_DEFAULTS.get(d["type"], {}) if channel else {}),
                **{k: v for k, v in d.items() if k not in ("name", "type", "label", "on", "timeout", "retry", "settings", "channel")}}
    if d["type"] in BUILT_IN and "settings" in d:
        ctx.add("E048", file, doc, ("settings",), f"settings: holds the keys of a type a plugin adds; a {d['type']} connector's keys stand on their own",
                key=True)
    elif "settings" in d:  # a plugin's type: its own keys
        settings.update(d["settings"])
    if d["type"] == "rest":
        _check_rest(ctx, file, doc, d, triggers, entities)
        for key in _INBOUND_ONLY + _EMAIL_KEYS:
            if key in d:
                ctx.add("E048", file, doc, (key,), f"{key}: is not a key of a rest connector", key=True)
    elif d["type"] == "email":
        _check_email(ctx, file, doc, d)
    elif d["type"] == "sms":
        _check_rest(ctx, file, doc, d, triggers, entities)
        for key in ("to", "text"):
            if key not in d and not d.get("channel"):
                ctx.add("E048", file, doc, (), f"an sms connector needs {key}: " + ("the phone number (a template)" if key == "to" else
                                                                                  "the message, per language"))
        _check_templates(ctx, file, doc, d, ("to", "text", "language"))
        for key in _INBOUND_ONLY + ("subject", "html"):
            if key in d:
                ctx.add("E048", file, doc, (key,), f"{key}: is not a key of an sms connector", key=True)
    elif d["type"] == "webhook":
        _check_webhook(ctx, file, doc, d, entities, workflows)
        for key in _OUTBOUND_ONLY + _EMAIL_KEYS:
            if key in d:
                ctx.add("E048", file, doc, (key,), f"{key}: is for a connector that sends; a webhook connector receives", key=True)
    for key in ("base_url", "path", "headers", "sign"):  # secrets are ${VAR} references
        if key == "sign" and isinstance(d.get("sign"), dict) and not secrets.is_reference(d["sign"].get("secret")):
            ctx.add("E035", file, doc, ("sign", "secret"), "the signing secret must not be written in the metadata")
        if key == "headers":
            for h, v in (d.get("headers") or {}).items():
                if _CREDENTIAL_HEADERS.search(h) and not variables(v):
                    ctx.add("E035", file, doc, ("headers", h), f"the header {h} carries a credential; it must not be written in the metadata")
    if len(ctx.problems) > before:
        return None
    retry = d.get("retry", {})
    needed = variables(settings) + ([SMTP_URL] if d["type"] == "email" else [])  # an email connector sends through the SMTP server
    missing = tuple(dict.fromkeys(v for v in needed if v not in os.environ))
    return Connector(
        name=d["name"], type=d["type"], label=Label.of(d.get("label"), d["name"]), file=file, triggers=tuple(triggers),
        settings=MappingProxyType(settings), timeout=float(d.get("timeout", 10)), missing=missing, channel=channel, type_at=(doc.mark(("type",)).line, doc.mark(("type",)).col),
        retry=Retry(**{k: float(retry[k]) for k in ("first_delay", "factor", "max_delay") if k in retry},
                    **({"max_attempts": int(retry["max_attempts"])} if "max_attempts" in retry else {})),
    )


def _trigger(ctx, file, doc, path, spec, entities, workflows) -> Trigger | None:
    ent = entities.get(spec["entity"])
    if ent is None or ent.child:
        if not ctx.failed.entity(spec["entity"]):
            ctx.add("E048", file, doc, path + ("entity",), f"'{spec['entity']}' is not a top-level entity of the app")
        return None
    to = spec.get("to")
    if to is not None:
        wf = workflows.get(ent.name)
        if spec["event"] != "transitioned":
            ctx.add("E048", file, doc, path + ("to",), "to: (the state entered) goes with event: transitioned")
            return None
        if wf is None and ctx.failed.states_unknown(ent.name):
            return None  # its workflow failed: reported there
        if wf is None or to not in wf.states:
            known = ", ".join(wf.states) if wf is not None else f"none: {ent.name} has no workflow"
            ctx.add("E048", file, doc, path + ("to",), f"'{to}' is not a state of {ent.name} (states: {known})")
            return None
    when = None
    if "when" in spec:
        when = compile_or_report(ctx, file, doc, path + ("when",), spec["when"], record_scope(ent, entities))
        if when is None:
            return None
    return Trigger(ent.name, spec["event"], to, when)


def record_scope(ent: Entity, entities: dict[str, Entity]) -> Scope:
    """What a connector's condition may name: the record's fields, its system columns and `lines.<field>`."""
    values = frozenset(f.name for f in ent.fields.values() if f.type != "table") | frozenset(SYSTEM_COLUMNS)
    tables = {f.name: frozenset(entities[f.entity].fields) | frozenset(CHILD_SYSTEM_COLUMNS)
              for f in ent.fields.values() if f.type == "table" and f.entity in entities}
    return Scope(values=values, tables=tables)


def _check_templates(ctx, file, doc, d: dict, keys: tuple) -> None:
    """E048 for the first template of each key (a text, or one per language, or a list) that does not compile."""
    for key in keys:
        problem = template_problem(d.get(key))
        if problem:
            ctx.add("E048", file, doc, (key,), problem)


def _check_email(ctx, file, doc, d: dict) -> None:
    if "on" not in d and not d.get("channel"):
        ctx.add("E048", file, doc, (), "an email connector needs on: the events it sends mail for (or channel: true, to carry the workflows' notifications)")
    for key in ("to", "subject", "text"):
        if key not in d and not d.get("channel"):
            ctx.add("E048", file, doc, (), f"an email connector needs {key}: " + {"to": "the addresses (templates), like \"{{ record.email }}\"",
                                                                               "subject": "the subject, per language",
                                                                               "text": "the plain text, per language"}[key])
    _check_templates(ctx, file, doc, d, ("to", "subject", "text", "html", "language"))
    for key in ("base_url", "path", "method", "headers", "body", "sign", "response", "secret", "actor", "max_body", "actions"):
        if key in d:
            ctx.add("E048", file, doc, (key,), f"{key}: is not a key of an email connector (to, subject, text, html, language)", key=True)


def _check_channel(ctx, file, doc, d: dict) -> None:
    """A channel connector carries the workflows' notifications: an email or sms connector, with no events of its own."""
    if d["type"] not in CHANNEL_DEFAULTS:
        ctx.add("E048", file, doc, ("channel",), f"channel: is for an email or sms connector, which carries the workflows' notifications; "
                f"this one is a {d['type']} connector", key=True)
    elif "on" in d:
        ctx.add("E048", file, doc, ("on",), "a channel connector sends the workflows' notifications, not events of its own; "
                "declare a second connector for these events", key=True)


def carried_channels(docs: list, failed) -> frozenset | None:
    """The notification channels the app's connectors carry (in_app always); None when a connector
    file failed its own checks, so any channel may be meant to be carried (nothing is said about it)."""
    if failed.connectors:
        return None
    return frozenset({"in_app"}) | {doc.data["type"] for _, doc, _ in docs if doc.data.get("channel") and doc.data["type"] in CHANNEL_DEFAULTS}


def one_per_channel(ctx, docs: list) -> None:
    """E048 for a second connector carrying the same channel: which one a notification takes must be plain."""
    first: dict[str, str] = {}
    for file, doc, _ in docs:
        kind = doc.data["type"]
        if not doc.data.get("channel") or kind not in CHANNEL_DEFAULTS:
            continue
        if kind in first:
            ctx.add("E048", file, doc, ("channel",), f"the {kind} channel is carried by connector '{first[kind]}' already; one connector per channel",
                    key=True)
        else:
            first[kind] = doc.data["name"]


def _check_webhook(ctx, file, doc, d: dict, entities: dict[str, Entity], workflows: dict[str, Workflow]) -> None:
    if "secret" not in d:
        ctx.add("E048", file, doc, (), "a webhook connector needs secret: the sender's signing secret, like ${PAYMENTS_WEBHOOK_SECRET}")
    elif not secrets.is_reference(d["secret"]):
        ctx.add("E035", file, doc, ("secret",), "the webhook's signing secret must not be written in the metadata")
    if "actions" not in d:
        ctx.add("E048", file, doc, (), "a webhook connector needs actions: what a call does (find a record, then set fields or fire a transition)")
    for i, a in enumerate(d.get("actions", ())):
        path = ("actions", i)
        if "reply" in a:  # an e-mail reply made a comment (engine.comments.replies): templates only
            for key, source in a["reply"].items():
                if template_problem(source):
                    ctx.add("E048", file, doc, path + ("reply", key), template_problem(source))
            continue
        ent = entities.get(a["entity"])
        if ent is None or ent.child:
            if not ctx.failed.entity(a["entity"]):
                ctx.add("E048", file, doc, path + ("entity",), f"'{a['entity']}' is not a top-level entity of the app")
            continue
        for key, source in a["find"].items():
            f = ent.fields.get(key)
            if f is None and ctx.failed.field(ent.name, key):
                continue
            if key != "id" and (f is None or not f.unique):
                ctx.add("E048", file, doc, path + ("find", key), f"find: looks a record up by id or a unique field; '{key}' is not one of {ent.name}",
                        key=True)
            if template_problem(source):
                ctx.add("E048", file, doc, path + ("find", key), template_problem(source))
        for key, source in (a.get("set") or {}).items():
            f = ent.fields.get(key)
            if f is None and ctx.failed.field(ent.name, key):
                continue
            if f is None or f.type in ("table", "computed") or f.read_only:
                why = "is not a field of" if f is None else "is computed or read-only in"
                ctx.add("E048", file, doc, path + ("set", key), f"set: writes '{key}', which {why} {ent.name}", key=True)
            if template_problem(source):
                ctx.add("E048", file, doc, path + ("set", key), template_problem(source))
        wf = workflows.get(ent.name)
        if "fire" in a and wf is None and ctx.failed.states_unknown(ent.name):
            continue  # its workflow failed: reported there
        if "fire" in a and (wf is None or a["fire"] not in wf.transitions):
            known = ", ".join(wf.transitions) if wf is not None else f"none: {ent.name} has no workflow"
            ctx.add("E048", file, doc, path + ("fire",), f"'{a['fire']}' is not a transition of {ent.name} (transitions: {known})")
        elif "inputs" in a:
            t = wf.transitions[a["fire"]] if "fire" in a else None
            for key, source in a["inputs"].items():
                if t is None or key not in t.inputs:
                    ctx.add("E048", file, doc, path + ("inputs", key), f"inputs: goes with fire:, and '{key}' must be an input of that transition",
                            key=True)
                if template_problem(source):
                    ctx.add("E048", file, doc, path + ("inputs", key), template_problem(source))
        if "set" not in a and "fire" not in a:
            ctx.add("E048", file, doc, path, "an action sets fields (set:), fires a transition (fire:), or both")


def _check_rest(ctx, file, doc, d: dict, triggers: list[Trigger], entities: dict[str, Entity]) -> None:
    if "on" not in d and not d.get("channel"):
        ctx.add("E048", file, doc, (), f"a {d['type']} connector needs on: the events it sends")
    if "base_url" not in d:
        ctx.add("E048", file, doc, (), f"a {d['type']} connector needs base_url: where it sends, like ${{ERP_URL}}")
    elif not variables(d["base_url"]) and not re.match(r"^https?://[^\s/]+", d["base_url"]):
        ctx.add("E048", file, doc, ("base_url",), f"base_url '{d['base_url'][:80]}' is not a web address (http:// or https://)")
    for key in ("body", "path"):
        problem = template_problem(d.get(key))
        if problem:
            ctx.add("E048", file, doc, (key,), problem)
    for i, (name, source) in enumerate(((d.get("response") or {}).get("set") or {}).items()):
        problem = template_problem(source)
        if problem:
            ctx.add("E048", file, doc, ("response", "set", name), problem)
        for t in triggers:
            f = entities[t.entity].fields.get(name)
            if f is None and ctx.failed.field(t.entity, name):
                continue  # the field failed its own checks: reported there
            if f is None or f.type in ("table", "computed") or f.read_only:
                why = "is not a field of" if f is None else "is computed or read-only in"
                ctx.add("E048", file, doc, ("response", "set", name), f"the response writes '{name}', which {why} {t.entity}",
                        key=True)
                break
