"""Importing in the browser, as the manager: the Import button, upload, the column mapping, a dry run
that shows errors and the changes to existing customers, the import, and - with the task queue
running - an order file imported with a progress bar; the list's Export menu with its column
chooser. On a laptop and a phone, in Chinese and Russian."""
import time
from pathlib import Path

import pytest
from playwright.sync_api import expect

from engine.app import tasks
from tests.browser.conftest import _demo_server, shot, sign_in

DEMO_FILES = Path(__file__).resolve().parents[2] / "metadata" / "demo" / "import"


@pytest.fixture(scope="module")
def live_imports(tmp_path_factory):
    """A server of its own with the demo data: the imports here add customers and orders."""
    yield from _demo_server(tmp_path_factory, "browser_imports")


def test_the_manager_checks_then_imports_customers(browser, live_imports):
    base, rt = live_imports
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = sign_in(ctx, base, "manager")
    page.goto(base + "/customer?lang=zh")
    page.click(".head-actions a:has-text('导入')")
    expect(page.locator("h1")).to_have_text("导入客户")
    text = (DEMO_FILES / "customers.csv").read_text("utf-8").replace("华西,预付", "火星,预付")
    page.set_input_files("#f-file", files=[{"name": "客户.csv", "mimeType": "text/csv", "buffer": text.encode("utf-8")}])
    page.select_option("#f-key", "code")
    shot(page, "import-upload-zh")
    page.click("button.primary")
    expect(page.locator("#import-mapping")).to_be_visible()
    expect(page.locator("#map-0")).to_have_value("code")  # 编码 is the label of code: mapped by itself
    shot(page, "import-mapping-zh", full_page=True)
    page.select_option("#map-4", "")  # 信用额度: the credit limit is read-only to the manager; leave that column out
    page.click("#import-mapping button[value='1']")
    expect(page.locator("#import-result h2")).to_have_text("检查完成：未写入任何内容")
    shot(page, "import-dry-run-zh", full_page=True)
    expect(page.locator("#import-errors tbody tr").first).to_contain_text("火星")
    assert page.locator("#import-errors tbody tr td:first-child").all_inner_texts() == ["3"]  # 火星 is said once
    expect(page.locator("#map-4")).to_have_value("")  # the mapping as it was last run
    shot(page, "import-dry-run-zh", full_page=True)
    page.check("#import-mapping input[name=skip_errors]")
    page.click("#import-mapping button[value='0']")
    expect(page.locator("#import-result h2")).to_have_text("已导入")
    with page.expect_download() as got:
        page.click("#errors-download")
    assert got.value.suggested_filename == "客户.errors.csv"
    ctx.close()


def test_a_large_order_file_runs_in_the_background_with_a_progress_bar(browser, live_imports, tmp_path):
    base, rt = live_imports
    queue = tasks.make_queue(rt, f"sqlite:///{tmp_path / 'tasks.db'}")
    consumer = tasks.start_embedded(queue)
    try:
        rows = ["order_ref;Клиент;Дата заказа;lines.product;lines.quantity;lines.unit_price"]
        rows += [f"R-{i};C001;31.03.2026;P001;{1 + i % 5};1 250,50" for i in range(150)]
        ctx = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU", is_mobile=True)
        page = sign_in(ctx, base, "manager")
        page.goto(base + "/sales_order/import?lang=ru")
        page.set_input_files("#f-file", files=[{"name": "заказы.csv", "mimeType": "text/csv", "buffer": "\n".join(rows).encode("cp1251")}])
        page.click("button.primary")
        expect(page.locator("#import-mapping")).to_be_visible()
        shot(page, "import-mapping-ru-phone", full_page=True)
        page.click("#import-mapping button[value='0']")
        expect(page.locator("#import-progress progress")).to_be_visible()
        shot(page, "import-progress-ru-phone")
        expect(page.locator("#import-result h2")).to_have_text("Импортировано", timeout=60_000)
        expect(page.locator("#import-result .tile").first).to_contain_text("150")
        shot(page, "import-result-ru-phone", full_page=True)
        ctx.close()
    finally:
        consumer.stop(graceful=True)
        rt.queue = None
    time.sleep(0)


def test_the_export_menu_chooses_columns_and_a_row_per_line(browser, live_imports):
    base, _ = live_imports
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US", accept_downloads=True)
    page = sign_in(ctx, base, "rep_east1")
    page.goto(base + "/sales_order")
    page.click("#export summary")
    form = page.locator(".export-form")
    expect(form).to_be_visible()
    form.locator("input[value=notes]").uncheck()
    form.locator("input[name=per_line]").check()
    shot(page, "export-menu")
    with page.expect_download() as got:
        form.locator("button.primary").click()
    from python_calamine import CalamineWorkbook
    sheet = CalamineWorkbook.from_path(got.value.path()).get_sheet_by_index(0).to_python()
    assert "Notes" not in sheet[0] and "Lines.Product" in sheet[0] and len(sheet) > 2
    ctx.close()
