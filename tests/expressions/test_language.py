"""The expression dialect: evaluation on plain values, SQL compilation, and escapes refused at load."""
import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, create_engine, insert, select

from engine.expressions.language import EvaluationError, ExpressionError, Scope, compile_expression
from engine.expressions.to_sql import to_sql

SCOPE = Scope(values=frozenset({"qty", "price", "status", "name", "due", "region"}),
              tables={"lines": frozenset({"amount", "qty"})}, objects={"user": frozenset({"id", "username"})})


def ev(src, **values):
    return compile_expression(src, SCOPE).evaluate(values)


def test_arithmetic_is_exact_and_null_safe():
    assert ev("qty * price", qty=3, price=Decimal("0.10")) == Decimal("0.30")
    assert ev("qty * price", qty=None, price=Decimal("1")) is None
    assert ev("price / 0", price=Decimal("1")) is None
    assert ev("0.1 + 0.2") == Decimal("0.3")
    assert ev("2 ** 10") == 1024


def test_tables_functions_and_conditions():
    lines = [{"amount": Decimal("1.50"), "qty": 1}, {"amount": None, "qty": 2}, {"amount": Decimal("2"), "qty": 3}]
    assert ev("sum(lines.amount)", lines=lines) == Decimal("3.50")
    assert ev("count(lines.amount)", lines=lines) == 2
    assert ev("max(lines.qty)", lines=lines) == 3
    assert ev("sum(lines.amount)", lines=[]) == 0
    assert ev("round(price, 1)", price=Decimal("2.25")) == Decimal("2.3")
    assert ev("'big' if qty > 10 else 'small'", qty=11) == "big"
    assert ev("status in ['draft', 'new'] and not (qty < 0)", status="draft", qty=1) is True
    assert ev("coalesce(name, 'n/a')", name=None) == "n/a"
    assert ev("upper(name) + '!'", name="ok") == "OK!"
    assert ev("user.username", user={"username": "rep"}) == "rep"
    assert ev("days_between(due, add_days(due, 7))", due=dt.date(2026, 1, 1)) == 7
    assert ev("today()") == dt.date.today()


def test_value_type_errors_raise_evaluation_error():
    with pytest.raises(EvaluationError):
        ev("name * qty", name="x", qty=10**9)
    with pytest.raises(EvaluationError):
        ev("sum(qty)", qty=3)


ESCAPES = [
    "__import__('os').system('id')", "().__class__.__bases__[0].__subclasses__()", "qty.__class__",
    "open('/etc/passwd').read()", "eval('1')", "exec('x=1')", "getattr(qty, 'real')", "lambda: 1",
    "[x for x in lines]", "{x: 1 for x in lines}", "(x for x in lines)", "{1, 2}", "{'a': 1}",
    "2 ** 1000000", "9 ** 9 ** 9", "qty ** qty", "name[0]", "name[::-1]", "user.__dict__",
    "(lambda: 1)()", "x := 1", "f'{name}'", "print(1)", "globals()", "locals()", "vars()", "dir()",
    "__builtins__", "lines.amount.__len__", "user.password_hash", "sum(x=1)", "sum(*lines)",
    "import os", "qty; 1", "1 if", "'a' * 10 ** 9", "10 ** 100000000", "a.b.c", "qty.real",
    "-" * 1000 + "1", "(" * 300 + "qty" + ")" * 300 + " +" * 400 + " 1", "1 +" * 400 + "1", "'" + "x" * 5000 + "'", "99999999999999999999999",
    "type(qty)", "breakpoint()", "help()", "compile('1','','eval')", "memoryview(b'')", "b'bytes'",
]


@pytest.mark.parametrize("source", ESCAPES)
def test_escape_attempts_fail_at_load(source):
    with pytest.raises(ExpressionError) as exc:
        compile_expression(source, SCOPE)
    assert exc.value.code in ("E020", "E021", "E022", "E023")


def test_condition_compiles_to_sql_with_bound_parameters():
    md = MetaData()
    t = Table("t", md, Column("id", Integer, primary_key=True), Column("status", String), Column("qty", Integer),
              Column("region", String), Column("owner", Integer))
    eng = create_engine("sqlite://")
    md.create_all(eng)
    with eng.begin() as c:
        c.execute(insert(t), [{"status": "draft", "qty": 5, "region": "east", "owner": 1},
                              {"status": "approved", "qty": 50, "region": "west", "owner": 2},
                              {"status": None, "qty": 1, "region": "east'; DROP TABLE t; --", "owner": 1}])
    scope = Scope(values=frozenset({"status", "qty", "region", "owner"}), objects={"user": frozenset({"id", "region"})})
    cols = {c.name: c for c in t.c}

    def ids(src, user=None):
        clause = to_sql(compile_expression(src, scope), cols, {"user": user or {}})
        with eng.connect() as c:
            return [r[0] for r in c.execute(select(t.c.id).where(clause).order_by(t.c.id))]
    assert ids("status in ['draft', 'approved'] and qty >= 5") == [1, 2]
    assert ids("status == None") == [3]
    assert ids("owner == user.id", {"id": 1}) == [1, 3]
    assert ids("region == user.region", {"region": "east'; DROP TABLE t; --"}) == [3]
    assert ids("not (qty > 10) or lower(region) == 'west'") == [1, 2, 3]
    sql = str(to_sql(compile_expression("region == user.region", scope), cols, {"user": {"region": "x'"}}))
    assert "x'" not in sql  # a bound parameter, not SQL text
    with pytest.raises(ExpressionError):
        to_sql(compile_expression("qty ** 2 > 1", scope), cols, {})
