"""The conversation with a customer about their order: staff share a comment or keep it internal; the contact reads
and writes only the shared ones, on the portal and in the API; each side hears of the other's message; nothing
internal - comments, transition notes, department opinions - reaches the contact through the history either."""
import re

import pytest
from sqlalchemy import select

from engine.core.errors import NotFound, ValidationFailed
from engine.records.listing import ListQuery
from tests.conftest import _who
from tests.html import visible_text
from tests.web.test_pages import csrf, sign_in


def an_order(site, username="client_east", status=None):
    items = site.records.list(_who(site, username), "sales_order", ListQuery(limit=500))["items"]
    return next(o for o in items if status is None or o["status"] == status)


def notices(site, user_id, record_id):
    n = site.schema.notification
    with site.db.read() as conn:
        return [r.message for r in conn.execute(select(n.c.message).where(n.c.user_id == user_id, n.c.record_id == record_id))]


def test_staff_share_a_comment_or_keep_it_internal(site, web):
    order = an_order(site)
    rep, east = _who(site, "rep_east1"), _who(site, "client_east")
    owner = _who(site, "rep_east2") if order["owner"] == _who(site, "rep_east2").id else rep
    sign_in(web, owner.username)
    page = web.get(f"/sales_order/{order['id']}?lang=en")
    assert "Share with the customer (they read it on the portal)" in visible_text(page.text)
    web.post(f"/sales_order/{order['id']}/comments", data={"csrf_token": csrf(page.text), "text": "Margin is thin here, push for net 30"})
    web.post(f"/sales_order/{order['id']}/comments", data={"csrf_token": csrf(page.text), "text": "Your order ships on Friday.", "shared": "1"})
    staff_view = visible_text(web.get(f"/sales_order/{order['id']}?lang=en").text)
    assert "Margin is thin" in staff_view and "shared with the customer" in staff_view
    mine = site.comments.list(east, "sales_order", order["id"])
    assert [c["text"] for c in mine] == ["Your order ships on Friday."] and mine[0]["shared"] is True
    hidden = next(c for c in site.comments.list(owner, "sales_order", order["id"]) if c["text"].startswith("Margin"))
    with pytest.raises(NotFound):
        site.comments.get(east, hidden["id"])  # an internal comment does not exist for them
    assert any("Your order ships on Friday." in m for m in notices(site, east.id, order["id"]))  # told of the shared one
    assert not any("Margin" in m for m in notices(site, east.id, order["id"]))
    with pytest.raises(ValidationFailed) as exc:  # a contact is never mentioned in an internal note
        site.comments.add(owner, "sales_order", order["id"], "@client_east should not see this")
    assert "reads only comments shared with them" in str(exc.value.errors[0].message)
    site.comments.add(owner, "sales_order", order["id"], "@client_east please confirm the address", shared=True)


def test_a_contact_writes_to_the_company_and_the_owner_hears_of_it(site, web):
    order = an_order(site)
    sign_in(web, "client_east")
    page = web.get(f"/portal/sales_order/{order['id']}?lang=en")
    shown = visible_text(page.text)
    assert "Messages" in shown and "Margin is thin" not in shown
    sent = web.post(f"/portal/sales_order/{order['id']}/comments", data={"csrf_token": csrf(page.text), "text": "Can you deliver to gate 3? @rep_east1"},
                    follow_redirects=False)
    assert sent.status_code == 303 and re.search(r"#message-\d+$", sent.headers["location"])
    owner_view = site.comments.list(_who(site, "rep_east1"), "sales_order", order["id"])
    theirs = next(c for c in owner_view if c["text"].startswith("Can you deliver"))
    assert theirs["shared"] and theirs["from_party"] and theirs["mentions"] == []  # a contact mentions nobody
    assert any("of Sunrise Valves wrote on" in m and "gate 3" in m for m in notices(site, order["owner"], order["id"]))
    empty = web.post(f"/portal/sales_order/{order['id']}/comments", data={"csrf_token": csrf(page.text), "text": "  "})
    assert empty.status_code == 422 and "write something first" in visible_text(empty.text)
    sign_in(web, "rep_east1")
    assert "from the customer" in visible_text(web.get(f"/sales_order/{order['id']}?lang=en").text)


def test_the_api_and_the_history_show_a_contact_nothing_internal(site, web):
    order = an_order(site, status="closed") if any(o["status"] == "closed" for o in site.records.list(
        _who(site, "client_east"), "sales_order", ListQuery(limit=500))["items"]) else an_order(site, status="approved")
    manager = _who(site, "manager")
    site.comments.add(manager, "sales_order", order["id"], "internal: check their credit again")
    token = web.post("/api/v1/auth/token", json={"username": "client_east", "password": "demo"}).json()["token"]
    h = {"Authorization": f"Bearer {token}"}
    listed = web.get(f"/api/v1/sales_order/{order['id']}/comments", headers=h).json()["items"]
    assert all(c["shared"] for c in listed) and not any("credit" in c["text"] for c in listed)
    history = web.get(f"/api/v1/sales_order/{order['id']}/history", headers=h).json()["items"]
    staff_history = site.records.history(manager, "sales_order", order["id"])
    assert any(e["action"] == "review" for e in staff_history) and not any(e["action"] == "review" for e in history)
    assert {e["action"] for e in history} <= {"create", "update", "delete", "transition", "comment", "comment_edit", "comment_delete"}
    assert not any(e["changes"].get("transition", {}).get("comment") for e in history)
    assert "credit again" not in str(history)
    steps = web.get(f"/api/v1/sales_order/{order['id']}/timeline", headers=h)
    assert steps.status_code == 200 and all(s["comment"] is None and s["inputs"] == {} for s in steps.json()["items"])
    assert web.get(f"/api/v1/sales_order/{order['id']}/review", headers=h).status_code == 403
