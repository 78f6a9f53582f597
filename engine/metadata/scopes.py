"""What an expression in an entity's or a form's document may name: the entity's fields as
declared (a field that failed its own checks still counts, so an expression using it is not
reported again), `lines.<field>` for each table field, the system columns and `user.<attribute>`.
Built from the documents, before the entities are, so that every expression can be compiled
while the entities are being built."""
from __future__ import annotations

from engine.expressions.language import Scope
from engine.metadata.failures import ANY
from engine.metadata.model import CHILD_SYSTEM_COLUMNS, SYSTEM_COLUMNS


def scope_for(declared: dict, raw: dict, is_child: bool, ctx) -> Scope:
    """`declared`: the entity's `fields` as written; `raw`: entity name -> (file, document)."""
    system = CHILD_SYSTEM_COLUMNS if is_child else SYSTEM_COLUMNS
    values = frozenset(n for n, spec in declared.items() if spec.get("type") != "table") | frozenset(system)
    tables = {}
    for n, spec in declared.items():
        if spec.get("type") == "table":
            target = spec.get("entity")
            # a child that is not there was reported (unknown entity, or its own document failed)
            tables[n] = frozenset(raw[target][1].data["fields"]) | frozenset(CHILD_SYSTEM_COLUMNS) if target in raw else ANY
    return Scope(values=values, tables=tables, objects={"user": ctx.user_attributes})
