"""Connector documents as `run.py check` sees them: every mistake reported with file, line and what to
write instead; secrets only as ${VAR} references; an unset variable leaves the connector off."""
import textwrap

import pytest

from engine.metadata.codes import MetadataInvalid
from engine.metadata.loader import load_app
from tests.apps import write_app
from tests.connectors.shop import APP


def problems(tmp_path, connector: str) -> list[str]:
    files = {k: v for k, v in APP.items() if not k.startswith("connectors/")}
    files["connectors/erp.yaml"] = textwrap.dedent(connector)
    app = write_app(tmp_path / "app", files)
    with pytest.raises(MetadataInvalid) as e:
        load_app(app)
    return [f"{p.line}: {p.code} {p.message}" for p in e.value.problems]


BASE = "name: erp\ntype: rest\nbase_url: https://erp.example.com\n"


@pytest.mark.parametrize("on, expected", [
    ("  - {entity: order, event: updated, to: approved}\n", "5: E048 to: (the state entered) goes with event: transitioned"),
    ("  - {entity: order, event: transitioned, to: shipped}\n", "5: E048 'shipped' is not a state of order (states: draft, approved)"),
    ("  - {entity: order_line, event: created}\n", "5: E048 'order_line' is not a top-level entity of the app"),
    ("  - {entity: order, event: created, when: 'total > 5'}\n", "5: E022 unknown name 'total'"),
    ("  - {entity: order, event: approved}\n", "5: E006 'approved' is not allowed; use one of: created, updated, deleted, transitioned"),
])
def test_triggers_are_checked(tmp_path, on, expected):
    got = problems(tmp_path, BASE + "on:\n" + on)
    assert len(got) == 1 and got[0].startswith(expected), got


def test_templates_write_backs_and_secrets_are_checked(tmp_path):
    got = problems(tmp_path, BASE + """\
        on: [{entity: order, event: created}]
        headers: {Authorization: "Bearer abc123", X-Trace: "{{ event.id }}"}
        body: {number: "{{ record.number "}
        sign: {secret: whsec_abc}
        response:
          set: {amount_due: "{{ response.x }}", number: "{{ response.n }}"}
        """.replace("        ", ""))
    assert got == [
        "5: E035 the header Authorization carries a credential; it must not be written in the metadata",
        "6: E048 the template does not compile: unexpected end of template, expected 'end of print statement'.",
        "7: E035 the signing secret must not be written in the metadata",
        "9: E048 the response writes 'amount_due', which is not a field of order",
        "9: E048 the response writes 'number', which is computed or read-only in order",  # numbered by its series
    ]


def test_a_rest_connector_needs_somewhere_to_send(tmp_path):
    got = problems(tmp_path, "name: erp\ntype: rest\non: [{entity: order, event: created}]\n")
    assert got == ["1: E048 a rest connector needs base_url: where it sends, like ${ERP_URL}"]
    got = problems(tmp_path, "name: erp\ntype: rest\nbase_url: erp.example.com\non: [{entity: order, event: created}]\n")
    assert got == ["3: E048 base_url 'erp.example.com' is not a web address (http:// or https://)"]


def test_unset_variables_leave_the_connector_off(tmp_path, monkeypatch):
    monkeypatch.delenv("TEST_ERP_URL", raising=False)
    monkeypatch.setenv("TEST_ERP_TOKEN", "x")
    monkeypatch.delenv("TEST_ERP_SECRET", raising=False)
    app = load_app(write_app(tmp_path / "app", APP))
    erp = app.connectors["erp"]
    assert erp.missing == ("TEST_ERP_URL", "TEST_ERP_SECRET") and not erp.enabled
    assert erp.triggers[0].to == "approved" and erp.retry.max_attempts == 4 and erp.timeout == 1


def test_webhook_documents_are_checked(tmp_path):
    got = problems(tmp_path, """\
        name: erp
        type: webhook
        secret: whsec_literal
        base_url: https://x.example.com
        actions:
          - entity: order
            find: {amount: "{{ data.order }}"}
            set: {number: "{{ data.n }}"}
            fire: ship
          - entity: order
            find: {id: "{{ data.id }}"}
        """.replace("        ", ""))
    assert got == [
        "3: E035 the webhook's signing secret must not be written in the metadata",
        "4: E048 base_url: is for a connector that sends; a webhook connector receives",
        "7: E048 find: looks a record up by id or a unique field; 'amount' is not one of order",
        "8: E048 set: writes 'number', which is computed or read-only in order",
        "9: E048 'ship' is not a transition of order (transitions: approve)",
        "10: E048 an action sets fields (set:), fires a transition (fire:), or both",
    ]


def test_email_documents_are_checked(tmp_path):
    got = problems(tmp_path, """\
        name: erp
        type: email
        on: [{entity: order, event: created}]
        to: ["{{ record.contact "]
        subject: {en: "Order {{ record.number }}"}
        base_url: https://x.example.com
        """.replace("        ", ""))
    assert got == [
        "1: E048 an email connector needs text: the plain text, per language",
        "4: E048 the template does not compile: unexpected end of template, expected 'end of print statement'.",
        "6: E048 base_url: is not a key of an email connector (to, subject, text, html, language)",
    ]


def channel_problems(tmp_path, connectors: dict[str, str], notify: str) -> list[str]:
    """Problems of the shop app with these connectors and this notify entry on its approve transition."""
    files = {k: v for k, v in APP.items() if not k.startswith("connectors/")}
    files.update({f"connectors/{name}.yaml": textwrap.dedent(text) for name, text in connectors.items()})
    files["workflows/order_flow.yaml"] = APP["workflows/order_flow.yaml"].replace(
        "approve: {from: [draft], to: approved}", "approve:\n            from: [draft]\n            to: approved\n            notify:\n"
        + textwrap.indent(textwrap.dedent(notify), " " * 14))
    app = write_app(tmp_path / f"app{len(list(tmp_path.iterdir()))}", files)  # a fresh folder each time
    try:
        load_app(app)
    except MetadataInvalid as e:
        return [f"{p.file.split('/')[-1]}:{p.line}: {p.code} {p.message}" for p in e.problems]
    return []


def test_notify_channels_need_a_connector_that_carries_them(tmp_path):
    entry = """\
        - to: [clerk]
          channels: [in_app, email, sms]
          subject: "Order {{ number }}"
          message: "Order {{ number }} is approved."
        """
    assert channel_problems(tmp_path, {}, entry) == [
        "order_flow.yaml:15: E043 notify sends by email, but no connector carries the email channel",
        "order_flow.yaml:15: E043 notify sends by sms, but no connector carries the sms channel",
    ]
    mail = "name: mail\ntype: email\nchannel: true\n"
    texts = "name: texts\ntype: sms\nchannel: true\nbase_url: ${TEXTS_URL}\n"
    assert channel_problems(tmp_path, {"mail": mail, "texts": texts}, entry) == []
    assert channel_problems(tmp_path, {"mail": mail}, entry.replace("in_app, email, sms", "in_app")) == [
        "order_flow.yaml:16: E043 subject: is the subject of an e-mail; add email to channels: or drop it"]
    assert channel_problems(tmp_path, {"mail": mail}, entry.replace("in_app, email, sms", "email, fax")) == [
        "order_flow.yaml:15: E006 'fax' is not allowed; use one of: in_app, email, sms"]


def test_channel_connectors_are_checked(tmp_path):
    entry = "- {to: [clerk], channels: [email], message: Approved.}\n"
    mail = "name: mail\ntype: email\nchannel: true\n"
    assert channel_problems(tmp_path, {"mail": mail + "on: [{entity: order, event: created}]\n"}, entry) == [
        "mail.yaml:4: E048 a channel connector sends the workflows' notifications, not events of its own; declare a second connector for these events"]
    assert channel_problems(tmp_path, {"mail": mail, "post": mail.replace("name: mail", "name: post")}, entry) == [
        "post.yaml:3: E048 the email channel is carried by connector 'mail' already; one connector per channel"]
    assert channel_problems(tmp_path, {"mail": mail, "erp": "name: erp\ntype: rest\nchannel: true\nbase_url: https://erp.example.com\n"}, entry) == [
        "erp.yaml:3: E048 channel: is for an email or sms connector, which carries the workflows' notifications; this one is a rest connector"]
    assert channel_problems(tmp_path, {"mail": "name: mail\ntype: email\n"}, entry) == [
        "mail.yaml:1: E048 an email connector needs on: the events it sends mail for (or channel: true, to carry the workflows' notifications)",
        "mail.yaml:1: E048 an email connector needs to: the addresses (templates), like \"{{ record.email }}\"",
        "mail.yaml:1: E048 an email connector needs subject: the subject, per language",
        "mail.yaml:1: E048 an email connector needs text: the plain text, per language",
        "order_flow.yaml:14: E043 notify sends by email, but no connector carries the email channel",
    ]
    assert channel_problems(tmp_path, {"mail": "name: mail\ntype: email\nchannel: yes please\n"}, entry) == [
        "mail.yaml:3: E005 expected boolean, got text"]  # a failed connector: nothing said of the channels it might carry


def test_sla_reminders_and_escalations_may_name_channels(tmp_path):
    files = {k: v for k, v in APP.items() if not k.startswith("connectors/")}
    files["connectors/mail.yaml"] = "name: mail\ntype: email\nchannel: true\n"
    files["workflows/order_flow.yaml"] = APP["workflows/order_flow.yaml"].replace("draft: {}", """draft:
            sla:
              deadline: 2d
              reminders: [{before: 4h, notify: [clerk], channels: [in_app, email]}]
              escalations: [{after: 0m, notify: [owner], channels: [email]}, {after: 1d, channels: [sms], reassign: owner_manager}]""")
    with pytest.raises(MetadataInvalid) as e:
        load_app(write_app(tmp_path / "app", files))
    assert [f"{p.line}: {p.code} {p.message}" for p in e.value.problems] == [
        "11: E043 channels: says how the people of notify: hear of it; this escalation names no one",
        "11: E043 notify sends by sms, but no connector carries the sms channel",
    ]
    files["workflows/order_flow.yaml"] = files["workflows/order_flow.yaml"].replace(", {after: 1d, channels: [sms], reassign: owner_manager}", "")
    st = load_app(write_app(tmp_path / "app2", files)).workflows["order"].states["draft"].sla
    assert (st.reminders[0].channels, st.escalations[0].channels) == (("in_app", "email"), ("email",))
