"""Metadata checking: every problem code has a fixture that triggers it at the right line,
all problems are reported together, and the demo app is clean."""
import json
from pathlib import Path

import pytest

from engine.app.runtime import plugins_of
from engine.metadata.codes import CODES, MetadataInvalid
from engine.metadata.loader import load_app
from tests.conftest import DEMO_APP

FIXTURES = Path(__file__).parent.parent / "fixtures" / "invalid"


def check(app_dir) -> list:
    """The problems of an app folder; with overlay.json in it, of that admin change too (as the designer checks it)."""
    overlay = Path(app_dir) / "overlay.json"
    pieces = json.loads(overlay.read_text()) if overlay.is_file() else None
    try:
        app = load_app(app_dir, pieces, strict=next(iter(pieces)) if pieces else None)
        plugins_of(app)
    except MetadataInvalid as exc:
        return exc.problems
    return list(app.warnings)  # W codes: the app loads, `run.py check` shows them


def test_every_code_has_a_fixture_and_every_fixture_a_code():
    assert sorted(p.name for p in FIXTURES.iterdir() if p.is_dir()) == sorted(CODES)


@pytest.mark.parametrize("code", sorted(CODES))
def test_fixture_reports_its_code_with_file_and_line(code):
    problems = check(FIXTURES / code)
    expect = (FIXTURES / code / "expect").read_text().strip()
    hits = [p for p in problems if p.code == code]
    assert hits, f"{code} not reported; got {[p.format() for p in problems]}"
    located = [f"{Path(p.file).as_posix()}:{p.line}" for p in hits]
    assert any(loc.endswith(expect) or (expect.endswith(":") and expect in loc) for loc in located), (located, expect)
    for p in hits:
        assert p.format().startswith(f"{p.file}:{p.line}:{p.col}: {code} ")
        assert "hint:" in p.format()


def test_demo_app_is_valid():
    app = load_app(DEMO_APP)
    assert set(app.entities) == {"customer", "customer_contact", "product", "warehouse", "stock", "sales_order", "sales_order_line"}
    so = app.entity("sales_order")
    assert so.field("lines").entity == "sales_order_line" and app.entity("sales_order_line").parent == "sales_order"
    assert so.label.get("zh") == "销售订单" and so.label.get("ru") == "Заказ клиента" and so.label.get("fr") == "Sales order"


def test_all_problems_of_all_files_are_reported_together(tmp_path):
    (tmp_path / "entities").mkdir()
    (tmp_path / "entities" / "a.yaml").write_text("name: a\nfields:\n  x: {type: link, entity: nowhere}\n  y: {type: integer, min: 5, max: 1}\n")
    (tmp_path / "entities" / "b.yaml").write_text("name: b\nfields:\n  z: {type: strin}\n")
    (tmp_path / "entities" / "c.yaml").write_text("name: c\nfields: [\n")
    codes = sorted(p.code for p in check(tmp_path))
    assert codes == ["E001", "E006", "E012", "E028"]


def test_yaml_booleans_are_only_true_and_false(tmp_path):
    (tmp_path / "entities").mkdir()
    (tmp_path / "entities" / "s.yaml").write_text(
        "name: s\nfields:\n  state:\n    type: select\n    options: [on, off, yes, no, NO, y]\n    default: on\n")
    app = load_app(tmp_path)
    assert app.entity("s").field("state").option_values() == ("on", "off", "yes", "no", "NO", "y")
    assert app.entity("s").field("state").default == "on"


def test_broken_entity_does_not_cascade_into_unknown_entity_errors(tmp_path):
    (tmp_path / "entities").mkdir()
    (tmp_path / "entities" / "a.yaml").write_text("name: a\nfields:\n  b: {type: link, entity: b}\n")
    (tmp_path / "entities" / "b.yaml").write_text("name: b\nfields:\n  t: {type: nonsense}\n")
    assert [p.code for p in check(tmp_path)] == ["E006"]


def test_missing_app_folder(tmp_path):
    assert [p.code for p in check(tmp_path / "nope")] == ["E030"]


def test_non_utf8_and_non_mapping_files(tmp_path):
    (tmp_path / "entities").mkdir()
    (tmp_path / "entities" / "a.yaml").write_bytes(b"name: \xff\xfe\n")
    (tmp_path / "entities" / "b.yaml").write_text("- just\n- a list\n")
    codes = sorted(p.code for p in check(tmp_path))
    assert codes == ["E001", "E005"]


def test_menu_names_real_top_level_entities(tmp_path):
    (tmp_path / "entities").mkdir()
    (tmp_path / "entities" / "a.yaml").write_text("name: a\nfields:\n  x: {type: string}\n  lines: {type: table, entity: b}\n")
    (tmp_path / "entities" / "b.yaml").write_text("name: b\nchild: true\nfields:\n  y: {type: string}\n")
    (tmp_path / "app.yaml").write_text("menu:\n  - label: Main\n    icon: cart\n    items: [a, nowhere, b]\n  - label: Odd\n    icon: rocket\n    items: [a]\n")
    problems = check(tmp_path)
    assert sorted((p.code, p.line) for p in problems) == [("E006", 6)]  # schema first: the unknown icon
    (tmp_path / "app.yaml").write_text("menu:\n  - label: Main\n    icon: cart\n    items: [a, nowhere, b]\n")
    assert sorted((p.code, p.line) for p in check(tmp_path)) == [("E012", 4), ("E012", 4)]
    (tmp_path / "app.yaml").write_text("menu:\n  - label: Main\n    items: [a]\n")
    app = load_app(tmp_path)
    assert [m.items for m in app.navigation()] == [("a",)]


def test_env_references_in_defaults_are_read_at_load(tmp_path, monkeypatch):
    (tmp_path / "entities").mkdir()
    (tmp_path / "entities" / "supplier_link.yaml").write_text(
        "name: supplier_link\nfields:\n  title: {type: string}\n  api_token:\n    type: string\n    default: ${SUPPLIER_TOKEN_FOR_TEST}\n"
        "  tokens_used:\n    type: integer\n    default: 0\n", encoding="utf-8")
    monkeypatch.setenv("SUPPLIER_TOKEN_FOR_TEST", "s3cr3t")
    app = load_app(tmp_path)
    assert app.entity("supplier_link").fields["api_token"].default == "s3cr3t"
    assert app.entity("supplier_link").fields["tokens_used"].default == 0  # not a secret's name: a literal is fine
    assert "s3cr3t" not in (tmp_path / "entities" / "supplier_link.yaml").read_text()
