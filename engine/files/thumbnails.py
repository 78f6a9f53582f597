"""Small previews of attached images for the record page, so a phone does not load a 25 MB photo to
show it as 48 pixels: at most SIZE pixels on their longer side, JPEG (PNG where the image has
transparency), made once per content and process and kept in a bounded memory cache (a preview is
a few kilobytes). An image too large to decode safely, or not decodable, has no preview."""
from __future__ import annotations

import io
import threading
from collections import OrderedDict

from engine.files import kinds

SIZE = 160
MAX_PIXELS = 60_000_000  # more than a 50-megapixel photo; a decompression bomb stops here
KEEP = 512  # previews kept per process

_cache: OrderedDict[str, tuple[bytes, str]] = OrderedDict()
_lock = threading.Lock()


def preview(data_of, sha256: str, content_type: str) -> tuple[bytes, str] | None:
    """(bytes, content type) of the preview of an image, or None; `data_of()` gives the image's bytes."""
    if content_type not in kinds.IMAGES:
        return None
    with _lock:
        found = _cache.get(sha256)
        if found is not None:
            _cache.move_to_end(sha256)
            return found
    made = _make(data_of())
    if made is not None:
        with _lock:
            _cache[sha256] = made
            while len(_cache) > KEEP:
                _cache.popitem(last=False)
    return made


def _make(data: bytes) -> tuple[bytes, str] | None:
    from PIL import Image, ImageOps
    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.draft("RGB", (SIZE * 2, SIZE * 2))  # a JPEG decodes at a fraction of its size
            im = ImageOps.exif_transpose(im)  # a phone photo the right way up
            im.thumbnail((SIZE, SIZE))
            out = io.BytesIO()
            if im.mode in ("RGBA", "LA", "P") and ("transparency" in im.info or im.mode != "P"):
                im.convert("RGBA").save(out, "PNG", optimize=True)
                return out.getvalue(), "image/png"
            im.convert("RGB").save(out, "JPEG", quality=80)
            return out.getvalue(), "image/jpeg"
    except (OSError, ValueError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
