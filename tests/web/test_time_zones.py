"""Times on the screens are the user's: a user in Shanghai types 15:30 into a datetime field and
means 15:30 in Shanghai (07:30 UTC, what the API gives); the form, the record page and a form sent
back after an error show it as they typed it."""
import re

from starlette.testclient import TestClient

from engine.server import create_app
from engine.web.forms import local_moment
from tests.apps import write_app
from tests.conftest import make_user
from tests.html import visible_text
from tests.web.test_pages import SECRET, csrf, sign_in

VISITS = {
    "app.yaml": "name: visits\nlabel: Visits\nlanguages: [en]\n",
    "entities/visit.yaml": "name: visit\nfields:\n  customer: {type: string, required: true}\n  visit_at: {type: datetime, required: true}\n",
    "roles.yaml": "roles:\n  measurer:\n    permissions:\n      visit: {read: own, create: own, update: own}\n",
}


def test_a_datetime_typed_means_the_users_zone():
    assert local_moment("2026-12-07T15:30", "Asia/Shanghai") == "2026-12-07T15:30:00+08:00"
    assert local_moment("2026-12-07T15:30", "") == "2026-12-07T15:30:00+00:00"
    assert local_moment("2026-12-07T15:30", "Nowhere/Land") == "2026-12-07T15:30:00+00:00"
    assert local_moment("not a time", "Asia/Shanghai") == "not a time"


def test_the_form_and_the_record_show_the_time_in_the_users_zone(dbs, tmp_path):
    rt = dbs.runtime(write_app(tmp_path / "visits", VISITS))
    anna = make_user(rt, "anna", roles=("measurer",))
    rt.accounts.set_time_zone(anna, "Asia/Shanghai")
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        assert sign_in(web, "anna").status_code == 303
        form = web.get("/visit/new")
        fields = re.search(r'name="_fields" value="([^"]+)"', form.text).group(1)
        wrong = web.post("/visit/new", data={"csrf_token": csrf(form.text), "_fields": fields, "customer": "", "visit_at": "2026-12-07T15:30"})
        assert wrong.status_code == 422 and 'value="2026-12-07T15:30"' in wrong.text  # kept as typed
        made = web.post("/visit/new", data={"csrf_token": csrf(form.text), "_fields": fields, "customer": "Ivanov", "visit_at": "2026-12-07T15:30"},
                        follow_redirects=False)
        assert made.status_code == 303
        rid = int(made.headers["location"].rsplit("/", 1)[1])
        assert rt.records.get(anna, "visit", rid)["visit_at"].isoformat() == "2026-12-07T07:30:00+00:00"
        assert "Visit at Dec 7, 2026, 3:30:00 PM" in visible_text(web.get(f"/visit/{rid}").text)
        assert 'value="2026-12-07T15:30"' in web.get(f"/visit/{rid}/edit").text
