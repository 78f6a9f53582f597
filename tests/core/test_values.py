"""Field values (engine.core.values): what each field type accepts from JSON and from a query
string, what it refuses and with which message, the declared constraints, and the JSON form of
stored values. Every screen, the API and the metadata defaults go through these functions."""
import datetime as dt
from decimal import Decimal

import pytest

from engine.core.values import (
    BadValue,
    check_constraints,
    coerce,
    parse_id,
    parse_ids,
    parse_int,
    quantize_result,
    to_json,
)
from engine.metadata.model import Field, Label, Option


def field(type_, **kw):
    return Field(name="f", type=type_, label=Label({"en": "F"}), **kw)


def refused(f, value, from_query=False) -> str:
    with pytest.raises(BadValue) as e:
        coerce(f, value, from_query=from_query)
    return str(e.value)


@pytest.mark.parametrize("raw, expected", [
    ("1", 1), ("42", 42), (7, 7), (str(2**63 - 1), 2**63 - 1),
    ("0", None), ("-1", None), ("+1", None), (" 1", None), ("1.0", None), ("³", None), ("١٢", None),
    (True, None), (False, None), (0, None), (2**63, None), (str(2**63), None), ("", None), (None, None), (1.0, None),
    ("1" * 20, None),
])
def test_an_id_is_ascii_digits_within_64_bits(raw, expected):
    assert parse_id(raw) == expected


def test_whole_numbers_and_id_lists():
    assert parse_int("-5") == -5 and parse_int(str(-(2**63))) == -(2**63)
    assert parse_int(str(2**63)) is None and parse_int("5 ") is None and parse_int(5) is None
    assert parse_ids([1, 2, 3], most=3) == [1, 2, 3]
    assert parse_ids([1, 2, 3, 4], most=3) is None  # more than allowed
    assert parse_ids([], most=3) is None
    assert parse_ids(["1"], most=3) is None  # JSON ids are numbers, not text
    assert parse_ids([1, True], most=3) is None
    assert parse_ids("1,2", most=3) is None


def test_empty_means_no_value_for_every_type():
    for t in ("string", "integer", "decimal", "boolean", "date", "datetime", "email", "link"):
        assert coerce(field(t), "") is None and coerce(field(t), None) is None


def test_text_refuses_other_kinds_and_nul():
    assert coerce(field("string"), "Ünïcödé 中文") == "Ünïcödé 中文"
    assert refused(field("string"), 5) == "expected text, got a number"
    assert refused(field("text"), ["a"]) == "expected text, got a list"
    assert refused(field("string"), "a\x00b") == "text must not contain NUL characters"


def test_email_phone_and_url_are_checked_and_trimmed():
    assert coerce(field("email"), " li.wei@example.cn ") == "li.wei@example.cn"
    assert "name@example.com" in refused(field("email"), "li.wei")
    assert coerce(field("phone"), "+7 (495) 123-45-67") == "+7 (495) 123-45-67"
    assert "not a phone number" in refused(field("phone"), "call me")
    assert coerce(field("url"), "https://erp.example.com/x") == "https://erp.example.com/x"
    assert "https://" in refused(field("url"), "javascript:alert(1)")
    assert "https://" in refused(field("url"), "ftp://example.com")


def test_a_select_takes_only_its_options_and_names_them():
    f = field("select", options=(Option("domestic", Label({"en": "Domestic"})), Option("export", Label({"en": "Export"}))))
    assert coerce(f, "export") == "export"
    assert refused(f, "Export") == "'Export' is not an option; choose one of: domestic, export"


def test_whole_numbers_from_json_and_from_a_query():
    f = field("integer")
    assert coerce(f, 12) == 12 and coerce(f, 3.0) == 3 and coerce(f, Decimal("4")) == 4
    assert coerce(f, " -12 ", from_query=True) == -12
    assert refused(f, "12") == "expected a whole number, got text"  # JSON must use a number
    assert refused(f, True) == "expected a whole number, got true/false"
    assert refused(f, 2.5) == "expected a whole number, got a number"
    assert refused(f, 2**63) == "number is out of range"


def test_a_link_is_a_positive_id():
    f = field("link", entity="customer")
    assert coerce(f, 5) == 5
    assert refused(f, 0) == "ids are positive whole numbers"
    assert refused(f, "abc") == "expected an id (a whole number), got text"


def test_decimals_keep_their_scale_and_precision():
    f = field("decimal", precision=6, scale=2)
    assert coerce(f, "12.5") == Decimal("12.50")
    assert coerce(f, 0.1) == Decimal("0.10")  # a JSON float is read as written, not as its binary value
    assert coerce(f, 3) == Decimal("3.00")
    assert coerce(f, "1.50") == Decimal("1.50")  # trailing zeros are not extra places
    assert refused(f, "1.234") == "at most 2 decimal places"
    assert refused(field("decimal", scale=1), "1.25") == "at most 1 decimal place"
    assert refused(f, "10000") == "number is too large: at most 4 digits before the decimal point"
    assert refused(f, "1e3") == "expected a number like 12.50, got '1e3'"
    assert refused(f, Decimal("NaN")) == "expected a finite number"
    assert refused(f, True) == "expected a number, got true/false"
    assert refused(f, {"a": 1}) == "expected a number, got an object"


def test_booleans_are_strict_in_json_and_lenient_in_a_query():
    f = field("boolean")
    assert coerce(f, True) is True and coerce(f, False) is False
    assert coerce(f, "1", from_query=True) is True and coerce(f, "FALSE", from_query=True) is False
    assert refused(f, "true") == "expected true or false, got text"
    assert refused(f, 1) == "expected true or false, got a number"


def test_dates_must_be_real_days():
    f = field("date")
    assert coerce(f, "2026-03-31") == dt.date(2026, 3, 31)
    assert coerce(f, dt.date(2026, 1, 2)) == dt.date(2026, 1, 2)
    assert refused(f, "2026-02-30") == "'2026-02-30' is not a real date"
    assert refused(f, "31.03.2026") == "expected a date like 2026-03-31"
    assert refused(f, dt.datetime(2026, 1, 2, 3, 4)) == "expected a date without time, like 2026-03-31"


def test_times_need_a_timezone_and_are_kept_in_utc():
    f = field("datetime")
    assert coerce(f, "2026-03-31T14:30:00Z") == dt.datetime(2026, 3, 31, 14, 30, tzinfo=dt.timezone.utc)
    assert coerce(f, "2026-03-31T22:30:00+08:00") == dt.datetime(2026, 3, 31, 14, 30, tzinfo=dt.timezone.utc)
    assert "needs a timezone" in refused(f, "2026-03-31T14:30:00")
    assert refused(f, "2026-03-31T25:00:00Z") == "'2026-03-31T25:00:00Z' is not a real date and time"
    assert refused(f, 1700000000) == "expected a time like 2026-03-31T14:30:00Z, got a number"


def test_json_values_are_bounded_and_never_filtered():
    f = field("json")
    assert coerce(f, {"a": [1, 2]}) == {"a": [1, 2]}
    assert "larger than 65536 bytes" in refused(f, {"a": "x" * 70_000})
    assert refused(f, "{}", from_query=True) == "json fields cannot be filtered"


def test_computed_results_round_half_up_and_must_fit():
    money = field("computed", result="decimal", precision=6, scale=2)
    assert quantize_result(money, Decimal("2.345")) == Decimal("2.35")
    assert quantize_result(money, 3) == Decimal("3.00")
    with pytest.raises(BadValue, match="at most 4 digits before the decimal point"):
        quantize_result(money, Decimal("12345"))
    with pytest.raises(BadValue, match="computed value is text, not a number"):
        quantize_result(money, "12")
    count = field("computed", result="integer")
    assert quantize_result(count, Decimal("2.5")) == 3
    with pytest.raises(BadValue, match="too large to store"):
        quantize_result(count, 2**64)
    assert quantize_result(field("computed", result="string"), 5) == "5"
    assert quantize_result(money, None) is None


def test_constraints_report_every_broken_rule():
    f = field("string", min_length=3, max_length=5, pattern=r"[A-Z]+")
    assert check_constraints(f, "ABC") == []
    assert check_constraints(f, "abcdef") == ["at most 5 characters (this has 6)", "does not match the required format [A-Z]+"]
    assert check_constraints(f, "AB") == ["at least 3 characters"]
    assert check_constraints(field("string"), "x" * 256) == ["at most 255 characters (this has 256)"]  # the type's default
    n = field("decimal", min=Decimal("0"), max=Decimal("100"))
    assert check_constraints(n, Decimal("-1")) == ["must be at least 0"]
    assert check_constraints(n, Decimal("100.01")) == ["must be at most 100"]
    assert check_constraints(n, Decimal("50")) == []


def test_stored_values_in_json():
    assert to_json("decimal", Decimal("1.50")) == "1.50"
    assert to_json("date", dt.date(2026, 3, 1)) == "2026-03-01"
    assert to_json("datetime", dt.datetime(2026, 3, 1, 8, 0, tzinfo=dt.timezone(dt.timedelta(hours=8)))) == "2026-03-01T00:00:00Z"
    assert to_json("datetime", dt.datetime(2026, 3, 1, 8, 0)) == "2026-03-01T08:00:00Z"  # a naive time read back is UTC
    assert to_json("string", None) is None and to_json("integer", 3) == 3
