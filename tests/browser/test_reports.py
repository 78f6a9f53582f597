"""Reports in the browser: a supervisor opens the reports from the menu, sees the orders by status as
a chart with the table beside it (the same figures as the API's, within the team's scope), widens
the period, downloads it as Excel, and a click on a bar opens the list of those orders; on a phone
in Chinese and on a laptop in Russian."""
import re

from playwright.sync_api import expect

from tests.browser.conftest import shot, sign_in


def test_a_supervisor_reads_orders_by_status_and_clicks_through_to_the_list(browser, live):
    base, rt = live
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = sign_in(ctx, base, "sup_east")
    page.goto(base + "/?lang=en")
    page.locator("nav.menu a", has_text="Reports").click()
    expect(page.locator("h1")).to_have_text("Reports")
    expect(page.locator(".report-tiles .tile")).to_have_count(7)  # by status, month, product, top customers, and the workflow's three
    page.locator(".tile", has_text="Orders by status").click()
    expect(page.locator("h1")).to_have_text("Orders by status")
    expect(page.locator("#chart canvas")).to_be_visible()  # drawn by ECharts
    token = page.request.post(base + "/api/v1/auth/token", data={"username": "sup_east", "password": "demo"}).json()["token"]
    api = page.request.get(base + "/api/v1/reports/orders_by_status?lang=en", headers={"Authorization": f"Bearer {token}"}).json()
    rows = page.locator("table.report-table tbody tr")
    expect(rows).to_have_count(len(api["rows"]))
    first = api["rows"][0]
    expect(rows.first.locator("td").first).to_have_text(first["status"])
    expect(rows.first.locator("td").nth(1)).to_have_text(f"{first['orders']:,}")
    expect(page.locator("table.report-table tfoot td").nth(1)).to_have_text(f"{api['totals']['orders']:,}")
    page.locator("#chart[data-drawn]").wait_for()
    shot(page, "report-orders-by-status", full_page=True)
    page.select_option("select[name=order_date__period]", "all")  # submits on change
    page.wait_for_url(re.compile(r"order_date__period=all"))
    everything = page.request.get(base + "/api/v1/reports/orders_by_status?order_date__gte=1900-01-01",
                                  headers={"Authorization": f"Bearer {token}"}).json()
    expect(page.locator("table.report-table tfoot td").nth(1)).to_have_text(f"{everything['totals']['orders']:,}")
    with page.expect_download() as got:
        page.get_by_role("link", name="Download as Excel").click()
    assert got.value.suggested_filename == "Orders by status.xlsx"
    page.locator("#chart[data-drawn]").wait_for()  # the bars have grown to their height
    x, y, label = page.evaluate("""() => {  // the middle of the tallest bar, where a user would click it
        const el = document.getElementById('chart'), chart = echarts.getInstanceByDom(el), option = chart.getOption();
        const data = option.series[0].data, i = data.indexOf(Math.max(...data));
        const [px, top] = chart.convertToPixel({seriesIndex: 0}, [i, data[i]]), [, bottom] = chart.convertToPixel({seriesIndex: 0}, [i, 0]);
        const box = el.getBoundingClientRect();
        return [box.left + px, box.top + (top + bottom) / 2, option.xAxis[0].data[i]];
    }""")
    page.mouse.click(x, y)
    value = next(r["status__value"] for r in everything["rows"] if r["status"] == label)
    page.wait_for_url(re.compile(rf"/sales_order\?.*status={value}"))
    expect(page.locator("h1")).to_contain_text("Sales orders")
    ctx.close()


def test_reports_on_a_phone_in_chinese_and_a_laptop_in_russian(browser, live):
    base, rt = live
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True)
    page = sign_in(phone, base, "manager")
    page.goto(base + "/reports/orders_by_month?lang=zh&order_date__period=all")
    expect(page.locator("h1")).to_have_text("按月份和类别统计订单")
    page.locator("#chart[data-drawn]").wait_for()
    expect(page.locator("table.report-table thead th").first).to_have_text("月份")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"
    shot(page, "report-orders-by-month-zh-phone")
    phone.close()
    laptop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    page = sign_in(laptop, base, "manager")
    page.goto(base + "/reports/top_customers?lang=ru&order_date__period=all")
    expect(page.locator("h1")).to_have_text("Крупнейшие клиенты")
    expect(page.locator("table.report-table thead th").last).to_have_text("Доля экспорта")
    expect(page.locator("table.report-table tbody tr").first.locator("td").last).to_contain_text("%")
    shot(page, "report-top-customers-ru", full_page=True)
    laptop.close()


def test_dashboards_open_from_the_home_page_in_each_language(browser, live):
    base, rt = live
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = sign_in(ctx, base, "sup_east")
    page.goto(base + "/?lang=en")
    page.get_by_role("link", name="Dashboard: Sales").click()
    expect(page.locator("h1")).to_have_text("Sales")
    cards = page.locator(".dash-card")
    expect(cards).to_have_count(6)
    token = page.request.post(base + "/api/v1/auth/token", data={"username": "sup_east", "password": "demo"}).json()["token"]
    year = page.request.get(base + "/api/v1/reports/orders_by_month", headers={"Authorization": f"Bearer {token}"}).json()
    expect(cards.nth(1).locator(".dash-number")).to_have_text(f"{year['totals']['orders']:,}")  # the team's, as the report says
    expect(cards.nth(0).locator(".dash-change")).to_contain_text("before:")
    for chart in page.locator(".dash-chart").all():
        expect(chart.locator("canvas")).to_be_visible()
    page.locator(".dash-chart[data-drawn]").first.wait_for()
    shot(page, "dashboard-sales", full_page=True)
    ctx.close()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True)
    page = sign_in(phone, base, "rep_east1")
    page.goto(base + "/dashboard?lang=zh")
    expect(page.locator("h1")).to_have_text("销售看板")
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.locator(".dash-chart[data-drawn]").first.wait_for()
    shot(page, "dashboard-sales-zh-phone")
    phone.close()
    laptop = browser.new_context(viewport={"width": 1280, "height": 900}, locale="ru-RU")
    page = sign_in(laptop, base, "manager")
    page.goto(base + "/dashboard?lang=ru")
    expect(page.locator("h1")).to_have_text("Руководство")  # the manager's own dashboard first
    expect(page.get_by_role("link", name="Продажи")).to_be_visible()  # and the sales one a click away
    page.locator(".dash-chart[data-drawn]").first.wait_for()
    shot(page, "dashboard-management-ru", full_page=True)
    laptop.close()


def test_a_list_adds_up_and_groups_what_it_shows(browser, live):
    base, rt = live
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = sign_in(ctx, base, "sup_east")
    page.goto(base + "/sales_order?lang=en&category=standard")
    expect(page.locator("tfoot .sum-row")).to_contain_text("Total of")  # loaded after the page
    page.select_option("#group-select", "status")
    page.wait_for_url(re.compile(r"group=status"))
    groups = page.locator(".groups tbody tr")
    expect(groups.first).to_be_visible()
    first = groups.first.locator("td").first.inner_text()
    count = int(groups.first.locator("td").nth(1).inner_text().replace(",", ""))
    shot(page, "list-grouped", full_page=True)
    groups.first.locator("a").click()
    page.wait_for_url(re.compile(r"status="))
    expect(page.locator("tfoot .sum-row")).to_contain_text(f"Total of {count}")
    expect(page.locator("tbody#rows tr").first.locator("td[data-label=Status]")).to_have_text(first)
    second = page.locator("tbody#rows tr").nth(1).locator("a").first.inner_text()
    page.locator("tbody#rows tr").first.locator("a").first.click()  # a record opened from the list steps through it
    page.get_by_role("link", name="Next →").click()
    expect(page.locator("h1")).to_contain_text(second)
    expect(page.get_by_role("link", name="← Previous")).to_be_visible()
    shot(page, "record-previous-next")
    page.goto(base + "/sales_order?lang=en")  # the columns this user wants, kept for them
    page.locator(".columns-menu summary").click()
    page.locator(".columns-menu input[value=customer]").uncheck()
    page.locator(".columns-menu input[value=owner]").check()
    shot(page, "list-columns-menu")
    page.get_by_role("button", name="Show these columns").click()
    page.wait_for_url(re.compile(r"/sales_order"))
    heads = page.locator("table.list thead th").all_inner_texts()
    assert "Customer" not in [h.strip() for h in heads] and "Owner" in [h.strip() for h in heads]
    page.locator(".columns-menu summary").click()
    page.get_by_role("button", name="The list's own columns").click()
    expect(page.locator("table.list thead th", has_text="Customer")).to_be_visible()
    ctx.close()
