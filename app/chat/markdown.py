"""Markdown to a small tree of safe nodes, with no HTML string at any point.

The assistant writes Markdown; the page shows it formatted.  ``render(text)`` parses with
markdown-it-py (raw HTML disabled, so it stays text) and walks the token stream into
:class:`Element` and ``str`` nodes drawn from a fixed allowlist of tags and attributes.  The
panel turns the tree into DOM with ``createElement`` and ``textContent``; nothing is ever
parsed as HTML.  Rules that make it as safe as plain text:

* links only for ``http``, ``https`` and ``mailto``, always ``rel="noopener noreferrer"`` and
  ``target="_blank"``; any other link shows its text and its address as text;
* no images: the alt text and the address (a link when it is http or https) instead;
* code blocks keep their whitespace and carry a copy button;
* nothing is lost: if the parser drops any word (nesting past its limit, say), the message is
  shown exactly as written instead.

    >>> [p] = render("**hi** <b>there</b>")
    >>> p.children
    (Element(tag='strong', attrs=(), children=('hi',)), ' <b>there</b>')

The parser is imported on first use: under Pyodide it is installed by micropip after sign-in.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

SAFE_SCHEMES = ("http", "https", "mailto")
WORD = re.compile(r"[^\W\d_]+")  # letters: list numbers are structure, not text
ENTITY = re.compile(r"&#?\w+;")
MAX_DEPTH = 24  # deeper structure is flattened (its text kept), so DOM building stays shallow
ALLOWED: dict[str, frozenset[str]] = {
    # tag: the attributes it may carry
    "p": frozenset(),
    "strong": frozenset(),
    "em": frozenset(),
    "del": frozenset(),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "ul": frozenset(),
    "ol": frozenset({"start"}),
    "li": frozenset(),
    "blockquote": frozenset(),
    "h3": frozenset(),
    "h4": frozenset(),
    "h5": frozenset(),
    "h6": frozenset(),
    "hr": frozenset(),
    "br": frozenset(),
    "table": frozenset(),
    "thead": frozenset(),
    "tbody": frozenset(),
    "tr": frozenset(),
    "th": frozenset(),
    "td": frozenset(),
    "a": frozenset({"href", "rel", "target"}),
    "span": frozenset({"class"}),
    "div": frozenset({"class"}),
    "button": frozenset({"class", "type"}),
}
SIMPLE_TAGS = {
    "paragraph": "p",
    "bullet_list": "ul",
    "list_item": "li",
    "blockquote": "blockquote",
    "table": "table",
    "thead": "thead",
    "tbody": "tbody",
    "tr": "tr",
    "th": "th",
    "td": "td",
    "em": "em",
    "strong": "strong",
    "s": "del",
}


@dataclass(frozen=True)
class Element:
    tag: str
    attrs: tuple[tuple[str, str], ...] = ()
    children: tuple[Node, ...] = ()


Node = Element | str


@cache
def _parser() -> Any:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


def safe_href(href: str) -> bool:
    scheme, colon, _ = href.partition(":")
    return bool(colon) and scheme.lower() in SAFE_SCHEMES and "/" not in scheme


class _Builder:
    """Turns the token stream into nested nodes with an explicit stack (no recursion, so
    hostile nesting cannot exhaust the interpreter's stack)."""

    def __init__(self) -> None:
        # each frame: (tag or None for a transparent group, attrs, children, suffix)
        self.stack: list[tuple[str | None, tuple, list, list[Node]]] = [(None, (), [], [])]

    @property
    def children(self) -> list[Node]:
        return self.stack[-1][2]

    def open(self, tag: str | None, attrs: tuple = (), suffix: list[Node] | None = None) -> None:
        if len(self.stack) > MAX_DEPTH:
            tag, attrs = None, ()  # too deep: keep the content, drop the wrapper
        self.stack.append((tag, attrs, [], suffix or []))

    def close(self) -> None:
        if len(self.stack) == 1:
            return
        tag, attrs, children, suffix = self.stack.pop()
        if tag is None:
            self.children.extend(children)
        else:
            self.children.append(Element(tag, attrs, tuple(children)))
        self.children.extend(suffix)

    def leaf(self, node: Node) -> None:
        if node != "":
            self.children.append(node)

    def result(self) -> list[Node]:
        while len(self.stack) > 1:
            self.close()
        return self.stack[0][2]


def _code_block(content: str, info: str = "") -> Element:
    language = info.strip().split(maxsplit=1)[0] if info.strip() else ""
    code_attrs = (("class", f"language-{language}"),) if language.isidentifier() else ()
    label = (Element("span", (("class", "md-lang"),), (info.strip(),)),) if info.strip() else ()
    return Element(
        "div",
        (("class", "md-code"),),
        (
            *label,
            Element("pre", (), (Element("code", code_attrs, (content,)),)),
            Element("button", (("class", "md-copy"), ("type", "button")), ("Copy",)),
        ),
    )


def _image(token: Any) -> Element:
    src = str(token.attrGet("src") or "")
    alt = token.content or "image"
    address: Node = (
        Element("a", (("href", src), ("rel", "noopener noreferrer"), ("target", "_blank")), (src,))
        if safe_href(src) and not src.lower().startswith("mailto:")
        else src
    )
    return Element("span", (("class", "md-image"),), (f"[image: {alt}] (", address, ")"))


def _inline(builder: _Builder, tokens: list[Any]) -> None:
    for token in tokens:
        kind = token.type
        base = kind.removesuffix("_open").removesuffix("_close")
        if kind == "text":
            builder.leaf(token.content)
        elif kind == "code_inline":
            builder.leaf(Element("code", (), (token.content,)))
        elif kind == "softbreak":
            builder.leaf("\n")
        elif kind == "hardbreak":
            builder.leaf(Element("br"))
        elif kind == "image":
            builder.leaf(_image(token))
        elif kind == "link_open":
            href = str(token.attrGet("href") or "")
            if safe_href(href):
                attrs = (("href", href), ("rel", "noopener noreferrer"), ("target", "_blank"))
                builder.open("a", attrs)
            else:  # not a link we allow: its text, then its address, as text
                builder.open(None, suffix=[f" ({href})"] if href else [])
        elif kind.endswith("_open") and base in SIMPLE_TAGS:
            builder.open(SIMPLE_TAGS[base])
        elif kind.endswith("_close"):
            builder.close()
        else:  # html_inline and anything unknown: its source, as text
            builder.leaf(token.content)


def render(text: str) -> list[Node]:
    builder = _Builder()
    for token in _parser().parse(text):
        kind = token.type
        base = kind.removesuffix("_open").removesuffix("_close")
        if kind == "inline":
            _inline(builder, token.children or [])
        elif kind == "paragraph_open":
            builder.open(None if token.hidden else "p")
        elif kind == "heading_open":
            builder.open(f"h{min(6, int(token.tag[1]) + 2)}")
        elif kind == "ordered_list_open":
            start = token.attrGet("start")
            builder.open("ol", (("start", str(start)),) if start not in (None, 1) else ())
        elif kind.endswith("_open") and base in SIMPLE_TAGS:
            builder.open(SIMPLE_TAGS[base])
        elif kind.endswith("_close"):
            builder.close()
        elif kind in ("fence", "code_block"):
            builder.leaf(_code_block(token.content, token.info))
        elif kind == "hr":
            builder.leaf(Element("hr"))
        else:  # html_block and anything unknown: its source, as text
            builder.leaf(Element("p", (), (token.content,)) if token.content else "")
    nodes = builder.result()
    if not _keeps_words(text, nodes):
        # The parser dropped something (nesting past its limit, a reference definition):
        # show the message exactly as written rather than lose any of it.
        return [Element("p", (), (text,))]
    return nodes


def _words(text: str) -> set[str]:
    return set(WORD.findall(ENTITY.sub(" ", text)))


def _keeps_words(source: str, nodes: list[Node]) -> bool:
    shown: set[str] = set()
    for piece in _pieces(nodes):
        shown |= _words(piece)
    return _words(source) <= shown


def _pieces(nodes: list[Node] | tuple[Node, ...]) -> Iterator[str]:
    """Every text node and link address in the tree, in document order (no recursion)."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if isinstance(node, str):
            yield node
        else:
            yield from (value for name, value in node.attrs if name == "href")
            stack.extend(reversed(node.children))


def text_of(nodes: list[Node] | tuple[Node, ...]) -> str:
    """All text in the tree, link addresses included (for tests and accessibility checks)."""
    return "".join(_pieces(nodes))
