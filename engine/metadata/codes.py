"""Stable problem codes for metadata checking: each code has a title and a hint on how to fix it.

Codes never change meaning; new checks get new codes. docs/metadata.md lists them all and
tests/fixtures/invalid/<CODE>/ holds one app that triggers each.
"""
from __future__ import annotations

from dataclasses import dataclass

CODES: dict[str, tuple[str, str]] = {
    "E001": ("YAML syntax error", "check indentation, colons and quotes on this line"),
    "E002": ("duplicate key", "remove or rename one of the two keys; YAML would silently keep the last"),
    "E003": ("unknown property", "check the spelling against docs/metadata.md; unknown keys are never ignored"),
    "E004": ("missing required property", "add the property; docs/metadata.md lists what each document needs"),
    "E005": ("wrong type", "give a value of the type shown, e.g. true/false, a number or a list"),
    "E006": ("value not allowed", "use one of the allowed values or a value in the allowed range"),
    "E007": ("invalid name", "names are snake_case: a lowercase letter, then lowercase letters, digits or _"),
    "E010": ("file name does not match the document", "name the file after the document's name, e.g. entities/customer.yaml for name: customer"),
    "E011": ("defined twice", "each entity, form and option value exists once; remove or rename one"),
    "E012": ("unknown entity", "link and table fields must name an entity defined under entities/"),
    "E013": ("table field needs a child entity", "a table field names an entity with child: true, and child entities cannot have tables of their own"),
    "E014": ("property does not fit the field type", "see the field type's section in docs/metadata.md for the properties it takes"),
    "E015": ("unknown field", "name a field defined in the entity's fields"),
    "E016": ("form for an unknown entity", "a form's entity must be defined under entities/"),
    "E017": ("form names an unknown field", "list only fields of the form's entity"),
    "E018": ("field listed twice in a form", "each field appears once on a form"),
    "E019": ("child entity without exactly one parent", "a child entity is used by exactly one table field of one parent entity"),
    "E020": ("expression syntax error", "expressions use Python syntax: quantity * unit_price, status == 'draft'"),
    "E021": ("not allowed in expressions", "expressions may use fields, constants, operators, if-else and the function table only"),
    "E022": ("unknown name in expression", "use the entity's field names, table.field for line items, or user.<attribute>"),
    "E023": ("unknown function or wrong arguments", "see the function table in docs/metadata.md"),
    "E024": ("default does not fit the field", "give a default of the field's type, or use default_expr"),
    "E025": ("reserved field name", "these names are used by every record: pick another name"),
    "E026": ("invalid naming series", "a series looks like SO-{YYYY}-{#####}: text, date parts {YYYY} {YY} {MM} {DD}, and one counter {#...}"),
    "E027": ("computed fields depend on each other in a cycle", "break the cycle: a computed field cannot use itself, directly or through others"),
    "E028": ("inconsistent constraints", "check that min <= max, min_length <= max_length, scale <= precision and the pattern is a valid regular expression"),
    "E029": ("plugin could not be loaded", "fix the Python error in the plugin module named here"),
    "E030": ("no entities", "an app folder needs an entities/ folder with at least one entity file"),
    "E031": ("unknown role", "name a role defined under roles: in roles.yaml"),
    "E032": ("roles inherit in a cycle", "a role cannot inherit from itself, directly or through others"),
    "E033": ("field cannot be hidden", "a field that quick search covers or that titles the record is shown wherever the record is; restrict who reads the entity instead"),
    "E034": ("co-owner is not a user field", "co_owners lists fields of type user on the same entity"),
    "E035": ("secret written in the metadata", "write it as a reference to an environment variable, like default: ${SUPPLIER_API_TOKEN}, and set that variable where the app runs"),
    "E036": ("environment variable not set", "set the variable where the app runs (and in CI), or change the ${NAME} reference"),
    "E037": ("workflow for an unknown entity or state field", "a workflow names a top-level entity and one of its select fields as state_field"),
    "E038": ("unknown state", "states are the options of the state field, each listed once under states:"),
    "E039": ("unreachable state", "add a transition into the state, or remove the state"),
    "E040": ("dead end", "add a transition out of the state, or give it category done or cancelled"),
    "E041": ("transition out of a final state", "a done or cancelled state ends the workflow: give it another category or remove the transition"),
    "E042": ("review cannot complete", "a review names roles from roles.yaml, an at_least no larger than its roles, and on_approved/on_rejected transitions that leave its state"),
    "E043": ("deadline problem", "an SLA's reminders come before the deadline, escalations fire transitions that leave the state, notify names roles, owner, owner_manager or a user field of the record, and its channels are carried by a connector"),
    "E044": ("working hours problem", "give a timezone from the IANA database (e.g. Asia/Shanghai) and an end later than the start"),
    "E045": ("admin change does not fit", "the form designer lists the change; open the form there, check it and save, or discard the change"),
    "E046": ("required field left off the form", "a field the entity requires needs a place on the form, unless it has a default or is filled automatically"),
    "E047": ("plugin replaces an unknown behaviour", "REPLACES is a list of the names of built-in behaviours: audit, timeline, states, notices"),
    "E048": ("connector problem", "a connector names top-level entities, the events created, updated, deleted or transitioned (to: a state of the workflow), templates that compile, and fields it may write back; see docs/connectors.md"),
    "E049": ("unknown connector type", "use rest, email, sms or webhook, or a type a plugin adds through the connector_types hook"),
    "E051": ("document template missing", "name an .html file inside the app folder, e.g. documents/order_confirmation.html"),
    "E052": ("document template does not compile", "fix the Jinja syntax at the line named (a tag left open, an unknown tag, a stray }}); the template is checked when the app starts, not when someone prints"),
    "E053": ("report problem", "a report adds up a top-level entity's records: name its fields to filter and group by, numbers to sum and average, measures a ratio divides, a column to sort by, roles of roles.yaml; see docs/reports.md"),
    "E054": ("dashboard problem", "a card names a report (and one of its measures for a number) or a top-level entity with its fields for a list; roles come from roles.yaml; see docs/reports.md"),
    "E055": ("portal role problem", "a portal role (`portal: {party_entity: ...}`) names a top-level entity as its party, inherits only portal roles of the same party, is no admin or integration role and grants on named entities only; only portal roles may use user.party; see docs/portal.md"),
    "E056": ("public form problem", "a public form (`public:` on a form) names only fields of its entity on its sections and under `set`, with values of their types, and every required field without a default is on the form or set; see docs/portal.md"),
    "W001": ("a portal role may see other parties' records", "give the scope a condition on user.party (record.customer == user.party), or leave it as it is if every party may see these records (a catalogue)"),
    "E050": ("attachments or comments on a child entity", "give `attachments:` or `comments:` to the parent entity: files and comments attach to the record as a whole"),
}


@dataclass(frozen=True)
class Problem:
    code: str
    file: str
    line: int
    col: int
    message: str
    path: str = ""
    hint: str = ""

    def format(self) -> str:
        where = f" (at {self.path})" if self.path else ""
        hint = self.hint or CODES.get(self.code, ("", ""))[1]
        return f"{self.file}:{self.line}:{self.col}: {self.code} {self.message}{where}" + (f" - hint: {hint}" if hint else "")


class MetadataInvalid(Exception):
    """Raised when an app's metadata has problems; carries all of them."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.col, p.code))
        super().__init__(f"{len(self.problems)} problem(s) in metadata:\n" + "\n".join(p.format() for p in self.problems))
