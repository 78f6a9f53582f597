"""Compile a checked expression tree to a SQLAlchemy clause with bound parameters.

Only the filtering subset is supported (comparisons, and/or/not, arithmetic, `in` lists,
lower/upper/coalesce/abs); anything else is refused with a message, never guessed.
"""
from __future__ import annotations

import ast
from decimal import Decimal
from typing import Any, Mapping

from sqlalchemy import and_, bindparam, func, literal, not_, null, or_

from engine.expressions.language import Expr, ExpressionError

_SQL_FUNCS = {"lower": func.lower, "upper": func.upper, "coalesce": func.coalesce, "abs": func.abs}


def to_sql(expr: Expr, columns: Mapping[str, Any], context: Mapping[str, Any] | None = None):
    """Compile a checked expression to a SQLAlchemy clause; `columns` maps field names to columns,
    `context` gives the objects (e.g. user) whose attributes become bound parameters."""
    return compile_sql(expr.tree.body, columns, context or {})


def compile_sql(node, columns: Mapping[str, Any], context: Mapping[str, Any]):
    def c(n):
        if isinstance(n, ast.Constant):
            v = n.value
            if v is None:
                return null()
            if isinstance(v, float):
                v = Decimal(repr(v))
            return literal(v)
        if isinstance(n, ast.Name):
            if n.id in ("True", "False", "None"):
                return literal({"True": True, "False": False}[n.id]) if n.id != "None" else null()
            if n.id in columns:
                return columns[n.id]
            if n.id in context:
                return bindparam(None, context[n.id], unique=True)
            raise ExpressionError("E022", f"'{n.id}' cannot be used in a filter")
        if isinstance(n, ast.Attribute):
            if f"{n.value.id}.{n.attr}" in columns:  # record.region: a column of the filtered table
                return columns[f"{n.value.id}.{n.attr}"]
            obj = context.get(n.value.id)
            if obj is None:
                raise ExpressionError("E022", f"'{n.value.id}.{n.attr}' cannot be used in a filter")
            value = obj.get(n.attr) if isinstance(obj, Mapping) else getattr(obj, n.attr, None)
            return bindparam(None, value, unique=True)
        if isinstance(n, ast.BoolOp):
            parts = [c(v) for v in n.values]
            return and_(*parts) if isinstance(n.op, ast.And) else or_(*parts)
        if isinstance(n, ast.UnaryOp):
            inner = c(n.operand)
            if isinstance(n.op, ast.Not):
                return not_(inner)
            return -inner if isinstance(n.op, ast.USub) else inner
        if isinstance(n, ast.BinOp) and not isinstance(n.op, ast.Pow):
            a, b = c(n.left), c(n.right)
            return {ast.Add: a + b, ast.Sub: a - b, ast.Mult: a * b, ast.Div: a / b, ast.Mod: a % b}[type(n.op)]
        if isinstance(n, ast.Compare):
            clauses = []
            left = n.left
            for op, right in zip(n.ops, n.comparators):
                clauses.append(_cmp(op, left, right, c))
                left = right
            return and_(*clauses) if len(clauses) > 1 else clauses[0]
        if isinstance(n, ast.Call) and n.func.id in _SQL_FUNCS:
            return _SQL_FUNCS[n.func.id](*[c(a) for a in n.args])
        raise ExpressionError("E024", f"'{ast.unparse(n)}' cannot be used in a filter condition")

    return c(node)


def _is_none(n) -> bool:
    return (isinstance(n, ast.Constant) and n.value is None) or (isinstance(n, ast.Name) and n.id == "None")


def _cmp(op, left, right, c):
    if isinstance(op, (ast.In, ast.NotIn)):
        if not isinstance(right, (ast.List, ast.Tuple)):
            raise ExpressionError("E024", "in a filter, 'in' needs a literal list like ['a', 'b']")
        values = [e.value for e in right.elts if isinstance(e, ast.Constant)]
        expr = c(left).in_(values)
        return expr if isinstance(op, ast.In) else not_(expr)
    if isinstance(op, (ast.Eq, ast.Is, ast.NotEq, ast.IsNot)) and (_is_none(right) or _is_none(left)):
        other = c(left if _is_none(right) else right)
        return other.is_(None) if isinstance(op, (ast.Eq, ast.Is)) else other.is_not(None)
    a, b = c(left), c(right)
    return {ast.Eq: a == b, ast.NotEq: a != b, ast.Lt: a < b, ast.LtE: a <= b, ast.Gt: a > b, ast.GtE: a >= b,
            ast.Is: a == b, ast.IsNot: a != b}[type(op)]
