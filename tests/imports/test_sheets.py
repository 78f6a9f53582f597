"""Reading uploaded files: .xlsx (formulas as their values, dates as dates) and .csv in the encodings
and delimiters our customers use; what cannot be read is refused with what to do."""
import datetime as dt
import io

import pytest
import xlsxwriter

from engine.core.errors import BadRequest
from engine.imports.sheets import read


def xlsx(rows, merge=None) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    ws = wb.add_worksheet()
    for r, row in enumerate(rows):
        for c, v in enumerate(row):
            if isinstance(v, str) and v.startswith("="):
                ws.write_formula(r, c, v, None, 42)
            elif isinstance(v, dt.date):
                ws.write_datetime(r, c, dt.datetime.combine(v, dt.time()), wb.add_format({"num_format": "yyyy-mm-dd"}))
            else:
                ws.write(r, c, v)
    if merge:
        ws.merge_range(*merge, "merged")
    wb.close()
    return buf.getvalue()


def test_an_xlsx_sheet_gives_its_header_and_rows_with_their_numbers():
    s = read(xlsx([["code", "name", "since", "score"], ["C1", "Acme", dt.date(2026, 3, 31), "=40+2"], [], ["C2", "Борей", None, 7]]))
    assert s.header == ["code", "name", "since", "score"]
    assert s.rows == [(2, ["C1", "Acme", dt.date(2026, 3, 31), 42.0]), (4, ["C2", "Борей", "", 7.0])]  # the formula's value; the empty row 3 left out


@pytest.mark.parametrize("encoding, text", [("utf-8", "code,name\nC1,客户甲\n"), ("utf-8-sig", "code;name\nC1;ООО Ромашка\n"),
                                            ("gb18030", "code,name\nC1,北京机械厂\n"), ("cp1251", "code;name\nC1;ООО Ромашка\n"),
                                            ("cp1251", "code;name\nC1;заказчик без прописных букв\n"),  # lower case reads as rare hanzi in GB18030
                                            ("gb18030", "code;name\nC1;上海精密机械有限公司\n")])
def test_csv_in_each_encoding_and_delimiter_is_read(encoding, text):
    s = read(text.encode(encoding), "customers.csv")
    assert s.header == ["code", "name"] and s.rows == [(2, ["C1", text.strip().split("\n")[1][3:]])]
    assert s.encoding == ("utf-8" if encoding.startswith("utf-8") else encoding)


@pytest.mark.parametrize("data, name, message", [
    (b"", "a.csv", "the file is empty"),
    (b"   \n", "a.csv", "the file is empty"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old.xls", "this is not a spreadsheet this import reads: save it as .xlsx or as .csv"),
    (b"PK\x03\x04garbage", "broken.xlsx", "this is not a spreadsheet this import reads ("),
])
def test_what_cannot_be_read_is_refused_with_what_to_do(data, name, message):
    with pytest.raises(BadRequest) as e:
        read(data, name)
    assert str(e.value.reason).startswith(message)


def test_merged_header_cells_and_files_over_the_limit_are_refused(monkeypatch):
    with pytest.raises(BadRequest) as e:
        read(xlsx([["code", "", "name"], ["C1", "x", "Acme"]], merge=(0, 0, 0, 1)))
    assert str(e.value.reason) == "the header has merged cells (columns 1 to 2): give each column a name of its own"
    monkeypatch.setenv("ENGINE_IMPORT_MAX_MB", "1")
    with pytest.raises(BadRequest) as e:
        read(b"code\n" + b"C1\n" * 520_000, "big.csv")  # 1.5 MB, refused before it is read
    assert str(e.value.reason) == "the file is 1.5 MB; imports take at most 1 MB (ENGINE_IMPORT_MAX_MB)"


def test_csv_with_old_mac_line_ends_or_a_stray_carriage_return_is_read():
    sheet = read("code,name\r1,Acme\r2,Beta\r".encode(), "c.csv")
    assert sheet.header == ["code", "name"] and [r for _, r in sheet.rows] == [["1", "Acme"], ["2", "Beta"]]
    odd = read(b"a,b\r/x\r.\n", "odd.csv")  # a bare \r inside what looks like one line: each part a row, not a server error
    assert odd.header == ["a", "b"] and [r for _, r in odd.rows] == [["/x"], ["."]]
