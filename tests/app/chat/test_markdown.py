"""The Markdown renderer as a pure function: every construct, hostile input, and properties."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.chat.markdown import ALLOWED, Element, render, safe_href, text_of

LINK_ATTRS = (("rel", "noopener noreferrer"), ("target", "_blank"))


def walk(nodes):
    stack = list(nodes)
    while stack:
        node = stack.pop()
        if isinstance(node, Element):
            yield node
            stack.extend(node.children)


def depth(nodes) -> int:
    best, stack = 0, [(n, 1) for n in nodes]
    while stack:
        node, d = stack.pop()
        if isinstance(node, Element):
            best = max(best, d)
            stack.extend((c, d + 1) for c in node.children)
    return best


def tags(text):
    return [e.tag for e in walk(render(text))]


def test_paragraph_emphasis_strong_code_strikethrough():
    [p] = render("a *b* **c** `d` ~~e~~")
    assert p == Element(
        "p",
        (),
        (
            "a ",
            Element("em", (), ("b",)),
            " ",
            Element("strong", (), ("c",)),
            " ",
            Element("code", (), ("d",)),
            " ",
            Element("del", (), ("e",)),
        ),
    )


def test_lists_keep_their_numbering():
    [ul, ol] = render("- x\n- y\n\n3. three\n4. four\n")
    assert ul == Element("ul", (), (Element("li", (), ("x",)), Element("li", (), ("y",))))
    assert ol.tag == "ol" and ol.attrs == (("start", "3"),)


def test_headings_are_shifted_below_the_page_headings():
    assert [n.tag for n in render("# a\n## b\n###### c")] == ["h3", "h4", "h6"]


def test_code_block_keeps_whitespace_and_has_a_copy_button():
    [block] = render("```python\ndef f():\n    return  1\n```")
    label, pre, button = block.children
    assert label == Element("span", (("class", "md-lang"),), ("python",))
    assert block.attrs == (("class", "md-code"),)
    assert pre.children[0] == Element(
        "code", (("class", "language-python"),), ("def f():\n    return  1\n",)
    )
    assert button == Element("button", (("class", "md-copy"), ("type", "button")), ("Copy",))


def test_table():
    [table] = render("| a | b |\n|---|---|\n| 1 | 2 |")
    assert [e.tag for e in walk([table])].count("td") == 2 and table.tag == "table"


@pytest.mark.parametrize("href", ["https://example.org/a?b=c", "http://x.test", "mailto:a@b.test"])
def test_safe_links_open_in_a_new_context(href):
    [p] = render(f"[go]({href})")
    assert p.children == (Element("a", (("href", href), *LINK_ATTRS), ("go",)),)


@pytest.mark.parametrize(
    "source",
    [
        "[x](javascript:alert(1))",
        "[x](JAVASCRIPT:alert(1))",
        "[x](data:text/html,<script>)",
        "[x](vbscript:msgbox)",
        "[x](ftp://files.test/a)",
        "[x](/relative)",
        "[x](#frag)",
        "<javascript:x(1)>",
        "[x]( javascript:alert(1))",
        "[x](java\tscript:alert(1))",
    ],
)
def test_other_links_are_text(source):
    nodes = render(source)
    assert not [e for e in walk(nodes) if e.tag == "a"]
    assert "x" in text_of(nodes)


def test_images_become_alt_text_and_a_link():
    [p] = render("![a cat](https://img.test/cat.png)")
    [span] = p.children
    assert span.attrs == (("class", "md-image"),)
    assert "a cat" in text_of([span]) and "https://img.test/cat.png" in text_of([span])
    assert "img" not in tags("![a cat](https://img.test/cat.png)")
    assert not [e for e in walk(render("![x](javascript:alert(1))")) if e.tag == "a"]


@pytest.mark.parametrize(
    "hostile",
    [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "<iframe src='https://evil.test'></iframe>",
        "<div onclick='alert(1)'>hi</div>",
        "<object data=x></object><embed src=x>",
        "<style>body{display:none}</style>",
        "text <b onmouseover=alert(1)>bold</b>",
        "<!-- comment --> <svg onload=alert(1)>",
    ],
)
def test_raw_html_is_text(hostile):
    nodes = render(hostile)
    assert {e.tag for e in walk(nodes)} <= {"p"}
    assert re.sub(r"\s+", "", text_of(nodes)) == re.sub(r"\s+", "", hostile)


def test_deep_nesting_is_bounded_and_does_not_crash():
    for source in (
        "> " * 5000 + "deep",
        "- " * 5000 + "deep",
        "[" * 5000 + "x" + "]" * 5000,
        "*" * 10000 + "x" + "*" * 10000,
    ):
        nodes = render(source)
        assert depth(nodes) <= 60
        assert "deep" in text_of(nodes) or "x" in text_of(nodes)


def test_a_64_kib_message():
    source = ("word **bold** [l](https://x.test) `c`\n\n" * 2000)[: 64 * 1024]
    nodes = render(source)
    assert len([e for e in walk(nodes) if e.tag == "p"]) > 1000


def test_partial_markdown_while_streaming_renders_sensibly():
    assert tags("Here is **bo") == ["p"]  # unclosed emphasis stays literal (CommonMark)
    [block] = render("```py\nprint(1)")  # an unclosed fence is already a code block
    assert block.attrs == (("class", "md-code"),)


@pytest.mark.parametrize(
    ("href", "ok"),
    [
        ("https://a", True),
        ("mailto:x@y", True),
        ("javascript:x", False),
        ("a/b:c", False),
        ("nocolon", False),
    ],
)
def test_safe_href(href, ok):
    assert safe_href(href) is ok


# ---------------------------------------------------------------- properties

words = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,8}", fullmatch=True)
blocks = st.one_of(
    st.builds(lambda w: w, words),
    st.builds(lambda w: f"*{w}*", words),
    st.builds(lambda w: f"**{w}**", words),
    st.builds(lambda w: f"`{w}`", words),
    st.builds(lambda w, u: f"[{w}](https://{u}.test/{w})", words, words),
    st.builds(lambda w, u: f"[{w}](javascript:{u})", words, words),
    st.builds(lambda w, u: f"![{w}](https://{u}.test/i.png)", words, words),
    st.builds(lambda w: f"<b onclick=x>{w}</b>", words),
    st.builds(lambda w: f"<script>{w}</script>", words),
    st.builds(lambda w: f"\n\n- {w}\n", words),
    st.builds(lambda w: f"\n\n> {w}\n", words),
    st.builds(lambda w: f"\n\n# {w}\n", words),
    st.builds(lambda w: f"\n\n```\n{w}\n```\n", words),
    st.just("\n\n"),
)
documents = st.lists(blocks, max_size=30).map(" ".join)


def assert_safe(nodes) -> None:
    for element in walk(nodes):
        assert element.tag in ALLOWED, element.tag
        for name, value in element.attrs:
            assert name in ALLOWED[element.tag]
            assert not name.lower().startswith("on")
            if name == "href":
                assert safe_href(value)
        if element.tag == "a":
            assert dict(element.attrs)["rel"] == "noopener noreferrer"


@settings(max_examples=300, deadline=None)
@given(documents)
def test_generated_markdown_is_safe_and_keeps_all_its_words(source):
    nodes = render(source)
    assert_safe(nodes)
    shown = text_of(nodes)
    for word in re.findall(r"[A-Za-z][A-Za-z0-9]*", source):
        assert word in shown


pieces = st.sampled_from(
    [*list("ab <>/=\"'[]()!*_`#>-|~:\n\\&;"), "javascript:", "script", "onerror", "http://"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(pieces, max_size=80).map("".join))
def test_arbitrary_text_never_yields_unsafe_nodes(source):
    assert_safe(render(source))
