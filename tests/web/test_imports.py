"""The import screens as a user goes through them: the Import button for those with the `import`
permission, upload, the mapping (adjusted, and remembered for the next file), a dry run that shows
the errors and the changes to existing records, the import itself, its result, the errors file
and the template - with CSRF, and closed to other users."""
import io

from python_calamine import CalamineWorkbook
from starlette.testclient import TestClient

from engine.server import create_app
from tests.html import text_by_id, texts_of, visible_text
from tests.web.test_connectors import csrf_of, signed_in

FILE = "Код;Название;Регион;Цвет\nC801;Альфа;east;red\nC802;Бета;mars;blue\n"


def test_a_manager_uploads_maps_checks_and_imports_customers(rt, people):
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        signed_in(client, "rep")
        assert "Import" not in texts_of(client.get("/customer").text, "head-actions") + [""]  # reps may not import customers
        assert client.get("/customer/import").status_code == 403
        assert "Import" in visible_text(client.get("/sales_order").text)  # ...but their own orders
        client.cookies.clear()
        signed_in(client, "boss")
        page = client.get("/customer/import?lang=ru")
        assert page.status_code == 200 and "Импорт" in visible_text(page.text)
        csrf = csrf_of(page.text)
        assert client.post("/customer/import", files={"file": ("c.csv", FILE.encode(), "text/csv")}, data={"csrf_token": "x"}).status_code == 403
        empty = client.post("/customer/import", files={"file": ("c.csv", b"", "text/csv")}, data={"csrf_token": csrf})
        assert empty.status_code == 422 and "файл пуст" in text_by_id(empty.text, "import-error")
        bad = client.post("/customer/import", files={"file": ("c.xlsx", b"PK\x03\x04 not really", "x")}, data={"csrf_token": csrf})
        assert bad.status_code == 422 and "xlsx" in text_by_id(bad.text, "import-error")
        r = client.post("/customer/import", files={"file": ("клиенты.csv", FILE.encode(), "text/csv")},
                        data={"csrf_token": csrf, "key": "code"}, follow_redirects=False)
        assert r.status_code == 303
        url = r.headers["location"]
        page = client.get(url)
        mapping = text_by_id(page.text, "import-mapping")
        assert "Цвет" in mapping and "Не поле" in mapping  # the unknown column is shown, to map or leave out
        # a dry run with the unknown column left out: one bad row
        form = {"csrf_token": csrf, "column": ["Код", "Название", "Регион", "Цвет"], "map_0": "code", "map_1": "name", "map_2": "region",
                "map_3": "", "key": "code", "remember": "on", "dry_run": "1"}
        client.post(url + "/run", data=form)
        page = client.get(url)
        result = text_by_id(page.text, "import-result")
        assert "ничего не записано" in result.lower()
        assert text_by_id(page.text, "import-errors").split()[:3] == ["Строка", "Столбец", "Что"]
        rows = [visible_text(r) for r in _rows(page.text, "import-errors")]
        assert rows[0].startswith("3 Регион") and "mars" in rows[0]
        # the good row only, for real
        client.post(url + "/run", data={**form, "dry_run": "0", "skip_errors": "on"})
        page = client.get(url)
        assert "Импортировано" in text_by_id(page.text, "import-result")
        got = client.get(url + "/errors")
        assert got.status_code == 200 and "C802" in got.content.decode("utf-8") and "C801" not in got.content.decode("utf-8")
        again = client.post(url + "/run", data=form)  # the same file once more: refused, and said why
        assert "уже импортирован" in text_by_id(again.text, "import-conflict")
        # the next file maps its colour column the same way without asking; an update shows its diff
        again = client.post("/customer/import", files={"file": ("c2.csv", FILE.replace("Альфа", "Альфа-2").replace("mars", "east").encode(),
                                                                 "text/csv")}, data={"csrf_token": csrf, "key": "code"}, follow_redirects=False)
        url2 = again.headers["location"]
        row = _row_html(client.get(url2).text, "Цвет")
        assert row and "unmapped" not in row and "Не поле" not in row  # left out, as remembered: nothing to ask
        client.post(url2 + "/run", data={"csrf_token": csrf, "key": "code", "dry_run": "1"})
        page = client.get(url2)
        changes = [visible_text(r) for r in _rows(page.text, "import-changes")]
        assert changes and "Альфа" in changes[0] and "Альфа-2" in changes[0]
        client.cookies.clear()
        signed_in(client, "sup")
        assert client.get(url).status_code == 404  # someone else's import
        assert client.get(url + "/errors").status_code == 404 and client.get(url + "/progress").status_code == 404  # nor its file, nor its progress


def _rows(html: str, table_id: str) -> list[str]:
    import re
    table = re.search(rf'<table[^>]*id="{table_id}".*?</table>', html, re.S).group(0)
    return re.findall(r"<tr>(.*?)</tr>", table.split("<tbody>")[1], re.S)


def _row_html(html: str, title: str) -> str:
    import re
    m = re.search(rf"<tr[^>]*>\s*<td[^>]*><strong>{title}</strong>.*?</tr>", html, re.S)
    return m.group(0) if m else ""


def test_the_template_lists_the_columns_to_fill_with_an_example_and_what_each_takes(rt, people):
    with TestClient(create_app(rt), raise_server_exceptions=False) as client:
        signed_in(client, "rep")
        r = client.get("/sales_order/import-template.xlsx?lang=zh")
        assert r.status_code == 200 and "sales_order.template.xlsx" in r.headers["content-disposition"]
        book = CalamineWorkbook.from_filelike(io.BytesIO(r.content))
        sheet = book.get_sheet_by_index(0).to_python()
        assert sheet[0][0] == "ref" and "客户" in sheet[0] and "明细.产品" in sheet[0] and sheet[0][-1] == "transition"
        assert "状态" not in sheet[0] and "erp_number" not in [x.lower() for x in sheet[0]]  # the workflow's state and read-only fields are not to fill
        about = book.get_sheet_by_index(1).to_python()
        assert any(row[1] == "customer" and "客户" in row[3] for row in about[1:])
        assert client.get("/customer/import-template.xlsx").status_code == 403
