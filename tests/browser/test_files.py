"""Files on the record page in the browser: a sales rep drops a photo and a drawing onto their order
(each with a progress bar), sees the photo's thumbnail, downloads the drawing under its own name, is
told why a mislabelled file is refused, and removes a file; a colleague gets a 404 for the order and
for each of its files. On a laptop in English and Chinese and on a phone in Russian."""
import re
import struct
import zlib

from playwright.sync_api import expect

from engine.records.listing import ListQuery
from tests.browser.conftest import shot, sign_in

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def png(width: int = 64, height: int = 48) -> bytes:
    """A real PNG image (a blue-to-green gradient), so the thumbnail has something to show."""
    rows = b"".join(b"\x00" + b"".join(bytes((20, 60 + 3 * x, 200 - 2 * y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


def an_order_of(rt, username: str) -> dict:
    from tests.conftest import _who
    rep = _who(rt, username)
    return next(o for o in rt.records.list(rep, "sales_order", ListQuery(limit=50))["items"] if o["status"] == "draft" and o["owner"] == rep.id)


def test_a_rep_attaches_views_downloads_and_removes_files(browser, live):
    base, rt = live
    order = an_order_of(rt, "rep_east1")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = sign_in(ctx, base, "rep_east1")
    page.goto(f"{base}/sales_order/{order['id']}")
    files = page.locator("#files")
    expect(files.locator("h2")).to_contain_text("Files (0)")
    expect(files.locator(".drop-text")).to_have_text("Drop files here or choose them")
    page.set_input_files("[data-upload-input]", files=[
        {"name": "Pump on site.png", "mimeType": "image/png", "buffer": png()},
        {"name": "Чертёж 泵 GP-40.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    expect(files.locator(".files li")).to_have_count(2)  # both arrived, and the page shows the list again
    expect(files.locator("h2")).to_contain_text("Files (2)")
    thumb = files.locator(".files li", has_text="Pump on site.png").locator("img")
    expect(thumb).to_be_visible()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle())  # loaded (on a busy machine, later)
    assert thumb.evaluate("img => img.naturalWidth") == 64
    expect(files.locator(".files li", has_text="Чертёж 泵 GP-40.pdf")).to_contain_text("Rep East 1")  # who added it, by name
    with page.expect_download() as got:
        files.locator("a.file-name", has_text="GP-40").click()
    assert got.value.suggested_filename == "Чертёж 泵 GP-40.pdf"
    # a PDF named like an image is refused, and the page says why, beside the file
    page.set_input_files("[data-upload-input]", files=[{"name": "photo.png", "mimeType": "image/png", "buffer": PDF}])
    expect(files.locator(".uploads li.failed")).to_contain_text("photo.png is named like a PNG image but its content is a PDF document")
    shot(page, "record-files", full_page=True)
    page.reload()
    page.once("dialog", lambda d: d.accept())
    files.locator(".files li", has_text="Pump on site.png").locator("button", has_text="Remove").click()
    page.wait_for_url(re.compile(r"/sales_order/\d+#files$"))
    expect(files.locator(".files li")).to_have_count(1)
    file_url = files.locator("a.file-name").get_attribute("href")
    ctx.close()
    # a colleague outside the rep's scope: neither the order nor its file exists for them
    other = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = sign_in(other, base, "rep_east2")
    assert page.request.get(f"{base}/sales_order/{order['id']}").status == 404
    assert page.request.get(base + file_url).status == 404
    other.close()


def test_the_files_section_in_chinese_and_on_a_phone_in_russian(browser, live):
    base, rt = live
    order = an_order_of(rt, "rep_west1")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = sign_in(ctx, base, "rep_west1")
    page.goto(f"{base}/sales_order/{order['id']}?lang=zh")
    page.set_input_files("[data-upload-input]", files=[{"name": "现场照片.png", "mimeType": "image/png", "buffer": png()},
                                                       {"name": "技术规格书.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    expect(page.locator("#files .files li")).to_have_count(2)
    expect(page.locator("#files h2")).to_contain_text("文件")
    expect(page.locator("#files .drop-text")).to_have_text("将文件拖到此处或选择文件")
    page.locator("#files").scroll_into_view_if_needed()
    shot(page, "record-files-zh", full_page=True)
    ctx.close()
    phone = browser.new_context(viewport={"width": 390, "height": 844}, locale="ru-RU", is_mobile=True, has_touch=True)
    page = sign_in(phone, base, "rep_west1")
    page.goto(f"{base}/sales_order/{order['id']}?lang=ru")
    expect(page.locator("#files h2")).to_contain_text("Файлы (2)")
    expect(page.locator("#files .files li").first).to_contain_text("Удалить")
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width}px wide on a 390px phone"
    page.locator("#files").scroll_into_view_if_needed()
    shot(page, "record-files-ru-phone")
    phone.close()


def test_a_rep_prints_the_order_confirmation_from_the_record_page(browser, live):
    import subprocess
    base, rt = live
    order = an_order_of(rt, "rep_east1")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = sign_in(ctx, base, "rep_east1")
    page.goto(f"{base}/sales_order/{order['id']}?lang=zh")
    page.click(".print-menu summary")
    link = page.locator(".print-menu a", has_text="订单确认书")
    expect(link).to_be_visible()
    shot(page, "record-print-menu-zh")
    pdf = page.request.get(base + link.get_attribute("href"))
    assert pdf.status == 200 and pdf.headers["content-type"] == "application/pdf"
    text = subprocess.run(["pdftotext", "-", "-"], input=pdf.body(), capture_output=True, check=True).stdout.decode("utf-8")
    assert f"订单确认书 {order['number']}" in text and "客户" in text
    contract = page.locator(".print-menu a", has_text="销售合同")
    text = subprocess.run(["pdftotext", "-", "-"], input=page.request.get(base + contract.get_attribute("href")).body(),
                          capture_output=True, check=True).stdout.decode("utf-8")
    assert "购销合同" in text  # an order that is not for export: the domestic contract
    ctx.close()


def test_a_rep_gives_a_line_its_drawing_on_the_order_form(browser, live):
    base, rt = live
    order = an_order_of(rt, "rep_east2")
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    page = sign_in(ctx, base, "rep_east2")
    page.goto(f"{base}/sales_order/{order['id']}/edit")
    drawing = page.locator("input[type=file][name='lines-0-drawing']")
    expect(drawing).to_be_attached()
    drawing.set_input_files(files=[{"name": "Flange Ø120.pdf", "mimeType": "application/pdf", "buffer": PDF}])
    quantity = page.locator("[name='lines-0-quantity']")
    quantity.fill("3")  # the live recompute runs without the file, and the file is still chosen after it
    expect(page.locator("#calc-lines-0-amount")).not_to_have_text("")
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/sales_order/{order['id']}$"))
    link = page.locator("table.lines a.file-value")
    expect(link).to_have_text("Flange Ø120.pdf")
    with page.expect_download() as got:
        link.click()
    assert got.value.suggested_filename == "Flange Ø120.pdf"
    # a photo as a drawing shows small beside its name; a text file is refused, beside its line
    page.goto(f"{base}/sales_order/{order['id']}/edit")
    expect(page.locator("#w-lines-0-drawing .file-now a.file-value")).to_have_text("Flange Ø120.pdf")
    page.locator("#w-lines-0-drawing").scroll_into_view_if_needed()
    shot(page, "form-line-drawing")
    page.locator("input[type=file][name='lines-0-drawing']").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"just text"}])
    page.get_by_role("button", name="Save").click()
    expect(page.locator("#form-errors")).to_be_visible()
    expect(page.locator("#w-lines-0-drawing .field-error")).to_have_text("notes.txt is not a kind of file Drawing takes; it takes: .pdf, .dwg, .dxf, image/*")
    expect(page.locator("#w-lines-0-drawing .file-now a.file-value")).to_have_text("Flange Ø120.pdf")  # still the drawing it has
    page.locator("input[type=file][name='lines-0-drawing']").set_input_files(files=[{"name": "site.png", "mimeType": "image/png", "buffer": png()}])
    page.get_by_role("button", name="Save").click()
    page.wait_for_url(re.compile(rf"/sales_order/{order['id']}$"))
    expect(page.locator("table.lines a.file-value img")).to_be_visible()
    expect(page.locator("table.lines a.file-value")).to_contain_text("site.png")
    shot(page, "record-line-drawing", full_page=True)
    ctx.close()
