"""`run.py check` reports each mistake once: a document that fails its own checks does not drag
the documents that depend on it into the report, and an independent mistake elsewhere is still
found. Each case plants mistakes in a copy of the demo app and compares the exact problems -
file, line and code - from the loader and from the command a user runs. Also: `"*"` in a role's
field rules, and the hint for a label map cut by an unquoted comma."""
import shutil
from pathlib import Path

import pytest

from engine import cli
from engine.metadata.codes import MetadataInvalid
from engine.metadata.loader import load_app
from tests.apps import write_app
from tests.conftest import DEMO_APP

CUSTOMER, PRODUCT, ORDER, LINE = "entities/customer.yaml", "entities/product.yaml", "entities/sales_order.yaml", "entities/sales_order_line.yaml"
FLOW, FORM, ROLES = "workflows/sales_order_flow.yaml", "forms/sales_order.yaml", "roles.yaml"
ERP = "connectors/erp.yaml"

# name: ([(file, text in the demo, text planted instead)], [(file, text on the line expected, code)])
CASES = {
    "field type typo in customer.yaml": (
        [(CUSTOMER, "type: decimal", "type: decimall")],
        [(CUSTOMER, "type: decimall", "E006")]),
    "key typo in customer.yaml": (
        [(CUSTOMER, "title_field: name", "title_feild: name")],
        [(CUSTOMER, "title_feild", "E003")]),
    "YAML syntax error in customer.yaml": (
        [(CUSTOMER, "  name:\n    type: string", "  name:\n    type: string\n   bad: [")],
        [(CUSTOMER, "   bad: [", "E001")]),
    "misspelt required key in the workflow": (
        [(FLOW, "initial: draft", "inital: draft")],
        [(FLOW, "inital: draft", "E003")]),
    "YAML syntax error in the workflow": (
        [(FLOW, "initial: draft", "initial: [draft")],
        [(FLOW, "states:", "E001")]),
    "state name that is no option": (
        [(FLOW, "  ready: {color: green", "  redy: {color: green")],
        [(FLOW, "  redy: {color: green", "E038")]),
    "state field typo": (
        [(FLOW, "state_field: status", "state_field: statuss")],
        [(FLOW, "state_field: statuss", "E037")]),
    "workflow for an unknown entity": (
        [(FLOW, "entity: sales_order", "entity: sales_ordr")],
        [(FLOW, "entity: sales_ordr", "E037")]),
    "no workflow while form sections name states": (  # the form, the erp connector and the workflow's reports each need it
        [(FLOW, None, None)],
        [(FORM, "states: [approved,", "E038"), (ERP, "to: approved", "E048"), ("reports/on_time_by_state.yaml", "facts: deadlines", "E053"),
         ("reports/opinions_by_department.yaml", "facts: reviews", "E053"), ("reports/time_in_state.yaml", "facts: history", "E053")]),
    "roles.yaml fails its schema": (
        [(ROLES, "    inherits: [sales_rep]", "    inherit: [sales_rep]")],
        [(ROLES, "    inherit: [sales_rep]", "E003")]),
    "roles.yaml user field type typo": (
        [(ROLES, "    type: select", "    type: selct")],
        [(ROLES, "    type: selct", "E006")]),
    "child entity fails its schema": (
        [(LINE, "    type: decimal", "    type: decimall")],
        [(LINE, "    type: decimall", "E006")]),
    "parent entity fails its schema": (
        [(ORDER, "search_fields:", "search_fieldz:")],
        [(ORDER, "search_fieldz:", "E003")]),
    "entity-level problem in sales_order": (
        [(ORDER, "default_sort: -order_date", "default_sort: -order_dat")],
        [(ORDER, "default_sort: -order_dat", "E015")]),
    "a Gantt arrow from a field that is no link to the same entity": (
        [(ORDER, "group: owner, title: [number, customer]}", "group: owner, title: [number, customer], depends_on: customer}")],
        [(ORDER, "depends_on: customer", "E015")]),
    "a field that fails its own checks": (
        [(ORDER, "    entity: customer\n    display_field: name\n", "    entity: customer\n    display_field: name\n    precision: 3\n")],
        [(ORDER, "    precision: 3", "E014")]),
    "a link to an unknown entity": (
        [(ORDER, "    entity: customer\n", "    entity: custmer\n")],
        [(ORDER, "    entity: custmer", "E012")]),
    "a computed field that does not compile": (
        [(ORDER, "expression: sum(lines.amount)", "expression: sum(lines.amout)")],
        [(ORDER, "expression: sum(lines.amout)", "E022")]),
    "form for an unknown entity": (
        [(FORM, "entity: sales_order", "entity: sales_ordr")],
        [(FORM, "entity: sales_ordr", "E016")]),
    "label map with an unquoted comma": (
        [(PRODUCT, "label: {en: Product,", "label: {en: Pumps, valves,")],
        [(PRODUCT, "label: {en: Pumps, valves,", "E006")]),
    "a line's field hidden (lines show whole)": (
        [(ROLES, "      customer: {credit_limit: read_only}\n", "      customer: {credit_limit: read_only}\n      sales_order_line: {unit_price: hidden}\n")],
        [(ROLES, "sales_order_line: {unit_price: hidden}", "E033")]),
    "'*' as the entity of field rules": (
        [(ROLES, "      product: {cost: hidden}", '      "*": {cost: hidden}')],
        [(ROLES, '      "*": {cost: hidden}', "E007")]),
    # two or three independent mistakes in different files: every root cause is reported
    "customer typo and a form field typo": (
        [(CUSTOMER, "type: decimal", "type: decimall"), (FORM, "          - requested_delivery_date", "          - requested_delivry_date")],
        [(CUSTOMER, "type: decimall", "E006"), (FORM, "requested_delivry_date", "E017")]),
    "customer typo and a misnamed state": (
        [(CUSTOMER, "title_field: name", "title_feild: name"), (FLOW, "  ready: {color: green", "  redy: {color: green")],
        [(CUSTOMER, "title_feild", "E003"), (FLOW, "  redy: {color: green", "E038")]),
    "broken roles.yaml and a misnamed form state": (
        [(ROLES, "    inherits: [sales_rep]", "    inherit: [sales_rep]"), (FORM, "states: [cancelled]", "states: [canceled]")],
        [(ROLES, "    inherit: [sales_rep]", "E003"), (FORM, "states: [canceled]", "E038")]),
    "broken child entity and a workflow field typo": (
        [(LINE, "    type: decimal", "    type: decimall"), (FLOW, "editable: [notes]", "editable: [note]")],
        [(LINE, "    type: decimall", "E006"), (FLOW, "editable: [note]", "E015")]),
}


def plant(tmp_path: Path, changes) -> Path:
    app = tmp_path / "app"
    shutil.copytree(DEMO_APP, app, ignore=shutil.ignore_patterns("demo"))
    for rel, old, new in changes:
        p = app / rel
        if old is None:
            p.unlink()
            continue
        text = p.read_text(encoding="utf-8")
        assert old in text, f"the demo app changed: '{old}' is no longer in {rel}"
        p.write_text(text.replace(old, new, 1), encoding="utf-8")
    return app


def line_of(app: Path, rel: str, needle: str) -> int:
    lines = (app / rel).read_text(encoding="utf-8").splitlines()
    hits = [i + 1 for i, line in enumerate(lines) if needle.split("\n")[0] in line]
    assert len(hits) == 1, f"'{needle}' is on lines {hits} of {rel}"
    return hits[0]


def loader_problems(app: Path) -> list:
    with pytest.raises(MetadataInvalid) as exc:
        load_app(app)
    return exc.value.problems


def check_output(app: Path, capsys, monkeypatch, tmp_path) -> tuple[int, list[str], str]:
    monkeypatch.delenv("ENGINE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # no var/app.db here: check reads the files only
    capsys.readouterr()
    code = cli.main(["check", "--app", str(app)])
    out = capsys.readouterr()
    return code, out.out.splitlines(), out.err


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_mistake_is_reported_once_and_independent_ones_all(case, tmp_path, capsys, monkeypatch):
    changes, expected = CASES[case]
    app = plant(tmp_path, changes)
    want = sorted((str(app / rel), line_of(app, rel, needle), code) for rel, needle, code in expected)
    problems = loader_problems(app)
    assert sorted((p.file, p.line, p.code) for p in problems) == want, [p.format() for p in problems]
    for p in problems:
        assert p.hint or "hint:" in p.format()
    code, lines, err = check_output(app, capsys, monkeypatch, tmp_path)
    assert code == 1
    shown = sorted((line.split(":")[0], int(line.split(":")[1]), line.split(": ")[1].split(" ")[0]) for line in lines)
    assert shown == want, lines
    assert all(" - hint: " in line for line in lines)
    assert err.strip() == f"{len(want)} problem{'s' if len(want) > 1 else ''} found"


def test_messages_say_what_was_meant(tmp_path):
    """The typo cases name the word meant; the comma case says to quote the text."""
    def one(changes) -> str:
        problems = loader_problems(plant(tmp_path / str(len(list(tmp_path.iterdir()))), changes))
        assert len(problems) == 1, [p.format() for p in problems]
        return problems[0].format()
    assert "did you mean 'decimal'?" in one([(CUSTOMER, "type: decimal", "type: decimall")])
    assert "unknown property 'title_feild' - did you mean 'title_field'?" in one([(CUSTOMER, "title_field: name", "title_feild: name")])
    assert "did you mean 'initial'? (it is required)" in one([(FLOW, "initial: draft", "inital: draft")])
    assert "state 'redy' is not an option of sales_order.status - did you mean 'ready'?" in one([(FLOW, "  ready: {color: green", "  redy: {color: green")])
    comma = one([(PRODUCT, "label: {en: Product,", "label: {en: Pumps, valves,")])
    assert "'valves' became a language without text" in comma and comma.endswith('hint: quote the text: en: "Pumps, valves"')
    star = one([(ROLES, "      product: {cost: hidden}", '      "*": {cost: hidden}')])
    assert "'*' (every ...) is not supported here" in star and "every other field in a role's field rules" in star
    no_flow = one([(FLOW, None, None), (ERP, None, None), ("reports/on_time_by_state.yaml", None, None),
                   ("reports/opinions_by_department.yaml", None, None), ("reports/time_in_state.yaml", None, None),
                   ("dashboards/management.yaml", None, None)])
    assert "sales_order has no workflow" in no_flow and "(2 sections do)" in no_flow


def test_label_maps_cut_by_commas_anywhere(tmp_path):
    """Labels sit in many places (options, help, form placeholders); each cut map is one problem,
    with the whole text, every piece after the comma included, to quote."""
    app = write_app(tmp_path, {
        "entities/thing.yaml": """
            name: thing
            fields:
              kind:
                type: select
                options:
                  - {value: pump, label: {en: Pumps, valves, fittings, zh: 泵}}
              note:
                type: string
                help: {en: Red, blue}
              title: {type: string, label: {english: Title}}
        """})
    problems = loader_problems(Path(app))
    assert [(p.line, p.code, p.hint) for p in problems] == [
        (7, "E006", 'quote the text: en: "Pumps, valves, fittings"'),
        (10, "E006", 'quote the text: en: "Red, blue"'),
        (11, "E006", "use language tags as keys (en: ..., zh: ...); quote a text that holds a comma or a colon"),
    ]


STAR_APP = {
    "entities/part.yaml": """
        name: part
        title_field: title
        search_fields: [title]
        fields:
          title: {type: string}
          cost: {type: decimal}
          note: {type: text}
          supplier_ref: {type: string}
    """,
    "roles.yaml": """
        roles:
          clerk:
            permissions: {part: all}
            fields:
              part: {"*": read_only, title: editable, cost: hidden}
          buyer:
            inherits: [clerk]
            fields:
              part: {cost: read_only}
          viewer:
            permissions: {part: {read: all}}
            fields:
              part: {"*": hidden, title: read_only}
    """,
}


def test_star_in_field_rules_means_every_field_the_rule_set_does_not_name(tmp_path):
    app = load_app(write_app(tmp_path, STAR_APP))
    rules = {(r.role, r.field): r.level for role in app.roles.values() for r in role.field_rules}
    assert rules == {("clerk", "title"): "editable", ("clerk", "cost"): "hidden", ("clerk", "note"): "read_only",
                     ("clerk", "supplier_ref"): "read_only", ("buyer", "cost"): "read_only",
                     ("viewer", "title"): "read_only", ("viewer", "cost"): "hidden", ("viewer", "note"): "hidden",
                     ("viewer", "supplier_ref"): "hidden"}
    star_line = next(r.where for r in app.roles["clerk"].field_rules if r.field == "note")
    assert star_line == "roles.yaml:6"  # explanations point at the "*" rule


def test_star_covers_custom_fields_an_admin_adds_later(tmp_path):
    app = load_app(write_app(tmp_path, STAR_APP), {"part": {"new_fields": {"colour": {"type": "string"}}}})
    assert "colour" in app.entities["part"].fields
    rules = {(r.role, r.field): r.level for role in app.roles.values() for r in role.field_rules}
    assert rules[("viewer", "colour")] == "hidden" and rules[("clerk", "colour")] == "read_only"


def test_star_hidden_may_not_hide_what_search_or_the_title_shows(tmp_path):
    files = dict(STAR_APP, **{"roles.yaml": """
        roles:
          viewer:
            permissions: {part: {read: all}}
            fields:
              part: {"*": hidden}
    """})
    problems = loader_problems(Path(write_app(tmp_path, files)))
    assert [(p.code, p.line) for p in problems] == [("E033", 6)]
    assert "'*': hidden would hide title" in problems[0].message and problems[0].hint == "name it in this rule set with the level to keep, e.g. title: read_only"


def test_star_field_rules_hold_on_every_read_and_write_path(dbs, tmp_path):
    """The rules "*" stands for are ordinary field rules: the record service, lists, the API
    and the OpenAPI document apply them like rules written out one by one."""
    from starlette.testclient import TestClient

    from engine.core.errors import ValidationFailed
    from engine.records.listing import ListQuery
    from engine.server import create_app
    from tests.conftest import make_user

    rt = dbs.runtime(write_app(tmp_path, STAR_APP))
    clerk, buyer, viewer = (make_user(rt, n, roles=(n,)) for n in ("clerk", "buyer", "viewer"))
    admin = rt.records.permissions.grants(clerk)
    assert admin.hidden("part") == {"cost"} and admin.level("part", "note") == "read_only" and admin.level("part", "title") == "editable"
    assert rt.records.permissions.grants(buyer).level("part", "cost") == "read_only"  # the most permissive rule in the line of inheritance
    assert rt.records.permissions.grants(viewer).hidden("part") == {"cost", "note", "supplier_ref"}
    part = rt.records.create(clerk, "part", {"title": "Valve"})
    with pytest.raises(ValidationFailed) as exc:
        rt.records.update(clerk, "part", part["id"], {"note": "x"}, version=part["version"])
    assert exc.value.errors[0].field == "note"
    assert rt.records.update(clerk, "part", part["id"], {"title": "Valve 2"}, version=part["version"])["title"] == "Valve 2"
    seen = rt.records.get(viewer, "part", part["id"])
    assert "title" in seen and not {"cost", "note", "supplier_ref"} & set(seen)
    listed = rt.records.list(viewer, "part", ListQuery(limit=10))["items"]
    assert listed and not {"cost", "note", "supplier_ref"} & set(listed[0])
    with pytest.raises(ValidationFailed):  # filtering on a hidden field would reveal it
        rt.records.list(viewer, "part", ListQuery(filters=[("note", "eq", "x")]))
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        r = c.post("/api/v1/auth/token", json={"username": "viewer", "password": "demo"})
        h = {"Authorization": f"Bearer {r.json()['token']}"}
        item = c.get(f"/api/v1/part/{part['id']}", headers=h).json()
        assert "title" in item and not {"cost", "note", "supplier_ref"} & set(item)
        assert not {"cost", "note", "supplier_ref"} & set(c.get("/api/v1/part", headers=h).json()["items"][0])
        described = c.get("/api/v1/openapi.json", headers=h).json()["components"]["schemas"]["part"]["properties"]
        assert "title" in described and not {"cost", "note", "supplier_ref"} & set(described)
