"""The App model: frozen dataclasses built by the loader. Nothing after the loader sees YAML."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property
from types import MappingProxyType
from typing import Any, Mapping

from engine.expressions.language import Expr

SYSTEM_COLUMNS = ("id", "owner", "created_at", "created_by", "updated_at", "updated_by", "version")
CHILD_SYSTEM_COLUMNS = ("id", "parent_id", "idx")
RESERVED_NAMES = frozenset(SYSTEM_COLUMNS + CHILD_SYSTEM_COLUMNS + ("search_text", "user", "record", "lines_", "cursor", "sort", "limit", "q", "count"))

# entity names that would clash with the screens' and the API's own paths
RESERVED_ENTITY_NAMES = frozenset({"portal", "password", "welcome", "forms", "reports", "dashboard", "api", "auth", "login", "logout", "static", "healthz", "settings", "permissions", "account", "reviews", "notifications", "events", "connectors", "hooks", "jobs", "imports", "files", "attachments", "comments"})

FIELD_TYPES = ("string", "text", "integer", "decimal", "boolean", "date", "datetime", "select", "link", "table",
               "user", "email", "phone", "url", "json", "computed", "file")


@dataclass(frozen=True)
class Label:
    """A label given as one string or per language; `get` falls back to English, then any."""

    texts: Mapping[str, str]

    def get(self, lang: str = "en") -> str:
        t = self.texts
        if lang in t:
            return t[lang]
        base = lang.split("-")[0]
        if base in t:
            return t[base]
        if "en" in t:
            return t["en"]
        return next(iter(t.values()), "")

    @staticmethod
    def of(value, fallback: str = "") -> "Label":
        if value is None:
            return Label(MappingProxyType({"en": fallback}))
        if isinstance(value, str):
            return Label(MappingProxyType({"en": value}))
        return Label(MappingProxyType(dict(value)))

    def as_dict(self) -> dict:
        return dict(self.texts)


@dataclass(frozen=True)
class Option:
    value: str
    label: Label


@dataclass(frozen=True)
class Series:
    """A naming series such as SO-{YYYY}-{#####}: prefix parts and a counter width."""

    pattern: str
    digits: int


@dataclass(frozen=True)
class Source:
    """Where a fill looks: rows of `entity` whose fields equal the current record's values
    (`match`: lookup field -> name in the record or its parent), newest by `latest` first."""

    entity: str
    match: tuple[tuple[str, str], ...]
    take: str
    latest: str | None = None


@dataclass(frozen=True)
class Fill:
    on: tuple[str, ...]
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class Show:
    """Rows of another entity shown beside a link field (e.g. stock per warehouse of a product)."""

    entity: str
    match: tuple[tuple[str, str], ...]
    columns: tuple[str, ...]
    label: Label | None = None


@dataclass(frozen=True)
class Field:
    name: str
    type: str
    label: Label
    help: Label | None = None
    required: bool = False
    unique: bool = False
    indexed: bool = False
    read_only: bool = False
    immutable_once_set: bool = False  # once it has a value, nothing changes it (a signing time)
    searchable: bool = False
    default: Any = None
    default_expr: Expr | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    precision: int | None = None
    scale: int | None = None
    options: tuple[Option, ...] = ()
    entity: str | None = None
    display_field: str | None = None
    expression: Expr | None = None
    result: str | None = None
    series: Series | None = None
    fill: Fill | None = None
    show: Show | None = None
    accepts: "AttachmentRules | None" = None  # a file field: its size limit and kinds (max_count unused)
    placeholder: Label | None = None  # set by a form
    widget: str | None = None  # set by a form
    line: int = 0

    @property
    def value_type(self) -> str:
        """The type of the stored value: a computed field stores its result type."""
        return self.result if self.type == "computed" else self.type

    @property
    def stored(self) -> bool:
        return self.type != "table"

    def option_values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)


@dataclass(frozen=True)
class Rule:
    check: Expr
    message: Label
    field: str | None = None


@dataclass(frozen=True)
class Entity:
    name: str
    label: Label
    label_plural: Label
    fields: Mapping[str, Field]
    child: bool = False
    parent: str | None = None  # for child entities: the parent entity
    parent_field: str | None = None  # the parent's table field that holds these rows
    title_field: str | None = None
    search_fields: tuple[str, ...] = ()
    default_sort: tuple[tuple[str, bool], ...] = (("created_at", True),)  # (field, descending)
    indexes: tuple[tuple[str, ...], ...] = ()
    duplicates: tuple[tuple[str, ...], ...] = ()  # field sets that may not repeat another record's (case and spaces aside)
    co_owners: tuple[str, ...] = ()  # user fields whose user owns the record too (`own` scope)
    list_columns: tuple[str, ...] = ()
    list_filters: tuple[str, ...] = ()
    rules: tuple[Rule, ...] = ()
    computed_order: tuple[str, ...] = ()
    attachments: AttachmentRules | None = None  # None: its records take no files
    comments: bool = False  # its records take comments
    documents: tuple[Document, ...] = ()  # what its records print as (PDF)
    views: Mapping[str, "TimeView"] = field(default_factory=dict)  # calendar, gantt
    file: str = ""

    def field(self, name: str) -> Field:
        return self.fields[name]

    def stored_fields(self) -> tuple[Field, ...]:
        return self._stored

    def table_fields(self) -> tuple[Field, ...]:
        return self._tables

    def file_fields(self) -> tuple[Field, ...]:
        return self._files

    @cached_property
    def _stored(self) -> tuple[Field, ...]:  # asked for on every write and read: worked out once per (frozen) entity
        return tuple(f for f in self.fields.values() if f.stored)

    @cached_property
    def _files(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields.values() if f.type == "file")

    @cached_property
    def _tables(self) -> tuple[Field, ...]:
        return tuple(f for f in self.fields.values() if f.type == "table")


@dataclass(frozen=True)
class FormField:
    """A field as one form shows it: its own label, help, placeholder and widget if given."""

    name: str
    label: Label | None = None
    help: Label | None = None
    placeholder: Label | None = None
    widget: str | None = None
    visible_when: Expr | None = None  # shown only while true
    required_when: Expr | None = None  # must have a value while true (and shown) - on screens, the API and imports alike
    readonly_when: Expr | None = None  # cannot change while true
    required_message: Label | None = None
    required: bool = False  # needs a value whenever shown (on this form: the entity may not require it)


@dataclass(frozen=True)
class FormSection:
    label: Label | None
    columns: int
    fields: tuple[FormField, ...]
    tab: int | None = None  # index into Form.tabs
    visible_when: Expr | None = None
    roles: tuple[str, ...] = ()  # shown only to users with one of these roles (inherited roles count)
    states: tuple[str, ...] = ()  # shown only while the record's workflow state is one of these


@dataclass(frozen=True)
class PublicForm:
    """A form anyone may submit without an account (`public:`), at /forms/{name}: its texts, the values every
    submission gets (`set`), and how many a day one client address (and everyone together) may send."""
    intro: Label | None = None
    done: Label | None = None
    set: Mapping[str, Any] = field(default_factory=dict)
    per_address: int = 5
    per_day: int = 500
    state: str | None = None  # the workflow state a submission starts in (default: the workflow's first)


@dataclass(frozen=True)
class Form:
    name: str
    entity: str
    label: Label | None
    sections: tuple[FormSection, ...]
    tabs: tuple[Label, ...] = ()
    file: str = ""
    hidden: tuple[str, ...] = ()  # fields left off the form (and the record page); their values stay
    public: PublicForm | None = None  # submitted by anyone at /forms/{name}, through the record service as a system actor

    def field_names(self) -> list[str]:
        return [f.name for s in self.sections for f in s.fields]


@dataclass(frozen=True)
class MenuModule:
    label: Label
    icon: str | None
    items: tuple[str, ...]


ACTIONS = ("read", "create", "update", "delete", "export", "import")
FIELD_LEVELS = ("hidden", "read_only", "editable")  # least to most permissive
SCOPE_WORDS = ("none", "own", "team", "all")


@dataclass(frozen=True)
class Grant:
    """One line of a role's permissions: `action` on `entity` within `scope`, where scope is one
    of SCOPE_WORDS or `condition` (an expression over `record` and `user`)."""

    role: str
    entity: str  # or "*"
    action: str  # or "*"
    scope: str  # none | own | team | all | the condition's source
    condition: Expr | None = None
    where: str = ""  # file:line, for explanations

    @property
    def rule(self) -> str:
        return f"{self.role}: {self.entity}.{self.action} = {self.scope}"


@dataclass(frozen=True)
class Document:
    """A printable document of an entity's records: an HTML+CSS template of the app rendered to PDF;
    with several templates, the first whose `when` holds for the record (None: always)."""
    name: str
    label: Label
    templates: tuple = ()  # ((Expr | None, absolute Path), ...)


@dataclass(frozen=True)
class AttachmentRules:
    """What files an entity's records take (`attachments:` in its metadata)."""
    max_bytes: int | None = None  # None: ENGINE_ATTACHMENT_MAX_MB (default 25 MB)
    types: tuple[str, ...] = ()  # file endings (.pdf) and content types (application/pdf, image/*); empty: any
    max_count: int | None = None  # the most files one record may have


@dataclass(frozen=True)
class TimeView:
    """A calendar or a Gantt chart of an entity's records (`views:`): each record from `start` (to `end`), titled by its
    `title` fields, coloured by `color` (a choice: a workflow's states have theirs), in rows by `group` (a Gantt's), with an
    arrow from the record a link `depends_on` names (a Gantt's)."""
    kind: str  # calendar, gantt
    start: str
    end: str | None = None
    title: tuple[str, ...] = ()
    color: str | None = None
    group: str | None = None
    depends_on: str | None = None


@dataclass(frozen=True)
class FieldRule:
    role: str
    entity: str
    field: str
    level: str  # one of FIELD_LEVELS
    where: str = ""


@dataclass(frozen=True)
class Portal:
    """A portal role's party (roles.yaml `portal:`): its users are contacts of one record of `party_entity` (user.party),
    shut out while that record's boolean `party_active` field is false; `home` lists the entities the portal opens with."""
    party_entity: str
    party_active: str | None = None
    home: tuple[str, ...] = ()


@dataclass(frozen=True)
class Role:
    name: str
    label: Label
    inherits: tuple[str, ...] = ()
    admin: bool = False
    grants: tuple[Grant, ...] = ()
    field_rules: tuple[FieldRule, ...] = ()
    integration: bool = False  # an integration account: may read the event feed (GET /api/v1/events)
    portal: Portal | None = None  # a customer's, supplier's or partner's role: /portal only, records of their party


STATE_CATEGORIES = ("draft", "active", "done", "cancelled")
FINAL_CATEGORIES = ("done", "cancelled")
CHANNELS = ("in_app", "email", "sms")  # how people hear of a workflow step: the bell, an e-mail, a text message
RELATIONS = ("owner", "owner_manager", "owner_managers")
REVIEW_RULES = ("all", "any", "any_reject", "at_least")


@dataclass(frozen=True)
class Review:
    """Review tasks a state opens for several roles at once (countersign), and when it is complete.

    rule: `all` waits for every opinion (approved if none rejects), `any_reject` ends at the first
    rejection, `any` ends at the first approval, `at_least` N approvals end it approved."""

    roles: tuple[str, ...]
    rule: str = "all"  # all | any | any_reject | at_least
    at_least: int = 0
    on_approved: str | None = None  # transition fired automatically when the outcome is reached
    on_rejected: str | None = None


@dataclass(frozen=True)
class Escalation:
    after_minutes: int  # after the deadline (0: at the deadline)
    notify: tuple[str, ...] = ()  # roles or relations (owner, owner_manager)
    channels: tuple[str, ...] = ("in_app",)  # how they hear of it (CHANNELS)
    reassign: str | None = None  # owner_manager: the record passes to the owner's manager
    fire: str | None = None  # a transition fired automatically


@dataclass(frozen=True)
class Reminder:
    before_minutes: int
    notify: tuple[str, ...]
    channels: tuple[str, ...] = ("in_app",)


@dataclass(frozen=True)
class Sla:
    """How long a record may stay in a state; `working_hours` counts only the app's working time."""

    deadline_minutes: int
    working_hours: bool = False
    at_risk_minutes: int = 0  # flagged 'at risk' this long before the deadline
    reminders: tuple[Reminder, ...] = ()
    escalations: tuple[Escalation, ...] = ()


@dataclass(frozen=True)
class Reduction:
    """Notify roles when a record in this state loses lines or quantity (production planning)."""

    table: str
    quantity: str
    notify: tuple[str, ...]


@dataclass(frozen=True)
class Notify:
    """A transition's notify action: who hears of it and the message (a sandboxed Jinja template per language)."""

    to: tuple[str, ...]
    message: Label
    channels: tuple[str, ...] = ("in_app",)  # how they hear of it (CHANNELS)
    subject: Label | None = None  # an e-mail's subject (a template per language); None: the record and the step


@dataclass(frozen=True)
class WorkingHours:
    timezone: str = "UTC"
    days: tuple[int, ...] = (0, 1, 2, 3, 4)  # Monday = 0
    start_minute: int = 9 * 60
    end_minute: int = 18 * 60
    holidays: frozenset = frozenset()  # dates


@dataclass(frozen=True)
class State:
    name: str
    label: Label
    color: str = "grey"
    category: str = "active"
    lock: bool = False  # no change at all while in this state
    editable: tuple[str, ...] | None = None  # None: every field; else only these
    review: Review | None = None
    sla: Sla | None = None
    reduction: Reduction | None = None
    portal: Label | None = None  # what a customer (supplier, partner) on the portal is told while the record is here


@dataclass(frozen=True)
class Transition:
    name: str
    label: Label
    sources: tuple[str, ...]
    target: str
    roles: tuple[str, ...] = ()
    relations: tuple[str, ...] = ()  # owner, owner_manager (direct), owner_managers (anyone above the owner)
    guard: Expr | None = None
    guard_message: Label | None = None
    inputs: Mapping[str, Field] = field(default_factory=dict)
    sets: Mapping[str, Expr] = field(default_factory=dict)
    stamp_at: str | None = None
    stamp_by: str | None = None
    where: str = ""
    notify: tuple[Notify, ...] = ()
    portal_user: tuple[str, str, str | None] | None = None  # create_portal_user: the record's (email, name, language) fields


@dataclass(frozen=True)
class Reapproval:
    """When a key field (or a table of lines) changes in one of `sources`, the record goes back to `target`."""

    key_fields: tuple[str, ...]
    sources: tuple[str, ...]
    target: str
    label: Label


@dataclass(frozen=True)
class Workflow:
    name: str
    label: Label
    entity: str
    state_field: str
    initial: str
    states: Mapping[str, State]
    transitions: Mapping[str, Transition]
    file: str = ""
    reapproval: Reapproval | None = None


CONNECTOR_EVENTS = ("created", "updated", "deleted", "transitioned")


@dataclass(frozen=True)
class Trigger:
    """When a connector acts: an event of an entity (a transition into `to` only, with `to`), and a
    condition on the record (`when`, in the expression dialect)."""

    entity: str
    event: str  # one of CONNECTOR_EVENTS
    to: str | None = None
    when: Expr | None = None


@dataclass(frozen=True)
class Retry:
    """How a failed delivery is tried again: after first_delay seconds, each wait `factor` times the
    last (at most max_delay, with up to 20 % jitter), until max_attempts; then the delivery is dead.
    The defaults retry within seconds and give up after about a day."""

    first_delay: float = 5.0
    factor: float = 2.0
    max_delay: float = 3600.0
    max_attempts: int = 30


@dataclass(frozen=True)
class Connector:
    """A connection to a system outside, declared in connectors/<name>.yaml. `settings` are the type's
    own (for `rest`: base_url, path, method, headers, body, sign, response), with ${VAR} references
    still in them; `missing` names the variables they need that are not set: the connector is off."""

    name: str
    type: str
    label: Label
    file: str
    triggers: tuple[Trigger, ...] = ()
    settings: Mapping[str, Any] = field(default_factory=dict)
    retry: Retry = field(default_factory=Retry)
    timeout: float = 10.0
    missing: tuple[str, ...] = ()
    channel: bool = False  # an email or sms connector that carries the workflows' notifications on its channel
    type_at: tuple[int, int] = (1, 1)  # line and column of `type:`, for a type no adapter provides (E049)

    @property
    def enabled(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class ReportFilter:
    field: str
    default: Any = None  # a value, or for a date a period (engine.metadata.reports.DATE_RANGES)


@dataclass(frozen=True)
class Dimension:
    """A group of a report: a field's values, or a date's buckets (`by`: day, week, month, quarter, year)."""
    name: str  # the result's column
    field: str
    type: str  # the field's value type
    by: str | None
    label: Label
    entity: str | None = None  # a link's target


@dataclass(frozen=True)
class Measure:
    """A figure of a report: count, sum, avg, min or max of `field` (where `where` holds), or the ratio of two others."""
    name: str
    label: Label
    agg: str
    field: str | None
    result: str  # the value type of the figure
    where: Expr | None = None
    ratio: tuple[str, str] | None = None
    percent: bool = False
    scale: int | None = None
    expression: Expr | None = None  # what sum, avg, min or max add up, when it is not one field


@dataclass(frozen=True)
class Report:
    """reports/<name>.yaml: figures over one entity's records, within each reader's scope (engine.reports)."""
    name: str
    label: Label
    source: str
    measures: tuple[Measure, ...]
    group_by: tuple[Dimension, ...] = ()
    filters: tuple[ReportFilter, ...] = ()
    roles: tuple[str, ...] | None = None  # None: anyone who may read the source
    sort: tuple[str, bool] | None = None  # (column, descending)
    limit: int | None = None
    chart: str = "bar"
    description: Label | None = None
    file: str = ""
    facts: str | None = None  # history, deadlines or reviews: the rows its workflow left, each of one record
    lines: str | None = None  # a table field of the source: its lines are the rows added up, within their records' scope

    def fields(self) -> frozenset:
        """Every field of the source the report names: to filter, to group, to add up, in a condition."""
        names = {f.field for f in self.filters} | {d.field for d in self.group_by}
        for m in self.measures:
            names |= {m.field} if m.field else set()
            names |= set(m.where.names) if m.where is not None else set()
            names |= set(m.expression.names) if m.expression is not None else set()
        return frozenset(names)


@dataclass(frozen=True)
class Card:
    """A card of a dashboard: a report's figure (`number`, with the previous period when `compare`), a report's chart,
    or a short list of an entity's records."""
    kind: str  # number, chart, list
    label: Label | None
    width: int  # in columns of the dashboard's grid, 1-3
    report: str | None = None
    measure: str | None = None
    compare: bool = False
    entity: str | None = None
    filters: tuple[tuple[str, str], ...] = ()
    sort: str | None = None
    limit: int = 5


@dataclass(frozen=True)
class Dashboard:
    """dashboards/<name>.yaml: cards, each within the viewer's scope; `roles` it is for (None: anyone)."""
    name: str
    label: Label
    roles: tuple[str, ...] | None
    cards: tuple[Card, ...]
    file: str = ""


@dataclass(frozen=True)
class App:
    name: str
    label: Label
    root: str
    languages: tuple[str, ...]
    default_language: str
    entities: Mapping[str, Entity]
    forms: Mapping[str, Form]
    plugins_dir: str | None = None
    menu: tuple[MenuModule, ...] = ()
    roles: Mapping[str, Role] = field(default_factory=dict)  # empty: no roles.yaml, every user may do everything
    workflows: Mapping[str, Workflow] = field(default_factory=dict)  # by entity name
    user_fields: Mapping[str, Field] = field(default_factory=dict)  # extra attributes of users (user.region)
    working_hours: WorkingHours = field(default_factory=WorkingHours)
    connectors: Mapping[str, Connector] = field(default_factory=dict)
    reports: Mapping[str, Report] = field(default_factory=dict)
    dashboards: Mapping[str, Dashboard] = field(default_factory=dict)
    fingerprint: str = field(default="", compare=False)
    warnings: tuple = ()  # problems (W codes) `run.py check` shows without refusing the app
    overlay_conflicts: tuple = ()  # admin changes (engine.metadata.overlay.Conflict) set aside because they no longer fit

    def entity(self, name: str) -> Entity:
        return self.entities[name]

    def top_entities(self) -> list[Entity]:
        return [e for e in self.entities.values() if not e.child]

    def navigation(self) -> list[MenuModule]:
        """The menu: the declared modules, then any entity they leave out (nothing is hidden)."""
        listed = {n for m in self.menu for n in m.items}
        rest = tuple(e.name for e in self.top_entities() if e.name not in listed)
        if not self.menu:
            return [MenuModule(self.label, None, rest)]
        return list(self.menu) + ([MenuModule(Label.of({"en": "More", "zh": "更多", "ru": "Ещё"}), None, rest)] if rest else [])
