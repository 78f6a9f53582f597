"""The report screens without a browser: the list holds only what the reader may run; a report
another role's is a 404; the Excel download holds the same figures as the page, with a totals row."""
import io
import re

import pytest
from python_calamine import CalamineWorkbook
from starlette.testclient import TestClient

from engine.app import demo
from engine.server import create_app
from tests.conftest import DatabaseFactory
from tests.html import visible_text
from tests.web.test_pages import SECRET, csrf, sign_in


@pytest.fixture(scope="module")
def web(tmp_path_factory):
    f = DatabaseFactory(tmp_path_factory.mktemp("report_pages"))
    rt = f.runtime()
    demo.load(rt)
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as c:
        yield c
    f.close()


def test_a_rep_sees_their_reports_and_downloads_one_as_excel(web):
    sign_in(web, "rep_east1")
    listed = visible_text(web.get("/reports?lang=en").text)
    assert "Orders by status" in listed and "Orders by month and category" in listed and "Top customers" not in listed
    assert web.get("/reports/top_customers").status_code == 404
    page = web.get("/reports/orders_by_status?order_date__period=all")
    assert page.status_code == 200 and 'value="all" selected' in page.text
    book = CalamineWorkbook.from_filelike(io.BytesIO(web.get("/reports/orders_by_status.xlsx?order_date__period=all").content))
    rows = book.get_sheet_by_index(0).to_python()
    assert rows[0] == ["Status", "Orders", "Total", "Average order"]
    assert rows[-1][0] == "Total" and rows[-1][1] == sum(r[1] for r in rows[1:-1])
    shown = visible_text(page.text)
    assert f"Total {int(rows[-1][1]):,}" in shown  # the page's totals row says the same
    assert web.get("/reports/orders_by_status?nothing=1").status_code == 422


def test_a_lists_sum_row_and_its_groups_add_up_to_what_the_list_shows(web):
    import re
    from decimal import Decimal
    sign_in(web, "rep_east1")
    page = web.get("/sales_order?lang=en&category=standard")
    assert 'id="sums"' in page.text and 'hx-get="/sales_order/sums?' in page.text  # the sum row loads after the page
    sums = visible_text(web.get("/sales_order/sums?lang=en&category=standard").text)
    shown = re.findall(r"SO-\d{4}-\d{5}", page.text)
    assert sums.startswith(f"Total of {len(set(shown))}")  # every matching order of the rep's: fewer than a page here
    total = Decimal(sums.split()[-1].replace(",", ""))
    rows = re.findall(r'<td class="num" data-label="Total"><span class="num">([\d,.]+)</span>', page.text)
    assert rows and total == sum(Decimal(r.replace(",", "")) for r in rows)
    grouped = web.get("/sales_order?lang=en&category=standard&group=status")
    table = visible_text(grouped.text.split('class="card table-wrap groups"', 1)[1].split("</table>", 1)[0])
    counts = [int(n) for n in re.findall(r" (\d+) [\d,]+\.\d\d", table)]
    assert sum(counts) == len(set(shown))
    assert 'href="/sales_order?category=standard&amp;status=draft"' in grouped.text  # a group opens the list filtered to it
    refused = web.get("/sales_order?lang=en&group=nothing")  # a group the list cannot have: said, and the list still shown
    assert refused.status_code == 200 and "cannot group by 'nothing'" in visible_text(refused.text) and re.search(r"SO-\d{4}-\d{5}", refused.text)


def test_the_calendar_feed_is_the_readers_list_in_the_window_asked_for(web):
    import json
    sign_in(web, "rep_east1")
    feed = web.get("/sales_order/calendar/events?start=2026-10-26T00:00:00%2B08:00&end=2026-12-07T00:00:00%2B08:00")
    assert feed.status_code == 200
    events = json.loads(feed.text)
    assert events and all("2026-10-26" <= e["start"] < "2026-12-07" and e["allDay"] for e in events)
    listed = web.get("/api/v1/sales_order")  # the screens' session does not open the API: compare with the list screen instead
    page = web.get("/sales_order?requested_delivery_date__gte=2026-10-26&requested_delivery_date__lt=2026-12-07&limit=200")
    assert len(events) == len(set(re.findall(r'href="/sales_order/(\d+)\?list=', page.text)))
    assert listed.status_code == 401
    assert web.get("/sales_order/calendar/events?start=2026-01-01&end=2026-12-31").status_code == 400  # at most two months
    assert web.get("/customer/calendar").status_code == 404  # customers have no calendar
    gantt = web.get("/sales_order/gantt?lang=en&from=2026-09-01&to=2026-12-31")
    assert gantt.status_code == 200 and "style-src 'self' 'nonce-" in gantt.headers["content-security-policy"]
    assert "data-rows" not in gantt.text  # rows by owner: an order passes to another owner by its workflow, not by a drag
    order = re.search(r'href="/sales_order/(\d+)"', gantt.text).group(1)
    token = re.search(r'name="csrf-token" content="([^"]+)"', gantt.text).group(1)
    moved = web.post(f"/sales_order/{order}/reschedule?view=gantt", headers={"X-CSRF-Token": token}, content=json.dumps({"group": 1, "version": 1}))
    assert moved.status_code == 400 and moved.json() == {"error": "the rows of this chart cannot be changed here"}  # said on the page


def test_a_record_opened_from_a_list_steps_to_the_lists_previous_and_next(web):
    sign_in(web, "rep_east1")
    page = web.get("/sales_order?lang=en&category=standard&sort=-total")
    links = re.findall(r'<a href="(/sales_order/(\d+)\?list=[^"]+)"', page.text)
    assert len(links) >= 3 and "category%3Dstandard" in links[0][0]
    ids = [int(i) for _, i in links]
    middle = web.get(links[1][0].replace("&amp;", "&")).text
    prev = re.search(r'href="/sales_order/(\d+)\?list=[^"]*" rel="prev"', middle)
    nxt = re.search(r'href="/sales_order/(\d+)\?list=[^"]*" rel="next"', middle)
    assert (int(prev.group(1)), int(nxt.group(1))) == (ids[0], ids[2])  # the list's order: by total, largest first
    first = web.get(links[0][0].replace("&amp;", "&")).text
    assert 'rel="prev"' not in first and 'rel="next"' in first  # the first has no previous
    assert "Previous" not in visible_text(web.get(f"/sales_order/{ids[0]}").text)  # opened on its own: no list to step through
    broken = web.get(f"/sales_order/{ids[0]}?list=sort%3Dnothing")
    assert broken.status_code == 200 and 'rel="next"' not in broken.text  # a list that no longer makes sense: no steps, no error


def test_a_user_chooses_a_lists_columns_and_keeps_them(web):
    sign_in(web, "rep_east1")
    page = web.get("/sales_order?lang=en")
    heads = re.findall(r'<th scope="col"[^>]*>\s*<a [^>]*>([^<]+)<', page.text)
    assert heads[:2] == ["Number", "Customer"]
    r = web.post("/sales_order/columns", data={"csrf_token": csrf(page.text), "columns": ["number", "total", "payment_terms", "erp_number", "nothing"],
                                               "next": "/sales_order?lang=en&category=standard"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/sales_order?lang=en&category=standard"
    page = web.get("/sales_order?lang=en")
    assert re.findall(r'<th scope="col"[^>]*>\s*<a [^>]*>([^<]+)<', page.text) == ["Number", "Total", "Payment terms", "ERP document"]
    sums = visible_text(web.get("/sales_order/sums").text)
    assert sums.startswith("Total of") and len(re.findall(r"<td", web.get("/sales_order/sums").text)) == 4  # the sum row follows the columns
    sign_in(web, "sup_east")  # each user their own
    assert re.findall(r'<th scope="col"[^>]*>\s*<a [^>]*>([^<]+)<', web.get("/sales_order?lang=en").text)[:2] == ["Number", "Customer"]
    sign_in(web, "rep_east1")
    page = web.get("/sales_order?lang=en")
    web.post("/sales_order/columns", data={"csrf_token": csrf(page.text), "reset": "1"})
    assert re.findall(r'<th scope="col"[^>]*>\s*<a [^>]*>([^<]+)<', web.get("/sales_order?lang=en").text)[:2] == ["Number", "Customer"]
    evil = web.post("/sales_order/columns", data={"csrf_token": csrf(page.text), "columns": ["number"], "next": "//evil.example/x"},
                    follow_redirects=False)
    assert evil.headers["location"] == "/sales_order"


def test_a_report_is_filtered_by_a_link_picked_as_in_the_lists_filters(web):
    sign_in(web, "rep_east1")
    page = web.get("/reports/orders_by_status?lang=en&order_date__period=all")
    assert 'hx-get="/sales_order/options/customer?for=f-customer"' in page.text  # typed, then chosen
    order_id = re.search(r'href="/sales_order/(\d+)\?list=', web.get("/sales_order?lang=en").text).group(1)
    cid = re.search(r'href="/customer/(\d+)"', web.get(f"/sales_order/{order_id}").text).group(1)
    narrowed = web.get(f"/reports/orders_by_status?lang=en&order_date__period=all&customer={cid}&customer__title=x")
    assert narrowed.status_code == 200 and f'name="customer" value="{cid}"' in narrowed.text
    foot = re.search(r"<tfoot>(.*?)</tfoot>", narrowed.text, re.S).group(1)
    total = int(re.findall(r"<strong>([\d,]+)</strong>", foot)[0].replace(",", ""))
    mine = set(re.findall(r'href="/sales_order/(\d+)\?list=', web.get(f"/sales_order?customer={cid}&limit=200").text))
    assert total == len(mine) > 0


def test_a_window_with_more_than_it_shows_says_so(web, monkeypatch):
    from engine.web import timeviews
    monkeypatch.setattr(timeviews, "MOST", 2)
    sign_in(web, "sup_east")
    feed = web.get("/sales_order/calendar/events?start=2026-10-01&end=2026-12-01")
    assert len(feed.json()) == 2 and feed.headers["x-engine-capped"] == "2"
    page = web.get("/sales_order/gantt?lang=en&from=2026-07-01&to=2027-01-31")
    assert "Only the first 2 of this period are shown: choose a shorter one." in visible_text(page.text)
    monkeypatch.setattr(timeviews, "MOST", 2000)
    assert "x-engine-capped" not in web.get("/sales_order/calendar/events?start=2026-10-01&end=2026-12-01").headers


def test_every_report_page_opens_for_whoever_may_run_it(web):
    """Reports of lines and of workflow facts too: their filters are the facts' own fields, and their rows link to no list."""
    sign_in(web, "manager")
    names = re.findall(r'href="/reports/([a-z_]+)"', web.get("/reports?lang=en").text)
    assert {"on_time_by_state", "time_in_state", "opinions_by_department", "sales_by_product"} <= set(names)
    for name in set(names):
        page = web.get(f"/reports/{name}?lang=en")
        assert page.status_code == 200, (name, visible_text(page.text)[:300])
    facts = web.get("/reports/time_in_state?lang=en").text
    assert 'href="/sales_order?' not in facts  # a fact's row is no list of orders
