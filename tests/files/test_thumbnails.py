"""Previews of attached images: a large photo becomes a small JPEG (a transparent image a PNG) on
the record page, made from the stored file, for whoever may read the record only; a file that is
not an image, or an image that cannot be decoded, has none and the page shows a picture icon."""
import io

import pytest
from PIL import Image
from starlette.testclient import TestClient

from engine.core.errors import NotFound
from engine.files import thumbnails
from engine.server import create_app
from tests.orders import new_order
from tests.web.test_pages import SECRET, sign_in


def image(size, mode="RGB", fmt="PNG") -> bytes:
    out = io.BytesIO()
    Image.new(mode, size, (30, 90, 200, 128) if mode == "RGBA" else (30, 90, 200)).save(out, fmt)
    return out.getvalue()


def test_a_large_photo_gets_a_small_preview_for_its_readers_only(rt, people):
    order = new_order(rt, people)
    photo = rt.files.add(people["rep"], "sales_order", order["id"], "site.jpg", io.BytesIO(image((2400, 1800), fmt="JPEG")))
    _, (data, media) = rt.files.preview(people["rep"], photo["id"])
    shrunk = Image.open(io.BytesIO(data))
    assert media == "image/jpeg" and shrunk.size == (160, 120) and len(data) < 10_000
    assert photo["sha256"] in thumbnails._cache  # made once per content and process
    with pytest.raises(NotFound):
        rt.files.preview(people["other"], photo["id"])
    clear = rt.files.add(people["rep"], "sales_order", order["id"], "logo.png", io.BytesIO(image((400, 200), mode="RGBA")))
    _, (data, media) = rt.files.preview(people["rep"], clear["id"])
    assert media == "image/png" and Image.open(io.BytesIO(data)).size == (160, 80)
    pdf = rt.files.add(people["rep"], "sales_order", order["id"], "spec.pdf", io.BytesIO(b"%PDF-1.4 x"))
    assert rt.files.preview(people["rep"], pdf["id"])[1] is None
    broken = rt.files.add(people["rep"], "sales_order", order["id"], "broken.png", io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50))
    assert rt.files.preview(people["rep"], broken["id"])[1] is None


def test_a_decompression_bomb_has_no_preview(monkeypatch):
    monkeypatch.setattr(thumbnails, "MAX_PIXELS", 1000)
    assert thumbnails._make(image((2000, 2000))) is None


def test_the_record_page_shows_previews(rt, people):
    order = new_order(rt, people)
    photo = rt.files.add(people["rep"], "sales_order", order["id"], "site.png", io.BytesIO(image((800, 600))))
    broken = rt.files.add(people["rep"], "sales_order", order["id"], "broken.png", io.BytesIO(b"\x89PNG\r\n\x1a\n" + b"garbage" * 50))
    with TestClient(create_app(rt, secret_key=SECRET), raise_server_exceptions=False) as web:
        assert sign_in(web, "rep").status_code == 303
        page = web.get(f"/sales_order/{order['id']}")
        assert f'src="/files/{photo["id"]}/preview"' in page.text
        got = web.get(f"/files/{photo['id']}/preview")
        assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg" and Image.open(io.BytesIO(got.content)).size == (160, 120)
        icon = web.get(f"/files/{broken['id']}/preview", follow_redirects=False)
        assert icon.status_code == 302 and icon.headers["location"] == "/static/file-image.svg"
        assert web.get("/static/file-image.svg").status_code == 200
        assert sign_in(web, "other").status_code == 303
        assert web.get(f"/files/{photo['id']}/preview").status_code == 404
