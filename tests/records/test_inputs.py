"""Incoming data (engine.records.inputs): a JSON object becomes field values with every error
collected at once; unknown fields are refused by name; what the system sets may be sent back
unchanged but not changed; lines are matched by id, added without one, removed when left out."""
from decimal import Decimal

from engine.core.errors import ErrorCollector
from engine.metadata.loader import load_app
from engine.records.inputs import MAX_LINES, parse_lines, parse_values
from tests.conftest import DEMO_APP

DEMO = load_app(DEMO_APP)
ORDER, LINE = DEMO.entity("sales_order"), DEMO.entity("sales_order_line")


def said(errors: ErrorCollector) -> dict[str, str]:
    return {e.field: str(e.message) for e in errors.errors}


def test_every_problem_is_reported_at_once_and_good_values_are_coerced():
    errors = ErrorCollector()
    out = parse_values(ORDER, {"customer": 3, "order_date": "2026-13-01", "colour": "red", "notes": 5, "currency": "CNY"}, errors, None)
    assert out == {"customer": 3, "currency": "CNY"}
    got = said(errors)
    assert set(got) == {"order_date", "colour", "notes"}
    assert got["order_date"] == "'2026-13-01' is not a real date"
    assert got["colour"].startswith("unknown field; sales_order has: number, customer, order_date")
    assert got["notes"] == "expected text, got a number"


def test_not_an_object():
    errors = ErrorCollector()
    assert parse_values(ORDER, ["customer", 3], errors, None) == {}
    assert said(errors) == {"body": "expected a JSON object of field names and values"}


def test_what_the_system_sets_may_come_back_unchanged_but_not_changed():
    current = {"id": 7, "version": 2, "owner": 4, "status": "draft", "total": Decimal("236.50"), "created_at": "x", "updated_at": "y"}
    errors = ErrorCollector()
    sent_back = {"id": 7, "version": 2, "owner": 4, "status": "draft", "total": "236.50", "created_at": "2026-01-01T00:00:00Z", "notes": "ok"}
    assert parse_values(ORDER, sent_back, errors, current) == {"notes": "ok"} and not errors
    parse_values(ORDER, {"owner": 5, "status": "approved", "total": "1.00", "search_text": "x"}, errors, current)
    assert said(errors) == {
        "owner": "'owner' is set by the system and cannot be written",
        "status": "cannot be set: it is read-only",
        "total": "cannot be set: it is computed from other fields",
        "search_text": "'search_text' is set by the system and cannot be written",
    }


def test_text_input_reads_numbers_and_ids_from_text():
    errors = ErrorCollector()
    assert parse_values(ORDER, {"customer": "12"}, errors, None, text=True) == {"customer": 12}
    assert parse_values(ORDER, {"customer": "12"}, errors, None) == {}
    assert said(errors) == {"customer": "expected an id (a whole number), got text"}


def test_lines_are_updated_by_id_added_without_and_removed_when_left_out():
    current = [{"id": 1, "idx": 0, "parent_id": 9, "product": 5, "quantity": Decimal("2.000"), "unit_price": Decimal("10.00")},
               {"id": 2, "idx": 1, "parent_id": 9, "product": 6, "quantity": Decimal("1.000"), "unit_price": Decimal("3.00")}]
    errors = ErrorCollector()
    lines = parse_lines(ORDER, LINE, "lines", [{"id": 2, "quantity": "4"}, {"product": 8, "quantity": 1}], errors, current)
    assert not errors
    assert [(line.get("id"), line["product"], line["quantity"]) for line in lines] == [(2, 6, Decimal("4.000")), (None, 8, Decimal("1.000"))]
    assert lines[0]["unit_price"] == Decimal("3.00")  # what was not sent stays
    assert lines[1]["unit_price"] is None  # a new line starts from the defaults


def test_bad_lines_are_named_by_position():
    current = [{"id": 1, "idx": 0, "parent_id": 9, "product": 5, "quantity": Decimal("2.000")}]
    errors = ErrorCollector()
    parse_lines(ORDER, LINE, "lines", [{"id": 1}, {"id": 1}, {"id": 99}, "x", {"quantity": "many", "amount": "5"}], errors, current)
    assert said(errors) == {
        "lines[1].id": "this line is listed twice",
        "lines[2].id": "99 is not a line of this record; leave id out to add a new line",
        "lines[3]": "expected an object with the line's fields",
        "lines[4].quantity": "expected a number like 12.50, got 'many'",
        "lines[4].amount": "cannot be set: it is computed from other fields",
    }


def test_a_table_takes_a_list_of_at_most_so_many_lines():
    errors = ErrorCollector()
    assert parse_lines(ORDER, LINE, "lines", {"product": 1}, errors, None) is None
    assert parse_lines(ORDER, LINE, "lines", [{}] * (MAX_LINES + 1), errors, None) is None
    assert [str(e.message) for e in errors.errors] == ["expected a list of lines", "at most 1000 lines"]
