"""What a person sees on a page, read from its HTML the way a browser would: the text (markup that
was escaped shows up as text, as it would on screen) and the text of the elements with a class."""
from html.parser import HTMLParser


class _Reader(HTMLParser):
    SKIP = {"script", "style", "template", "head"}
    BLOCK = {"div", "p", "li", "tr", "td", "th", "br", "h1", "h2", "h3", "h4", "section", "ul", "ol", "table", "form", "fieldset", "label",
             "option", "nav", "header", "main", "footer", "dd", "dt"}  # a browser puts these on their own line or cell

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.stack: list[tuple[str, set]] = []
        self.by_class: dict[str, list[str]] = {}
        self.by_id: dict[str, str] = {}
        self._open: list[tuple[set, list]] = []
        self._skip = 0

    def _gap(self):
        self.text.append(" ")
        for _, parts in self._open:
            parts.append(" ")

    def handle_starttag(self, tag, attrs):
        if tag in self.BLOCK:
            self._gap()
        if tag in self.SKIP:
            self._skip += 1
        classes = set((dict(attrs).get("class") or "").split())
        if dict(attrs).get("id"):
            classes.add("#" + dict(attrs)["id"])  # found by text_by_id
        if tag not in ("br", "img", "input", "meta", "link", "hr"):
            self._open.append((classes, []))

    def handle_endtag(self, tag):
        if tag in self.BLOCK:
            self._gap()
        if tag in self.SKIP:
            self._skip -= 1
        if tag not in ("br", "img", "input", "meta", "link", "hr") and self._open:
            classes, parts = self._open.pop()
            text = " ".join("".join(parts).split())
            for c in classes:
                self.by_class.setdefault(c, []).append(text)

    def handle_data(self, data):
        if self._skip:
            return
        self.text.append(data)
        for _, parts in self._open:
            parts.append(data)


def read(html: str) -> _Reader:
    r = _Reader()
    r.feed(html)
    return r


def visible_text(html: str) -> str:
    return " ".join("".join(read(html).text).split())


def texts_of(html: str, css_class: str) -> list[str]:
    """The text of every element with this class, as shown."""
    return read(html).by_class.get(css_class, [])


def text_by_id(html: str, element_id: str) -> str | None:
    """The text of the element with this id, as shown (None when there is none)."""
    found = read(html).by_class.get("#" + element_id)
    return found[0] if found else None
