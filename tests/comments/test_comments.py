"""Comments over the API: whoever reads the record discusses it (a reviewing department too);
@mentions reach only people who may read the record, and tell them in the bell; the author edits
within ten minutes, the author or an administrator deletes; a record out of scope is a 404 on
every path; the text is shown as safe HTML; each change is an audited event."""
import datetime as dt
import json

import pytest
from sqlalchemy import select

from engine.comments import service as comments_service
from engine.workflow import transitions
from tests.conftest import api_as
from tests.orders import new_order


@pytest.fixture
def who(rt, client, people):
    return {name: api_as(client, name) for name in ("rep", "other", "sup", "boss", "technical", "clerk")}


def say(api, order_id, text, entity="sales_order"):
    return api.post(f"/api/v1/{entity}/{order_id}/comments", json={"text": text})


def bell(rt, user) -> list[str]:
    n = rt.schema.notification
    with rt.db.read() as conn:
        return [r.message for r in conn.execute(select(n).where(n.c.user_id == user.id, n.c.kind == "mention").order_by(n.c.id))]


def test_people_who_read_the_order_discuss_it_and_mentions_reach_them(rt, people, who):
    order = new_order(rt, people)
    first = say(who["rep"], order["id"], "Drawing attached, **please check** the seal size @sup")
    assert first.status_code == 201, first.text
    made = first.json()
    assert (made["author"], made["mentions"], made["may_edit"], made["may_delete"]) == ("rep", ["sup"], True, True)
    assert made["html"] == '<p>Drawing attached, <strong>please check</strong> the seal size <span class="mention">@sup</span></p>'
    assert bell(rt, people["sup"]) == ["rep mentioned you: “Drawing attached, **please check** the seal size @sup”"]
    assert bell(rt, people["rep"]) == []  # the author is not told of their own comment
    # the supervisor answers; the technical department reads orders in review and joins in without changing it
    assert say(who["sup"], order["id"], "Fine by me").status_code == 201
    transitions.fire(rt.records, people["rep"], "sales_order", order["id"], "submit")
    tech = say(who["technical"], order["id"], "Seal size confirmed @rep")
    assert tech.status_code == 201 and bell(rt, people["rep"]) == ["technical mentioned you: “Seal size confirmed @rep”"]
    listed = who["rep"].get(f"/api/v1/sales_order/{order['id']}/comments").json()["items"]
    assert [(c["author"], c["may_edit"], c["may_delete"]) for c in listed] == [("rep", True, True), ("sup", False, False), ("technical", False, False)]


def test_a_mention_of_someone_who_cannot_see_the_order_is_refused_and_tells_them_nothing(rt, people, who):
    order = new_order(rt, people)
    r = say(who["rep"], order["id"], "@other have a look, and @nobody too")
    assert r.status_code == 422
    assert [e["message"] for e in r.json()["errors"]] == ["@other cannot see this sales order: mention only people who can",
                                                           "there is no user @nobody: mention people by their user name"]
    assert bell(rt, people["other"]) == []
    assert who["rep"].get(f"/api/v1/sales_order/{order['id']}/comments").json()["items"] == []
    assert say(who["rep"], order["id"], "mail me at rep@example.com.").json()["mentions"] == []  # an address is not a mention


def test_the_records_scope_decides_on_every_path(rt, people, who):
    order = new_order(rt, people)
    made = say(who["rep"], order["id"], "only for the team").json()
    url = f"/api/v1/sales_order/{order['id']}/comments"
    assert who["other"].get(url).status_code == 404
    assert say(who["other"], order["id"], "hello").status_code == 404
    assert who["other"].patch(f"/api/v1/comments/{made['id']}", json={"text": "x"}).status_code == 404
    assert who["other"].delete(f"/api/v1/comments/{made['id']}").status_code == 404
    assert who["boss"].get(f"/api/v1/product/{people['product']}/comments").status_code == 404  # products take no comments


def test_the_author_edits_within_ten_minutes_and_the_author_or_an_admin_deletes(rt, people, who):
    order = new_order(rt, people)
    made = say(who["rep"], order["id"], "first thought").json()
    edit = f"/api/v1/comments/{made['id']}"
    assert who["sup"].patch(edit, json={"text": "not mine"}).status_code == 403
    changed = who["rep"].patch(edit, json={"text": "second thought @sup"})
    assert changed.status_code == 200 and changed.json()["edited_at"] and changed.json()["mentions"] == ["sup"]
    assert bell(rt, people["sup"]) == ["rep mentioned you: “second thought @sup”"]  # a mention added by an edit is told too
    rt.records.clock = lambda: dt.datetime.now(dt.timezone.utc) + dt.timedelta(minutes=comments_service.EDIT_MINUTES + 1)
    late = who["rep"].patch(edit, json={"text": "third"})
    assert late.status_code == 409 and "10 minutes" in late.json()["detail"]
    assert who["rep"].get(f"/api/v1/sales_order/{order['id']}/comments").json()["items"][0]["may_edit"] is False
    assert who["sup"].delete(edit).status_code == 403  # not the author, not an administrator
    assert who["clerk"].delete(edit).status_code == 204  # an administrator
    other = say(who["rep"], order["id"], "mine to delete").json()
    assert who["rep"].delete(f"/api/v1/comments/{other['id']}").status_code == 204
    assert who["rep"].get(f"/api/v1/sales_order/{order['id']}/comments").json()["items"] == []


def test_bad_input_gets_a_clear_answer(rt, people, who):
    order = new_order(rt, people)
    assert say(who["rep"], order["id"], "   ").json()["errors"][0]["message"] == "write something first"
    assert say(who["rep"], order["id"], "x" * 10001).json()["errors"][0]["message"] == "at most 10000 characters"
    wrong = who["rep"].post(f"/api/v1/sales_order/{order['id']}/comments", json={"body": "hi"})
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "text"
    hostile = say(who["rep"], order["id"], '<img src=x onerror=alert(1)> [x](javascript:alert(1)) <a href="https://evil">y</a>').json()
    assert "<img" not in hostile["html"] and 'href="javascript' not in hostile["html"] and "<a href=\"https://evil\"" not in hostile["html"]
    assert hostile["html"].startswith("<p>&lt;img src=x onerror=alert(1)&gt;")


def test_comments_are_audited_events_and_go_with_their_record(rt, people, who):
    order = new_order(rt, people)
    made = say(who["rep"], order["id"], "note").json()
    who["rep"].patch(f"/api/v1/comments/{made['id']}", json={"text": "note, corrected"})
    history = who["rep"].get(f"/api/v1/sales_order/{order['id']}/history").json()["items"]
    assert [h["action"] for h in history][-2:] == ["comment", "comment_edit"]
    e = rt.schema.event
    with rt.db.read() as conn:
        kinds = [(t, json.loads(d)["comment"]["text"]) for t, d in conn.execute(
            select(e.c.type, e.c.data).where(e.c.record_id == order["id"], e.c.type.like("comment%")).order_by(e.c.id))]
    assert kinds == [("comment_added", "note"), ("comment_edited", "note, corrected")]
    rt.records.delete(people["boss"], "sales_order", order["id"])
    with rt.db.read() as conn:
        assert conn.execute(select(rt.schema.comment)).first() is None
