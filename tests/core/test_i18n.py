"""Locale formatting and language choice for the screens."""
import datetime as dt
from decimal import Decimal

import pytest
from babel import numbers

from engine.web.i18n import BABEL_LOCALES, Formatter, negotiate, translations


@pytest.mark.parametrize("lang", ["en", "zh", "ru"])
def test_fast_decimal_formatting_matches_babel(lang):
    f = Formatter(lang)
    for raw in ("-1234567.5", "0", "999.995", "12345678901234.12", "0.001", "-0.5"):
        for scale in (0, 2, 3):
            v = Decimal(raw).quantize(Decimal(1).scaleb(-scale))
            expected = numbers.format_decimal(v, format="#,##0." + "0" * scale if scale else "#,##0", locale=BABEL_LOCALES[lang])
            assert f.decimal(v, scale) == expected


def test_dates_per_locale():
    d = dt.date(2026, 3, 31)
    assert Formatter("en").date(d) == "Mar 31, 2026"
    assert Formatter("zh").date(d) == "2026年3月31日"
    assert "2026" in Formatter("ru").date(d) and "мар" in Formatter("ru").date(d)


def test_language_negotiation():
    offered = ("en", "zh", "ru")
    assert negotiate("zh-CN,zh;q=0.9,en;q=0.8", offered, "en") == "zh"
    assert negotiate("de-DE,ru;q=0.5,en;q=0.4", offered, "en") == "ru"
    assert negotiate("fr", offered, "en") == "en"
    assert negotiate(None, offered, "zh") == "zh"
    assert negotiate("ru;q=abc, en", offered, "zh") == "en"


def test_catalogues_translate_every_ui_message():
    assert translations("zh").gettext("Save") == "保存"
    assert translations("ru").gettext("Save") == "Сохранить"
    assert translations("en").gettext("Save") == "Save"


def test_every_extracted_message_is_translated():
    from babel.messages.pofile import read_po

    from engine.web.i18n import LOCALE_DIR
    with (LOCALE_DIR / "messages.pot").open("rb") as f:
        ids = {m.id for m in read_po(f) if m.id}
    for lang in ("zh", "ru"):
        with (LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as f:
            done = {m.id for m in read_po(f) if m.id and m.string}
        assert ids <= done, (lang, sorted(ids - done))


@pytest.mark.parametrize("lang, text", [("zh", "输入以搜索"), ("ru", "Начните вводить")])
def test_shared_macros_speak_the_pages_language(rt, clerk, lang, text):
    """Macros imported without the page's context (the form's inputs) translate too."""
    from starlette.testclient import TestClient

    from engine.server import create_app
    from tests.web.test_pages import SECRET, sign_in
    with TestClient(create_app(rt, secret_key=SECRET)) as web:
        sign_in(web, "clerk")
        page = web.get(f"/sales_order/new?lang={lang}").text
    assert f'placeholder="{text}' in page and "Type to search" not in page


def _field_errors(html: str) -> dict[str, str]:
    """What the user reads beside each field: {input name: message}."""
    import re
    return {m.group(1): re.sub(r"<[^>]+>", "", m.group(2)).strip()
            for m in re.finditer(r'<span class="field-error" id="err-([^"]+)">(.*?)</span>', html, re.S)}


@pytest.mark.parametrize("lang, required, rule, too_long", [
    ("zh", "必填", "最低价不能高于标价。", "最多 255 个字符（当前 300 个）"),
    ("ru", "обязательно", "Минимальная цена не может быть выше прайсовой.", "не более 255 символов (сейчас 300)"),
])
def test_validation_messages_follow_the_pages_language(rt, clerk, lang, required, rule, too_long):
    """The user never chose a language: the browser asks for Chinese or Russian, and the errors speak it
    (the engine's own messages and the app's rule messages alike)."""
    from starlette.testclient import TestClient

    from engine.server import create_app
    from tests.web.test_pages import SECRET, csrf, sign_in
    with TestClient(create_app(rt, secret_key=SECRET), headers={"Accept-Language": lang}) as web:
        sign_in(web)
        page = web.get("/product/new")
        r = web.post("/product/new", data={"csrf_token": csrf(page.text), "_fields": "code,name,list_price,minimum_price",
                                           "code": "", "name": "x" * 300, "list_price": "10", "minimum_price": "20"})
        assert r.status_code == 422
        errors = _field_errors(r.text)
        assert errors == {"code": required, "category": required, "minimum_price": rule, "name": too_long}


def test_api_errors_honour_accept_language(api):
    r = api.post("/api/v1/product", json={"name": "x", "list_price": "10", "minimum_price": "20"}, headers={"Accept-Language": "ru-RU,ru;q=0.9"})
    body = r.json()
    assert r.status_code == 422 and body["title"] == "Неверные данные"
    by_field = {e["field"]: e["message"] for e in body["errors"]}
    assert by_field["minimum_price"] == "Минимальная цена не может быть выше прайсовой."
    assert body["detail"].startswith("нужно исправить поля (")
    r = api.get("/api/v1/sales_order/%C2%B3", headers={"Accept-Language": "zh-CN"})
    assert r.json()["detail"] == "“³”不是记录编号：编号是整数，例如 42" and r.json()["title"] == "未找到"
    # without Accept-Language: English
    assert api.get("/api/v1/sales_order/%C2%B3").json()["detail"] == "'³' is not a record id: ids are whole numbers like 42"


def test_the_catalogue_holds_every_message_of_the_code_and_templates(tmp_path):
    """Extracting again finds no message the committed catalogue lacks (python tools/translations.py --extract adds them)."""
    import subprocess
    import sys

    from babel.messages.pofile import read_po

    from engine.core.i18n import LOCALE_DIR
    from tests.conftest import ROOT
    sys.path.insert(0, str(ROOT / "tools"))
    from translations import KEYWORDS
    out = tmp_path / "now.pot"
    args = [sys.executable, "-m", "babel.messages.frontend", "extract", "-F", "babel.cfg", "--no-location", "--omit-header", "-o", str(out)]
    for k in KEYWORDS:
        args += ["-k", k]
    subprocess.run([*args, "."], check=True, cwd=ROOT, capture_output=True)
    with out.open("rb") as f:
        now = {m.id for m in read_po(f) if m.id}
    with (LOCALE_DIR / "messages.pot").open("rb") as f:
        committed = {m.id for m in read_po(f) if m.id}
    assert now <= committed, sorted(now - committed)
