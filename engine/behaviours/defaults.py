"""The engine's own behaviour on each write, as plugins of the `on_event` hook: every write emits its
domain events (engine.events) and these react inside its transaction, exactly as a customer plugin
would. A plugin module that lists a name in `REPLACES` (e.g. `REPLACES = ["notices"]`) takes that
behaviour's place: the built-in one is not registered.

- audit: every audited event becomes an entry of the signed audit trail;
- timeline: each workflow step is a row of the record's timeline (with the time spent in the state left);
- states: entering a state closes the review and timers of the one left, opens the new one's
  review round and schedules its deadlines;
- notices: in-app notifications of transitions, of lines reduced in a watched state, of reminders
  and escalations, of a record passed to the owner's manager, and (in the bell and by e-mail) of a
  record a party's contact placed on the portal, to its owner.
"""
from __future__ import annotations

from pathlib import Path

from engine.access import users
from engine.core.actor import SYSTEM
from engine.core.errors import Msg
from engine.core.i18n import localize
from engine.events.hooks import hookimpl, shown_path
from engine.events.model import CREATED, DEADLINE_REACHED, STATE_ENTERED, TRANSITIONED, UPDATED
from engine.metadata.codes import MetadataInvalid, Problem
from engine.storage import audit
from engine.workflow import steps


class Audit:
    @hookimpl
    def on_event(self, event, tx):
        if event.action is not None:
            audit.append(tx.conn, tx.records.schema, event.actor, event.entity, event.record_id, event.action, event.data)


class Timeline:
    @hookimpl
    def on_event(self, event, tx):
        if event.type == STATE_ENTERED and event.data.get("transition"):
            steps.record_step(tx, event)


class States:
    @hookimpl
    def on_event(self, event, tx):
        if event.type == STATE_ENTERED:
            records = tx.records
            ent = records.app.entity(event.entity)
            steps.enter(tx, ent, records.workflow_of(ent.name), event.record, event.data["from"], event.data["to"])


class Notices:
    @hookimpl
    def on_event(self, event, tx):
        records = tx.records
        if event.type == TRANSITIONED:
            ent = records.app.entity(event.entity)
            t = records.workflow_of(ent.name).transitions.get(event.data["transition"]["name"])
            if t is not None:
                steps.notify_transition(tx, ent, t, event.record, event.inputs or {}, event.id)
        elif event.type == UPDATED and event.action == "update":
            ent = records.app.entity(event.entity)
            wf = records.workflow_of(ent.name)
            if wf is not None:
                steps.notify_reduction(tx, ent, wf, event.before, event.record)
        elif event.type == UPDATED and event.action == "reassign":
            ent = records.app.entity(event.entity)
            title = event.record.get(ent.title_field) or event.record_id
            said = Msg("%(thing)s %(title)s is now yours (overdue)", thing=Msg.label(ent.label), title=title)
            records.deliver_to(tx, [event.data["fields"]["owner"]["to"]], ent, event.record_id, "reassigned", lambda hidden, lang: localize(said, lang))
        elif event.type == CREATED and tx.actor.party is not None and event.record is not None and event.record.get("owner") is not None:
            ent = records.app.entity(event.entity)  # placed on the portal: the party's rep hears of it
            if ent.child:
                return
            title = event.record.get(ent.title_field) or event.record_id
            portal = users.portal_of(records.app, tx.actor.roles)
            party = records.titles_in(tx.conn, SYSTEM, portal.party_entity, {tx.actor.party}).get(tx.actor.party, "") if portal else ""
            said = Msg("%(who)s of %(party)s placed %(thing)s %(title)s on the portal", who=tx.actor.full_name or tx.actor.username,
                       party=party, thing=Msg.label(ent.label, lower=True), title=title)
            records.deliver_to(tx, [event.record["owner"]], ent, event.record_id, "portal", lambda hidden, lang: localize(said, lang),
                               channels=("in_app", "email"), event_id=event.id)
        elif event.type == DEADLINE_REACHED and event.data.get("notify"):
            ent = records.app.entity(event.entity)
            kind = "reminder" if event.data["kind"] == "reminder" else "escalation"
            said = event.data["message"]  # a Msg: said in each reader's language
            tx.told[event.id] = records.deliver(tx, event.data["notify"], ent, event.record, kind, lambda hidden, lang: localize(said, lang),
                                                channels=tuple(event.data.get("channels") or ("in_app",)), event_id=event.id)


BUILTINS = {"audit": Audit, "timeline": Timeline, "states": States, "notices": Notices}


def register(pm) -> None:
    """Register the built-in behaviours a customer plugin has not replaced (its module's REPLACES);
    MetadataInvalid (E047, with the plugin's file and line) when a REPLACES names no built-in behaviour."""
    replaced, problems = set(), []
    for plugin_name, plugin in pm.list_name_plugin():
        names = getattr(plugin, "REPLACES", None)
        if names is None:
            continue
        listed = isinstance(names, (list, tuple)) and all(isinstance(n, str) for n in names)
        wrong = [repr(n) for n in names if n not in BUILTINS] if listed else [repr(names)]
        if wrong:
            problems.append(_unknown(plugin_name, plugin, wrong))
        else:
            replaced.update(names)
    if problems:
        raise MetadataInvalid(problems)
    for name, cls in BUILTINS.items():
        if name not in replaced and pm.get_plugin("builtin." + name) is None:
            pm.register(cls(), name="builtin." + name)


def _unknown(plugin_name: str, module, wrong: list[str]) -> Problem:
    path = Path(getattr(module, "__file__", None) or plugin_name)
    line = 1
    try:
        for i, text in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if text.lstrip().startswith("REPLACES"):
                line = i
                break
    except OSError:
        pass
    return Problem("E047", shown_path(path), line, 1, f"REPLACES names {', '.join(wrong)}: not a built-in behaviour")
