"""The bell and the notifications page: the count and the newest notifications load after the page;
each notification is shown in the reader's language of now (a user who switches to Russian reads
yesterday's notifications in Russian); opening one marks it read and goes to its record; a
notification about a record the reader no longer sees is not shown; mark all as read."""
import pytest
from starlette.testclient import TestClient

from engine.server import create_app
from tests.conftest import make_user
from tests.html import visible_text
from tests.orders import new_order
from tests.web.test_pages import SECRET, csrf, sign_in


@pytest.fixture
def web(rt):
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as c:
        yield c


def test_the_bell_counts_shows_in_the_readers_language_and_opens_the_record(rt, people, web):
    order = new_order(rt, people)
    rt.comments.add(people["rep"], "sales_order", order["id"], "please look @sup")
    assert sign_in(web, "sup").status_code == 303
    page = web.get("/")
    assert 'hx-get="/notifications/bell"' in page.text  # the page does not wait for the bell
    bell = web.get("/notifications/bell")
    assert visible_text(bell.text).startswith("1 Notifications Mark all as read rep mentioned you: “please look @sup”")
    rt.accounts.set_language(people["sup"], "ru")
    bell = web.get("/notifications/bell")
    assert "rep упомянул(а) вас: «please look @sup»" in visible_text(bell.text)  # said in Russian now, though sent in English
    listed = web.get("/notifications")
    assert "rep упомянул(а) вас" in visible_text(listed.text) and "не прочитано" in visible_text(listed.text)
    nid = int(listed.text.split('href="/notifications/')[1].split("/open")[0])
    opened = web.get(f"/notifications/{nid}/open", follow_redirects=False)
    assert opened.status_code == 303 and opened.headers["location"] == f"/sales_order/{order['id']}"
    assert "bell-count" not in web.get("/notifications/bell").text  # read now
    assert web.get("/notifications/999999/open").status_code == 404
    assert web.get("/notifications/abc/open").status_code == 404


def test_a_notification_about_a_record_out_of_reach_is_not_shown_and_all_can_be_marked_read(rt, people, web, clerk):
    order = new_order(rt, people)
    rt.comments.add(people["rep"], "sales_order", order["id"], "@sup first")
    other = new_order(rt, people)
    rt.comments.add(people["rep"], "sales_order", other["id"], "@sup second")
    assert sign_in(web, "sup").status_code == 303
    assert ">2</span>" in web.get("/notifications/bell").text
    rt.records.delete(people["boss"], "sales_order", other["id"])  # gone: its notification no longer shows
    bell = web.get("/notifications/bell")
    assert ">1</span>" in bell.text and "@sup second" not in bell.text
    page = web.get("/notifications")
    done = web.post("/notifications/read", data={"csrf_token": csrf(page.text), "next": "/notifications"}, follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/notifications"
    assert "bell-count" not in web.get("/notifications/bell").text
    assert "first" in visible_text(web.get("/notifications").text)  # read ones stay on the page
    evil = web.post("/notifications/read", data={"csrf_token": csrf(page.text), "next": "//evil.example.com"}, follow_redirects=False)
    assert evil.headers["location"] == "/"
    make_user(rt, "nobody_told", roles=("sales_rep",))
    assert sign_in(web, "nobody_told").status_code == 303
    assert "No notifications yet" in visible_text(web.get("/notifications").text)


def test_read_notifications_are_forgotten_after_the_keep_days_and_unread_ones_stay(rt, people, monkeypatch):
    import datetime as dt

    from sqlalchemy import select

    from engine.app import tasks
    from engine.records import notifications
    order = new_order(rt, people)
    rt.comments.add(people["rep"], "sales_order", order["id"], "old news @sup")
    rt.comments.add(people["rep"], "sales_order", order["id"], "still waiting @boss")
    rt.records.mark_read(people["sup"])
    n = rt.schema.notification
    with rt.db.write() as conn:  # read 100 days ago
        conn.execute(n.update().values(read_at=dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=100), created_at=conn.execute(
            select(n.c.created_at).limit(1)).scalar() - dt.timedelta(days=100)).where(n.c.read_at.is_not(None)))
    monkeypatch.setenv("ENGINE_NOTIFICATION_KEEP_DAYS", "120")
    assert notifications.prune(rt.db, rt.schema, dt.datetime.now(dt.timezone.utc) - tasks.notification_keep()) == 0
    monkeypatch.setenv("ENGINE_NOTIFICATION_KEEP_DAYS", "90")
    assert notifications.prune(rt.db, rt.schema, dt.datetime.now(dt.timezone.utc) - tasks.notification_keep()) == 1
    with rt.db.read() as conn:
        assert [r.user_id for r in conn.execute(select(n))] == [people["boss"].id]  # unread: kept, however old
