"""Lists: filters per field type, sort, keyset pagination, capped counts and quick search.

Pages are walked with a row-value comparison over an index ending in `id`
(`(order_date, id) < (:v, :id)`), never OFFSET, so page 20,000 costs what page 1 costs.
NULLs sort where each database puts them (first on SQLite, last on PostgreSQL for an
ascending sort); when a page reaches the NULL part of the sort, a second index-friendly
query continues there instead of one OR that would defeat the index.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from sqlalchemy import and_, func, literal, select, tuple_
from sqlalchemy import column as sa_column
from sqlalchemy import table as sa_table

from engine.core.errors import BadRequest, ErrorCollector, Msg, message_of
from engine.core.values import BadValue, coerce, parse_id, to_json
from engine.metadata.model import Entity, Field, Label

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
COUNT_CAP = 1000
MAX_IN = 200
OPS = ("eq", "ne", "gt", "gte", "lt", "lte", "in", "contains", "startswith", "isnull")
_COMPARE = {"eq": lambda c, v: c == v, "ne": lambda c, v: c != v, "gt": lambda c, v: c > v, "gte": lambda c, v: c >= v,
            "lt": lambda c, v: c < v, "lte": lambda c, v: c <= v}  # built only for the operator asked (a yes/no column refuses <)
RESERVED_PARAMS = ("sort", "limit", "cursor", "q", "count")

_SYSTEM_FIELDS = {
    "id": Field("id", "integer", Label.of("ID")),
    "owner": Field("owner", "user", Label.of("Owner")),
    "created_by": Field("created_by", "user", Label.of("Created by")),
    "updated_by": Field("updated_by", "user", Label.of("Updated by")),
    "created_at": Field("created_at", "datetime", Label.of("Created at")),
    "updated_at": Field("updated_at", "datetime", Label.of("Updated at")),
    "version": Field("version", "integer", Label.of("Version")),
}
_NON_NULL = {"id", "owner", "created_at", "updated_at", "version"}


@dataclass
class ListQuery:
    filters: list[tuple[str, str, object]] = field(default_factory=list)
    sort: str | None = None
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None
    q: str | None = None
    exact_count: bool = False
    fields: tuple[str, ...] | None = None  # only these (plus id and the sort field); None: all
    with_titles: bool = False  # add `<link>__title` for link fields, joined in the same query

    @classmethod
    def from_params(cls, params) -> "ListQuery":
        """Build from query parameters (a multi-dict or a list of pairs)."""
        items = params.multi_items() if hasattr(params, "multi_items") else list(params)
        q = cls()
        errors = ErrorCollector()
        for key, value in items:
            if key == "sort":
                q.sort = value
            elif key == "limit":
                n = parse_id(value)
                if n is None or n > MAX_LIMIT:
                    errors.add("limit", "a whole number from 1 to %(most)s", most=MAX_LIMIT)
                else:
                    q.limit = n
            elif key == "cursor":
                q.cursor = value
            elif key == "q":
                q.q = value
            elif key == "count":
                if value not in ("exact", "capped"):
                    errors.add("count", "use count=exact for the exact number of matches")
                q.exact_count = value == "exact"
            else:
                name, _, op = key.partition("__")
                q.filters.append((name, op or "eq", value))
        errors.raise_if_any()
        return q


def field_for(ent: Entity, name: str) -> Field | None:
    if name in _SYSTEM_FIELDS and not ent.child:
        return _SYSTEM_FIELDS[name]
    f = ent.fields.get(name)
    return f if f is not None and f.stored else None


def filter_clauses(ent: Entity, table, filters, errors: ErrorCollector, hidden: frozenset = frozenset()) -> list:
    """`hidden`: fields this reader may not see, which they may not filter on either."""
    clauses = []
    for name, op, raw in filters:
        key = name if op == "eq" else f"{name}__{op}"
        f = field_for(ent, name) if name not in hidden else None
        if f is None:
            errors.add(key, "cannot filter on '%(name)s': not a stored field of %(entity)s", name=name, entity=ent.name)
            continue
        if op not in OPS:
            errors.add(key, "unknown operator '%(op)s'; use one of: %(ops)s", op=op, ops=", ".join(OPS))
            continue
        col = table.c[name]
        if f.value_type == "json":
            errors.add(key, "json fields cannot be filtered")
            continue
        if f.value_type == "file" and op != "isnull":
            errors.add(key, "a file field is filtered only by whether it holds a file: %(name)s__isnull=false", name=name)
            continue
        try:
            if op == "isnull":
                flag = coerce(Field("_", "boolean", f.label), raw, from_query=True)
                if flag is None:
                    raise BadValue("use true or false")
                clauses.append(col.is_(None) if flag else col.is_not(None))
            elif op == "in":
                parts = [p for p in str(raw).split(",")]
                if len(parts) > MAX_IN:
                    raise BadValue(Msg("at most %(n)s values", n=MAX_IN))
                values = [coerce(f, p, from_query=True) for p in parts]
                clauses.append(col.in_([v for v in values if v is not None]))
            elif op in ("contains", "startswith"):
                if f.value_type not in ("string", "text", "email", "phone", "url", "select"):
                    raise BadValue(Msg("'%(op)s' works on text fields only", op=op))
                s = str(raw)
                if "\x00" in s:
                    raise BadValue("text must not contain NUL characters")
                if op == "contains":
                    clauses.append(col.icontains(s, autoescape=True))
                else:
                    clauses.append(col.istartswith(s, autoescape=True))
            else:
                if f.value_type == "boolean" and op not in ("eq", "ne"):
                    raise BadValue(Msg("a yes/no field is compared with eq or ne only: %(name)s=true", name=name))
                v = coerce(f, raw, from_query=True)
                if v is None:
                    clauses.append(col.is_(None) if op == "eq" else col.is_not(None))
                else:
                    clauses.append(_COMPARE[op](col, v))
        except BadValue as exc:
            errors.add(key, message_of(exc))
    return clauses


def search_clause(ent: Entity, table, q: str | None, dialect: str = "sqlite"):
    """Quick search: a case-insensitive substring of the search fields, answered from the
    trigram index (FTS5 on SQLite, pg_trgm on PostgreSQL) for 3+ characters."""
    if not q or not q.strip():
        return None
    if "search_text" not in table.c:
        raise BadRequest(Msg("%(entity)s has no search fields; filter with field__contains=... instead", entity=ent.name))
    needle = q.strip().casefold()[:200]
    if "\x00" in needle:
        raise BadRequest("search text must not contain NUL characters")
    like = table.c.search_text.contains(needle, autoescape=True)
    if dialect == "sqlite" and len(needle) >= 3:
        from engine.storage.search_index import fts_name
        fts = sa_table(fts_name(table.name), sa_column("rowid"), sa_column("search_text"))
        phrase = '"' + needle.replace('"', '""') + '"'  # a bound FTS5 phrase: any substring, quotes doubled
        return table.c.id.in_(select(fts.c.rowid).where(fts.c.search_text.op("MATCH")(phrase)))
    return like


def search_text(ent: Entity, values: dict) -> str | None:
    """What quick search looks in: the search fields' values and, for selects, their labels."""
    if not ent.search_fields:
        return None
    parts = []
    for name in ent.search_fields:
        v = values.get(name)
        if v is None:
            continue
        parts.append(str(v))
        f = ent.fields[name]
        if f.type == "select":
            for o in f.options:
                if o.value == v:
                    parts.extend(o.label.texts.values())
    return "\n".join(parts).casefold()


@dataclass
class SortSpec:
    name: str
    desc: bool
    nullable: bool


def sort_spec(ent: Entity, sort: str | None, errors: ErrorCollector, hidden: frozenset = frozenset()) -> SortSpec:
    if sort is None:
        name, desc = ent.default_sort[0]
        if name in hidden:
            return SortSpec("id", True, False)
    else:
        if "," in sort:
            errors.add("sort", "sort by one field (the id breaks ties), e.g. sort=-total")
            return SortSpec("id", False, False)
        name, desc = sort.lstrip("-"), sort.startswith("-")
    f = field_for(ent, name) if name not in hidden else None
    if f is None or f.value_type in ("json", "file"):
        errors.add("sort", "cannot sort by '%(name)s'; sortable: %(names)s", name=name, names=", ".join(n for n in sortable_fields(ent) if n not in hidden))
        return SortSpec("id", False, False)
    return SortSpec(name, desc, name not in _NON_NULL)


def sortable_fields(ent: Entity) -> list[str]:
    return [n for n in (*_SYSTEM_FIELDS, *ent.fields) if (f := field_for(ent, n)) is not None and f.value_type not in ("json", "file")]


def encode_cursor(spec: SortSpec, value, row_id: int) -> str:
    raw = json.dumps([spec.name, spec.desc, to_json("", value), row_id], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(ent: Entity, spec: SortSpec, cursor: str):
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, desc, value, row_id = json.loads(raw)
        if name != spec.name or desc != spec.desc or not isinstance(row_id, int):
            raise ValueError
        f = field_for(ent, name)
        if value is not None:
            value = coerce(f, value if not isinstance(value, (int, float)) or f.value_type in ("integer", "link", "user") else str(value), from_query=True)
        return value, row_id
    except (ValueError, TypeError, BadValue, UnicodeDecodeError):
        raise BadRequest("the cursor is not valid for this list and sort; start again without a cursor") from None


def nulls_after(dialect: str, desc: bool) -> bool:
    """Whether NULLs come after the other values in this sort direction on this database."""
    nulls_largest = dialect == "postgresql"
    return nulls_largest != desc


def page_conditions(table, spec: SortSpec, dialect: str, cursor_value, cursor_id):
    """The WHERE conditions for the page after the cursor: a list of one or two queries' worth,
    walked in order (the second continues into the NULL part of the sort)."""
    col, idc = table.c[spec.name], table.c.id
    after = nulls_after(dialect, spec.desc) and spec.nullable
    if cursor_value is None and cursor_id is None:
        return [None]
    if cursor_value is None:  # inside the NULL part
        in_nulls = and_(col.is_(None), idc < cursor_id if spec.desc else idc > cursor_id)
        if after or not spec.nullable:
            return [in_nulls]
        return [in_nulls, col.is_not(None)]
    row = tuple_(col, idc)
    # bind with the columns' types, so exact decimals are stored-form on SQLite too
    at = tuple_(literal(cursor_value, col.type), literal(cursor_id, idc.type))
    cmp = row < at if spec.desc else row > at
    if after:
        return [cmp, col.is_(None)]
    return [cmp]


def order_by(table, spec: SortSpec):
    col, idc = table.c[spec.name], table.c.id
    return [col.desc(), idc.desc()] if spec.desc else [col.asc(), idc.asc()]


def capped_count(conn, table, where, exact: bool) -> tuple[int, bool]:
    if exact:
        return conn.execute(select(func.count()).select_from(table).where(*where)).scalar_one(), True
    inner = select(table.c.id).where(*where).limit(COUNT_CAP + 1).subquery()
    n = conn.execute(select(func.count()).select_from(inner)).scalar_one()
    return (COUNT_CAP, False) if n > COUNT_CAP else (n, True)
