"""Values as people read them: labels in their language, numbers and dates for their locale,
links as the linked record's title, and the audit trail as sentences."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal, InvalidOperation
from html import escape as _html_escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from markupsafe import Markup

from engine.metadata.model import App, Entity, Field, Label
from engine.web.i18n import Formatter


def _esc(text: str) -> str:
    return _html_escape(text, quote=True)


ACTIVITY_KINDS = {"transition": "workflow", "review": "workflow", "reassign": "workflow", "attach": "files", "detach": "files",
                  "comment": "comments", "comment_edit": "comments", "comment_delete": "comments"}  # any other action: a change


class Display:
    def __init__(self, app: App, lang: str, gettext, tz: str = "UTC"):
        self.app = app
        self.lang = lang
        self.fmt = Formatter(lang, tz)
        self._ = gettext

    def datetime_input(self, value) -> str:
        """A moment as a datetime-local input shows it: in the reader's time zone, to the minute."""
        if isinstance(value, str):  # as typed (back on the form after an error), or a moment with its offset
            try:
                moment = dt.datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
            except ValueError:
                return value
            if moment.tzinfo is None:  # typed in the user's zone already
                return moment.strftime("%Y-%m-%dT%H:%M")
            value = moment
        if value.tzinfo is None:  # from the database: UTC
            value = value.replace(tzinfo=dt.timezone.utc)
        try:
            zone = ZoneInfo(self.fmt.tz)
        except (ZoneInfoNotFoundError, ValueError):
            zone = ZoneInfo("UTC")
        return value.astimezone(zone).strftime("%Y-%m-%dT%H:%M")

    def label(self, label: Label | None, fallback: str = "") -> str:
        return label.get(self.lang) if label is not None else fallback

    def text(self, value) -> str:
        """A value of a metadata property in words: a label in this language, yes/no, a list, or — for nothing."""
        if value is None or value == "" or value == {}:
            return "—"
        if isinstance(value, dict):
            return Label.of(value).get(self.lang)
        if isinstance(value, bool):
            return self._("yes") if value else self._("no")
        if isinstance(value, (list, tuple)):
            return ", ".join(map(str, value))
        return str(value)

    def option(self, f: Field, value) -> str:
        for o in f.options:
            if o.value == value:
                return o.label.get(self.lang)
        return "" if value is None else str(value)

    def value(self, f: Field, value, titles: dict | None = None) -> str:
        """Display text of a stored (Python) value."""
        if value is None or value == "":
            return ""
        t = f.value_type
        if t == "select":
            return self.option(f, value)
        if t == "link":
            return (titles or {}).get(f.entity, {}).get(value, f"#{value}")
        if t == "user":
            return (titles or {}).get("@user", {}).get(value, f"#{value}")
        if t == "file":
            return (titles or {}).get("@file", {}).get(value) or self._("a file")
        if t == "decimal":
            return self.fmt.decimal(Decimal(value), f.scale if f.scale is not None else 2)
        if t == "integer":
            return self.fmt.integer(value)
        if t == "boolean":
            return self._("Yes") if value else self._("No")
        if t == "date":
            return self.fmt.date(value if isinstance(value, dt.date) else dt.date.fromisoformat(value))
        if t == "datetime":
            return self.fmt.datetime(value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        return str(value)

    def report_value(self, col: dict, value) -> str:
        """A figure of a report (engine.reports: decimals as text) in this language: 12,345.60; 1,234; 37.5 %."""
        if value is None:
            return "—"
        if col["type"] == "integer":
            return self.fmt.integer(int(value))
        if col["type"] == "decimal":
            text = str(value)
            places = len(text.split(".", 1)[1]) if "." in text else 0
            shown = self.fmt.decimal(Decimal(text), places)
            return f"{shown} %" if col.get("percent") else shown
        if col["type"] == "date":
            return self.fmt.date(dt.date.fromisoformat(str(value)[:10]))
        return str(value)

    def state_color(self, ent_name: str, f: Field, value) -> str | None:
        """The badge colour of a workflow state (None when the field holds no workflow's state)."""
        wf = self.app.workflows.get(ent_name)
        if wf is None or wf.state_field != f.name or value not in wf.states:
            return None
        return wf.states[value].color

    def sla_flag(self, flag: dict | None) -> Markup:
        """The at-risk / overdue marker shown beside a record's state (markup, its texts escaped)."""
        if not flag:
            return Markup("")
        text = self._("Overdue") if flag["flag"] == "overdue" else self._("At risk")
        due = self.fmt.datetime(flag["due"])
        kind = "overdue" if flag["flag"] == "overdue" else "at_risk"
        return Markup(f' <span class="flag flag-{kind}" title="{_esc(self._("Due %(when)s") % {"when": due})}">{_esc(text)}</span>')

    def list_rows(self, ent: Entity, columns: list[Field], rows: list[dict], titles: dict, select: bool = False,
                  flags: dict | None = None, back: str = "") -> list[Markup]:
        """The <td> cells of each list row, built here rather than by a template macro per cell
        (a list page has hundreds of cells). Each column gets its formatter and its cell's opening
        and closing markup once; text that can hold markup - text fields, link titles, option
        labels - goes through html.escape; numbers and dates are our own formatting. `back` (?list=...,
        escaped) follows each record's link: its page then offers the list's previous and next record."""
        back = _esc(back)
        plan = [self._cell_plan(ent, f, titles) for f in columns]
        wf = self.app.workflows.get(ent.name)
        flagged = wf.state_field if wf is not None and flags else None
        out = []
        for r in rows:
            cells = []
            for i, (name, show, head, tail) in enumerate(plan):
                v = r.get(name)
                text = "" if v is None or v == "" else show(v)
                if name == flagged and r["id"] in flags:
                    text += str(self.sla_flag(flags[r["id"]]))  # str: Markup's own + would escape the cell's markup again
                if i == 0:
                    rid = int(r["id"])
                    if select:  # a checkbox for bulk transitions, tied to the form above the table
                        cells.append(f'<td class="sel"><input type="checkbox" name="ids" value="{rid}" form="bulk" '
                                     f'aria-label="{self._("Select")} {text or "#" + str(rid)}"></td>')
                    text = f'<a href="/{ent.name}/{rid}{back}">{text or "#" + str(rid)}</a>'
                cells.append(head + text + tail)
            out.append(Markup("".join(cells)))
        return out

    def _cell_plan(self, ent: Entity, f: Field, titles: dict):
        """(field name, value -> escaped text, opening markup, closing markup) for one list column."""
        t = f.value_type
        label = _esc(self.label(f.label))
        if t == "select":
            options = {o.value: _esc(o.label.get(self.lang)) for o in f.options}

            def show(v):
                return options.get(v) or _esc(str(v))
            wf = self.app.workflows.get(ent.name)
            if wf is not None and f.name == wf.state_field:  # a state reads as a badge; its text says the state, not only its colour
                colors = {n: st.color for n, st in wf.states.items()}

                def badge(v):
                    return f'<span class="badge c-{colors.get(v, "grey")}">{show(v)}</span>'
                return f.name, badge, f'<td data-label="{label}">', "</td>"
            return f.name, show, f'<td data-label="{label}">', "</td>"
        if t in ("decimal", "integer"):
            return f.name, lambda v: self.value(f, v, titles), f'<td class="num" data-label="{label}"><span class="num">', "</span></td>"
        if t in ("date", "datetime", "boolean"):
            return f.name, lambda v: self.value(f, v, titles), f'<td data-label="{label}">', "</td>"
        if t == "link":
            known = titles.get(f.entity, {})
            return f.name, lambda v: _esc(known.get(v, f"#{v}")), f'<td data-label="{label}">', "</td>"
        return f.name, lambda v: _esc(self.value(f, v, titles)), f'<td data-label="{label}">', "</td>"

    def json_value(self, f: Field, value, titles: dict | None = None) -> str:
        """Display text of a value as stored in an audit entry (JSON form)."""
        if value is None:
            return "—"
        t = f.value_type
        try:
            if t == "decimal":
                return self.fmt.decimal(Decimal(value), f.scale if f.scale is not None else 2)
            if t == "date":
                return self.fmt.date(dt.date.fromisoformat(value))
            if t == "datetime":
                return self.fmt.datetime(dt.datetime.fromisoformat(value.replace("Z", "+00:00")))
        except (InvalidOperation, ValueError, TypeError):
            return str(value)
        return self.value(f, value, titles)

    def history(self, ent: Entity, entries: list[dict], titles: dict) -> list[dict]:
        """Each audit entry as a list of sentences (who did what, from what to what)."""
        _ = self._
        out = []
        for e in entries:  # the names of files a change kept or forgot (engine.files.fields), for its file fields
            for k, name in (e["changes"].get("files") or {}).items():
                titles.setdefault("@file", {})[int(k)] = name
        for e in entries:
            sentences = []
            ch = e["changes"]
            if e["action"] == "create":
                sentences.append(_("created this record"))
            elif e["action"] == "delete":
                sentences.append(_("deleted this record"))
            elif e["action"] == "review" and "review" in ch:
                r = ch["review"]
                role = self.app.roles.get(r["role"])
                said = _("approved") if r["decision"] == "approved" else _("rejected")
                sentences.append(_("gave the %(role)s opinion: %(decision)s") % {"role": self.label(role.label) if role else r["role"], "decision": said}
                                 + (f" — “{r['opinion']}”" if r.get("opinion") else ""))
            elif e["action"] == "reassign":
                sentences.append(_("passed the record to the owner's manager (deadline missed)"))
            elif e["action"] in ("attach", "detach") and "attachment" in ch:
                said = _("attached %(name)s") if e["action"] == "attach" else _("removed the file %(name)s")
                sentences.append(said % {"name": ch["attachment"].get("name", "")})
            elif e["action"] == "comment_delete":
                sentences.append(_("deleted a comment"))
            elif e["action"] == "import":
                sentences.append(_("imported records from %(file)s") % {"file": ch.get("file") or "?"})
            wf = self.app.workflows.get(ent.name)
            moved = ch.get("transition") if e["action"] == "transition" else None
            if moved is not None and wf is not None:
                t = wf.transitions.get(moved["name"])
                names = {n: self.label(st.label) for n, st in wf.states.items()}
                sentences.append(_("%(transition)s: %(from)s → %(to)s") % {
                    "transition": self.label(t.label) if t else moved["name"],
                    "from": names.get(moved["from"], moved["from"]), "to": names.get(moved["to"], moved["to"])})
                if moved.get("comment"):
                    sentences.append(_("commented: “%(comment)s”") % {"comment": moved["comment"]})
            if e["action"] in ("update", "transition"):
                for name, (old, new) in ch.get("fields", {}).items():
                    f = ent.fields.get(name)
                    if f is None or (moved is not None and wf is not None and name == wf.state_field):
                        continue
                    sentences.append(_("changed %(field)s from “%(old)s” to “%(new)s”") % {
                        "field": self.label(f.label), "old": self.json_value(f, old, titles), "new": self.json_value(f, new, titles)})
            for table, diff in ch.get("lines", {}).items():
                tf = ent.fields.get(table)
                if tf is None:
                    continue
                child = self.app.entity(tf.entity)
                for row in diff.get("added", []):
                    sentences.append(_("added a line: %(line)s") % {"line": self._line(child, row, titles)})
                for row in diff.get("removed", []):
                    sentences.append(_("removed a line: %(line)s") % {"line": self._line(child, row, titles)})
                for row in diff.get("changed", []):
                    for name, (old, new) in row["fields"].items():
                        f = child.fields.get(name)
                        if f is None or f.type == "computed":
                            continue
                        sentences.append(_("changed %(field)s on a line from “%(old)s” to “%(new)s”") % {
                            "field": self.label(f.label), "old": self.json_value(f, old, titles), "new": self.json_value(f, new, titles)})
            at = dt.datetime.fromisoformat(e["at"].replace("Z", "+00:00"))
            out.append({"actor": e["actor"], "actor_id": e.get("actor_id"), "via": e["via"], "action": e["action"], "when": at,
                        "at": self.fmt.datetime(at), "ago": self.fmt.ago(at), "sentences": sentences})
        return out

    def activity(self, ent: Entity, entries: list[dict], titles: dict, comments: list[dict] | None, names: dict, show: str | None = None):
        """One timeline of a record, newest first: its changes, workflow steps and opinions, files
        (from the audit trail) and its comments (as they are now), each in this language, with
        people's names - never login names, ids or the path a change came by - and times in the
        reader's zone. Returns (the items of kind `show`, or all; how many there are of each kind)."""
        _ = self._
        items = []
        for h in self.history(ent, entries, titles):
            if h["action"] in ("comment", "comment_edit") and comments is not None:
                continue  # the comment itself is in the timeline, as it reads now
            if not h["sentences"]:
                continue  # a change of fields this reader does not see
            who = names.get(h["actor_id"]) if h["actor_id"] is not None else _("System")
            items.append({"kind": ACTIVITY_KINDS.get(h["action"], "changes"), "who": who or _("Someone"), "when": h["when"], "at": h["at"],
                          "ago": h["ago"], "sentences": h["sentences"], "comment": None})
        for c in comments or []:
            when = dt.datetime.fromisoformat(c["created_at"].replace("Z", "+00:00"))
            items.append({"kind": "comments", "who": c["author"] or _("System"), "when": when, "at": self.fmt.datetime(when),
                          "ago": self.fmt.ago(when), "sentences": [], "comment": c})
        items.sort(key=lambda i: i["when"], reverse=True)
        counts = {k: sum(1 for i in items if i["kind"] == k) for k in ("changes", "workflow", "comments", "files")}
        counts["all"] = len(items)
        return ([i for i in items if i["kind"] == show] if show in counts and show != "all" else items), counts

    def _line(self, child: Entity, row: dict, titles: dict) -> str:
        parts = []
        for f in child.stored_fields():
            if f.type == "computed" or row.get(f.name) is None:
                continue
            parts.append(f"{self.label(f.label)} {self.json_value(f, row[f.name], titles)}")
        return ", ".join(parts[:4])

    def history_links(self, ent: Entity, entries: list[dict]) -> dict[str, set]:
        """Link ids mentioned in audit entries, by target entity, to look up their titles."""
        wanted: dict[str, set] = {}

        def note(f: Field, *values):
            if f is not None and f.type == "link":
                for v in values:
                    if isinstance(v, int):
                        wanted.setdefault(f.entity, set()).add(v)
        for e in entries:
            ch = e["changes"]
            for name, pair in ch.get("fields", {}).items():
                note(ent.fields.get(name), *pair)
            for table, diff in ch.get("lines", {}).items():
                tf = ent.fields.get(table)
                if tf is None:
                    continue
                child = self.app.entity(tf.entity)
                for row in diff.get("added", []) + diff.get("removed", []):
                    for name, v in row.items():
                        note(child.fields.get(name), v)
                for row in diff.get("changed", []):
                    for name, pair in row["fields"].items():
                        note(child.fields.get(name), *pair)
        return wanted
