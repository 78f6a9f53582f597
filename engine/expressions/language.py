"""The one small expression dialect used by metadata: conditions, defaults, computed values.

Python syntax, parsed once with `ast` and checked against an allowlist of node types, the
names the context offers and a fixed function table. Nothing is ever passed to `eval`:
the checked tree is turned into a chain of closures that work on plain values, and the
same tree compiles to a SQLAlchemy clause where a condition must filter rows.

Semantics follow SQL where Python would raise: arithmetic or ordering with a missing
value (None) gives None, division by zero gives None, `sum` skips missing values.
"""
from __future__ import annotations

import ast
import datetime as dt
import operator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Mapping

MAX_SOURCE = 2000
MAX_NODES = 300
MAX_EXPONENT = 16
MAX_STRING = 1000
MAX_INT = 10**18


class ExpressionError(Exception):
    """An expression that cannot be accepted; `code` is the metadata problem code."""

    def __init__(self, code: str, message: str, col: int = 0):
        super().__init__(message)
        self.code = code
        self.message = message
        self.col = col


@dataclass(frozen=True)
class Scope:
    """What an expression may name.

    values: plain names (fields of the record).
    tables: table fields, each with the names of its child fields (`lines.amount`).
    objects: objects with attributes (`user.id`, `user.username`).
    """

    values: frozenset = frozenset()
    tables: Mapping[str, frozenset] = field(default_factory=dict)
    objects: Mapping[str, frozenset] = field(default_factory=dict)


def _num(x):
    return x is not None and not isinstance(x, bool) and isinstance(x, (int, Decimal))


def _sum(values):
    _need_list("sum", values)
    total = 0
    for v in values:
        if v is None:
            continue
        if not _num(v):
            raise EvaluationError(f"sum() needs numbers, got {type(v).__name__}")
        total += v
    return total


def _count(values):
    _need_list("count", values)
    return sum(1 for v in values if v is not None)


def _minmax(pick):
    def fn(*args):
        vals = args[0] if len(args) == 1 and isinstance(args[0], list) else list(args)
        vals = [v for v in vals if v is not None]
        if not vals:
            return None
        try:
            return pick(vals)
        except TypeError:
            raise EvaluationError("min()/max() need values of one kind") from None
    return fn


def _round(x, ndigits=0):
    if x is None:
        return None
    if not _num(x) or not isinstance(ndigits, int) or isinstance(ndigits, bool):
        raise EvaluationError("round() needs a number and a whole number of digits")
    if isinstance(x, int):
        return x
    return x.quantize(Decimal(1).scaleb(-ndigits), rounding="ROUND_HALF_UP")


def _abs(x):
    if x is None:
        return None
    if not _num(x):
        raise EvaluationError("abs() needs a number")
    return abs(x)


def _coalesce(*args):
    for a in args:
        if a is not None:
            return a
    return None


def _str_fn(name, fn):
    def inner(s):
        if s is None:
            return None
        if not isinstance(s, str):
            raise EvaluationError(f"{name}() needs text")
        return fn(s)
    return inner


def _len(x):
    if x is None:
        return 0
    if not isinstance(x, (str, list)):
        raise EvaluationError("len() needs text or a list")
    return len(x)


def _add_days(d, n):
    if d is None or n is None:
        return None
    if not isinstance(d, dt.date) or not isinstance(n, int) or isinstance(n, bool) or abs(n) > 100000:
        raise EvaluationError("add_days() needs a date and a whole number of days")
    return d + dt.timedelta(days=n)


def _days_between(a, b):
    if a is None or b is None:
        return None
    if not isinstance(a, dt.date) or not isinstance(b, dt.date):
        raise EvaluationError("days_between() needs two dates")
    a = a.date() if isinstance(a, dt.datetime) else a
    b = b.date() if isinstance(b, dt.datetime) else b
    return (b - a).days


def _need_list(name, v):
    if not isinstance(v, list):
        raise EvaluationError(f"{name}() needs the values of a table field, like lines.amount")


# name -> (callable, min args, max args, description)
FUNCTIONS: dict[str, tuple[Callable, int, int, str]] = {
    "sum": (_sum, 1, 1, "sum(lines.amount): total of a table field's values"),
    "count": (_count, 1, 1, "count(lines.product): how many values are present"),
    "min": (_minmax(min), 1, 10, "min(a, b, ...) or min(lines.x)"),
    "max": (_minmax(max), 1, 10, "max(a, b, ...) or max(lines.x)"),
    "round": (_round, 1, 2, "round(x, digits)"),
    "abs": (_abs, 1, 1, "abs(x)"),
    "coalesce": (_coalesce, 1, 10, "coalesce(a, b, ...): the first value that is present"),
    "upper": (_str_fn("upper", str.upper), 1, 1, "upper(text)"),
    "lower": (_str_fn("lower", str.lower), 1, 1, "lower(text)"),
    "len": (_len, 1, 1, "len(text or list)"),
    "today": (lambda: dt.date.today(), 0, 0, "today(): the current date"),
    "now": (lambda: dt.datetime.now(dt.timezone.utc), 0, 0, "now(): the current time (UTC)"),
    "add_days": (_add_days, 2, 2, "add_days(date, n)"),
    "days_between": (_days_between, 2, 2, "days_between(a, b): whole days from a to b"),
}


class EvaluationError(Exception):
    """A value-level problem while evaluating a valid expression (e.g. adding text to a number)."""


_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod, ast.Pow, ast.Compare,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.IfExp, ast.Call, ast.Name, ast.Load, ast.Attribute, ast.Constant, ast.List, ast.Tuple,
)


@dataclass(frozen=True)
class Expr:
    """A checked expression: evaluate it on plain values (engine.expressions.to_sql compiles it to SQL)."""

    source: str
    tree: ast.Expression = field(repr=False, compare=False)
    names: frozenset = field(compare=False)
    _fn: Callable = field(repr=False, compare=False)

    def evaluate(self, values: Mapping[str, Any]) -> Any:
        """Evaluate on a mapping of name -> value; raises EvaluationError on bad value types."""
        return self._fn(values)



def compile_expression(source: str, scope: Scope) -> Expr:
    """Parse and check `source` against `scope`; raise ExpressionError with a problem code."""
    if not isinstance(source, str):
        raise ExpressionError("E020", "an expression must be text")
    if len(source) > MAX_SOURCE:
        raise ExpressionError("E020", f"expression is longer than {MAX_SOURCE} characters")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise ExpressionError("E020", f"syntax error in expression: {exc.msg}", exc.offset or 0) from None
    except (ValueError, RecursionError, MemoryError):
        raise ExpressionError("E020", "expression is too deeply nested or malformed") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise ExpressionError("E021", f"expression is too large ({len(nodes)} parts, at most {MAX_NODES})")
    names: set[str] = set()
    for node in nodes:
        _check_node(node, scope, names)
    fn = _compile(tree.body)
    return Expr(source, tree, frozenset(names), fn)


def _col(node) -> int:
    return getattr(node, "col_offset", 0) + 1


def _check_node(node, scope: Scope, names: set) -> None:
    if not isinstance(node, _ALLOWED):
        what = type(node).__name__
        raise ExpressionError("E021", f"'{what}' is not allowed in expressions", _col(node))
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, str) and len(v) > MAX_STRING:
            raise ExpressionError("E021", f"text constant longer than {MAX_STRING} characters", _col(node))
        if isinstance(v, int) and not isinstance(v, bool) and abs(v) >= MAX_INT:
            raise ExpressionError("E021", "number constant is too large", _col(node))
        if not (v is None or isinstance(v, (bool, int, float, str))):
            raise ExpressionError("E021", f"constant of type {type(v).__name__} is not allowed", _col(node))
    elif isinstance(node, ast.BinOp) and not isinstance(node.op, ast.Add) and any(
            isinstance(side, ast.Constant) and isinstance(side.value, str) for side in (node.left, node.right)):
        raise ExpressionError("E021", "text can only be joined with +", _col(node))
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        e = node.right
        if not (isinstance(e, ast.Constant) and type(e.value) is int and 0 <= e.value <= MAX_EXPONENT):
            raise ExpressionError("E021", f"the exponent of ** must be a whole number from 0 to {MAX_EXPONENT}", _col(node))
    elif isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name):
            raise ExpressionError("E021", "only functions from the function table can be called", _col(node))
        if node.keywords:
            raise ExpressionError("E021", "keyword arguments are not allowed", _col(node))
        fname = node.func.id
        if fname not in FUNCTIONS:
            raise ExpressionError("E023", f"unknown function '{fname}' (known: {', '.join(sorted(FUNCTIONS))})", _col(node))
        _, lo, hi, desc = FUNCTIONS[fname]
        if not lo <= len(node.args) <= hi:
            raise ExpressionError("E023", f"{fname}() takes {lo}{'' if lo == hi else f' to {hi}'} arguments: {desc}", _col(node))
        if any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionError("E021", "*args is not allowed", _col(node))
    elif isinstance(node, ast.Attribute):
        if node.attr.startswith("_"):
            raise ExpressionError("E021", f"attribute '{node.attr}' is not allowed", _col(node))
        if not isinstance(node.value, ast.Name):
            raise ExpressionError("E021", "only one level of attributes is allowed, like lines.amount or user.id", _col(node))
        base = node.value.id
        if base in scope.tables:
            if node.attr not in scope.tables[base]:
                raise ExpressionError("E022", f"'{base}' has no field '{node.attr}'", _col(node))
        elif base in scope.objects:
            if node.attr not in scope.objects[base]:
                raise ExpressionError("E022", f"'{base}' has no attribute '{node.attr}' (known: {', '.join(sorted(scope.objects[base]))})", _col(node))
        else:
            raise ExpressionError("E022", f"'{base}' has no attributes", _col(node))
        names.add(base)
    elif isinstance(node, ast.Name):
        n = node.id
        if n.startswith("_"):
            raise ExpressionError("E021", f"name '{n}' is not allowed", _col(node))
        if n in FUNCTIONS or n in ("True", "False", "None"):
            return
        if n not in scope.values and n not in scope.tables and n not in scope.objects:
            raise ExpressionError("E022", f"unknown name '{n}'", _col(node))
        names.add(n)


class _Missing:
    pass


def _arith(op):
    def fn(a, b):
        if a is None or b is None:
            return None
        if op is operator.add and isinstance(a, str) and isinstance(b, str):
            return a + b
        if op is operator.add and isinstance(a, dt.date) and isinstance(b, int) and not isinstance(b, bool):
            return a + dt.timedelta(days=b)
        if not (_num(a) and _num(b)):
            raise EvaluationError(f"cannot apply arithmetic to {type(a).__name__} and {type(b).__name__}")
        try:
            if op is operator.truediv:
                if b == 0:
                    return None
                return Decimal(a) / Decimal(b)
            if op is operator.mod and b == 0:
                return None
            return op(a, b)
        except (InvalidOperation, ArithmeticError):
            return None
    return fn


def _order(op):
    def fn(a, b):
        if a is None or b is None:
            return None
        try:
            return op(a, b)
        except TypeError:
            raise EvaluationError(f"cannot compare {type(a).__name__} with {type(b).__name__}") from None
    return fn


def _contains(a, b):
    if b is None:
        return None
    if isinstance(b, str):
        if not isinstance(a, str):
            raise EvaluationError("'in' on text needs text on the left")
        return a in b
    if isinstance(b, (list, tuple)):
        return a in b
    raise EvaluationError("'in' needs a list or text on the right")


_BIN = {ast.Add: _arith(operator.add), ast.Sub: _arith(operator.sub), ast.Mult: _arith(operator.mul),
        ast.Div: _arith(operator.truediv), ast.Mod: _arith(operator.mod), ast.Pow: _arith(operator.pow)}
_CMP = {ast.Eq: lambda a, b: a == b, ast.NotEq: lambda a, b: a != b, ast.Is: lambda a, b: a is b,
        ast.IsNot: lambda a, b: a is not b, ast.Lt: _order(operator.lt), ast.LtE: _order(operator.le),
        ast.Gt: _order(operator.gt), ast.GtE: _order(operator.ge), ast.In: _contains,
        ast.NotIn: lambda a, b: (lambda r: None if r is None else not r)(_contains(a, b))}


def _compile(node) -> Callable[[Mapping], Any]:
    if isinstance(node, ast.Constant):
        v = node.value
        if isinstance(v, float):
            v = Decimal(repr(v))
        return lambda ctx: v
    if isinstance(node, ast.Name):
        n = node.id
        if n in ("True", "False", "None"):
            const = {"True": True, "False": False, "None": None}[n]
            return lambda ctx: const
        return lambda ctx: ctx.get(n)
    if isinstance(node, ast.Attribute):
        base, attr = node.value.id, node.attr

        def get_attr(ctx):
            obj = ctx.get(base)
            if obj is None:
                return None
            if isinstance(obj, list):
                return [row.get(attr) if isinstance(row, Mapping) else None for row in obj]
            if isinstance(obj, Mapping):
                return obj.get(attr)
            return getattr(obj, attr, None)
        return get_attr
    if isinstance(node, (ast.List, ast.Tuple)):
        items = [_compile(e) for e in node.elts]
        return lambda ctx: [f(ctx) for f in items]
    if isinstance(node, ast.UnaryOp):
        inner = _compile(node.operand)
        if isinstance(node.op, ast.Not):
            return lambda ctx: not inner(ctx)

        def neg(ctx, sign=-1 if isinstance(node.op, ast.USub) else 1):
            v = inner(ctx)
            if v is None:
                return None
            if not _num(v):
                raise EvaluationError("a sign needs a number")
            return v * sign
        return neg
    if isinstance(node, ast.BinOp):
        left, right, op = _compile(node.left), _compile(node.right), _BIN[type(node.op)]
        return lambda ctx: op(left(ctx), right(ctx))
    if isinstance(node, ast.BoolOp):
        parts = [_compile(v) for v in node.values]
        if isinstance(node.op, ast.And):
            def and_(ctx):
                result = True
                for p in parts:
                    result = p(ctx)
                    if not result:
                        return result
                return result
            return and_

        def or_(ctx):
            result = False
            for p in parts:
                result = p(ctx)
                if result:
                    return result
            return result
        return or_
    if isinstance(node, ast.Compare):
        first = _compile(node.left)
        rest = [(_CMP[type(op)], _compile(c)) for op, c in zip(node.ops, node.comparators)]

        def compare(ctx):
            a = first(ctx)
            for op, f in rest:
                b = f(ctx)
                r = op(a, b)
                if not r:
                    return r
                a = b
            return True
        return compare
    if isinstance(node, ast.IfExp):
        test, body, orelse = _compile(node.test), _compile(node.body), _compile(node.orelse)
        return lambda ctx: body(ctx) if test(ctx) else orelse(ctx)
    if isinstance(node, ast.Call):
        fn = FUNCTIONS[node.func.id][0]
        args = [_compile(a) for a in node.args]
        return lambda ctx: fn(*[a(ctx) for a in args])
    raise ExpressionError("E021", f"'{type(node).__name__}' is not allowed")  # pragma: no cover - checked before
