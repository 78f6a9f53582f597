"""A small, safe subset of Markdown for comments: paragraphs and line breaks, **bold**, *italic*,
`code`, links to http(s) addresses ([text](https://...) or a bare address), lists of `- ` lines,
and @mentions. Everything is escaped first and only these forms are turned into tags, so no text
a user writes can become markup, script or a link to a javascript: address."""
from __future__ import annotations

import html
import re

_CODE = re.compile(r"`([^`\n]{1,500})`")
_LINK = re.compile(r"\[([^\]\n]{1,200})\]\((https?://[^\s)]{1,2000})\)")
_BARE = re.compile(r"(?<![\"=>\w/])(https?://[^\s<]{1,2000}[^\s<.,;:!?)\]'\"])")
_BOLD = re.compile(r"\*\*(?=\S)([^\n]*?\S)\*\*")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_ITEM = re.compile(r"^\s*[-*] ")
MENTION = re.compile(r"(?<![\w@.])@([A-Za-z0-9_][A-Za-z0-9_.-]{0,63})")


def mentions(text: str) -> list[str]:
    """The usernames a text mentions, each once, in order (a trailing dot ends a sentence, not a name)."""
    seen: list[str] = []
    for m in MENTION.finditer(text or ""):
        name = m.group(1).rstrip(".-")
        if name and name not in seen:
            seen.append(name)
    return seen


def render(text: str, known: frozenset | set = frozenset()) -> str:
    """The comment as HTML (a str to mark safe): `known` usernames are shown as mentions."""
    blocks = re.split(r"\n\s*\n", (text or "").replace("\r\n", "\n").strip())
    return "".join(_block(b, known) for b in blocks if b.strip())


def _block(block: str, known) -> str:
    lines = block.split("\n")
    if all(_ITEM.match(line) for line in lines):
        return "<ul>" + "".join("<li>" + _inline(_ITEM.sub("", line), known) + "</li>" for line in lines) + "</ul>"
    return "<p>" + "<br>".join(_inline(line, known) for line in lines) + "</p>"


def _inline(line: str, known) -> str:
    kept: list[str] = []

    def keep(markup: str) -> str:  # a finished piece of markup, out of the way of the later patterns
        kept.append(markup)
        return f"\x00{len(kept) - 1}\x00"
    text = html.escape(line, quote=True)
    text = _CODE.sub(lambda m: keep(f"<code>{m.group(1)}</code>"), text)
    text = _LINK.sub(lambda m: keep(f'<a href="{m.group(2)}" rel="nofollow noopener noreferrer" target="_blank">{m.group(1)}</a>'), text)
    text = _BARE.sub(lambda m: keep(f'<a href="{m.group(1)}" rel="nofollow noopener noreferrer" target="_blank">{m.group(1)}</a>'), text)
    text = _BOLD.sub(r"<strong>\1</strong>", text)
    text = _ITALIC.sub(r"<em>\1</em>", text)
    text = MENTION.sub(lambda m: f'<span class="mention">@{m.group(1)}</span>' if m.group(1).rstrip(".-") in known else m.group(0), text)
    return re.sub(r"\x00(\d+)\x00", lambda m: kept[int(m.group(1))], text)
