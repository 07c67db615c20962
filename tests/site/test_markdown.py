"""Markdown to HTML: the passes that save time change nothing but the time.

The converter is compared with one made of Python-Markdown's own passes only
(``_make_converter(fast=False)``: the stock inline stage trying every pattern on
every text, the stock ``toc`` and ``prettify`` passes, block tests unguarded), and
the plain-text pass on its own with every text going through the inline stage.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import Any

import nh3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown.extensions.fenced_code import FencedBlockPreprocessor
from markdown.extensions.toc import TocTreeprocessor
from markdown.postprocessors import RawHtmlPostprocessor
from markdown.preprocessors import NormalizeWhitespace
from markdown.serializers import to_html_string
from markdown.treeprocessors import InlineProcessor, UnescapeTreeprocessor
from markdown.util import HTML_PLACEHOLDER, AtomicString

from generator.site.markdown import (
    _BLOCK_TRIGGERS,
    _NH3_OPTIONS,
    RenderedDocument,
    _converter,
    _fast_serialiser,
    _FenceSearch,
    _guard_block_tests,
    _guard_fences,
    _make_converter,
    _PlainText,
    _render,
    _sanitise,
    inline_prefilter,
    render_markdown,
)

SYNTAX = "ab1 *_`\\[]()<>!&#;:/@.-|=~\t\n"
"""Characters that start or end Python-Markdown's inline and block constructs."""

EXAMPLES = [
    "`code` and ``co`de``",
    "\\*not emphasis\\* and \\\\",
    "*em*, **strong**, _em_, __strong__, ***both***, a * b _ c",
    "[a link](other.md#part) and [another](https://example.org/ 'title')",
    "![an image](picture.png) becomes a link",
    "[ref] and [text][ref] and ![img][ref]\n\n[ref]: https://example.org/",
    "<https://example.org/> and <someone@example.org>",
    "a line  \nbreak",
    "&amp; &#38; &#x26; & &copy;",
    "# Heading with `code` and [link](x.md)\n\n## Plain heading\n\nplain text",
    "| a | b |\n|:-|-:|\n| `x` | *y* |\n| plain | cells |",
    "```\n`not` *code* [markup]\n```\n\nafter",
    "- plain item\n- *item*\n  - nested [link](y.md)",
    "> quoted *text*\n> plain",
    "<b>raw</b> <script>alert(1)</script>",
    "## Same\n\n## Same\n\n## Same_1\n\n## Same",
    "## Fish &amp; chips\n\n## a < b > c\n\n## Ünïcode — dash\n\n## \n\n#",
    "## Heading with *emphasis*\n\n## `code` heading\n\n## Plain",
    "[TOC]\n\n## One\n\n### Two\n\n# Top",
    "# Title\n\n###### Deep\n\n####### Too deep",
    "## A \\*escaped\\* heading\n\ntext",
    "- loose\n\n- list\n\n    indented para\n\n1. one\n2. two",
    "    indented code\n\n\n    after blank lines\n\n---\n\n***\n\n_ _ _",
    "Setext\n======\n\nOther\n------\n\n> > nested\n> - quoted list\n\ta tab",
    "a  \nb  \n  \nc [r]\n\n[r]: <https://example.org/> \"t\"\n\n| one |\n| --- |\n| x |",
]


def without_the_plain_text_pass(text: str) -> RenderedDocument:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_PlainText, "_plain", lambda self, text: False)
        return render_markdown(text)


STOCK = _make_converter(fast=False)


def with_python_markdowns_own_passes(text: str) -> RenderedDocument:
    """The stock rendering of ``text``, after checking that both converters' HTML before
    sanitising is the same too (nh3 writes the HTML again, which could hide a difference)."""
    assert unsanitised(_converter(), text) == unsanitised(STOCK, text)
    return _render(STOCK, text)


def unsanitised(converter: Any, text: str) -> str:
    converter.md.reset()
    converter.links.links = []
    return converter.md.convert(text)  # type: ignore[no-any-return]


def test_the_stock_converter_has_python_markdowns_own_passes() -> None:
    processors = STOCK.md.treeprocessors
    assert "prettify" in processors and "smki-plain-text" not in processors
    assert type(processors["inline"]) is InlineProcessor
    assert type(processors["toc"]) is TocTreeprocessor
    assert type(processors["unescape"]) is UnescapeTreeprocessor
    assert type(STOCK.md.preprocessors["normalize_whitespace"]) is NormalizeWhitespace
    assert type(STOCK.md.postprocessors["raw_html"]) is RawHtmlPostprocessor
    assert STOCK.md.serializer is to_html_string
    fenced = STOCK.md.preprocessors["fenced_code_block"]
    assert fenced.FENCED_BLOCK_RE is FencedBlockPreprocessor.FENCED_BLOCK_RE
    assert all(type(p).test is getattr(p.test, "__func__", None)
               for p in STOCK.md.parser.blockprocessors)  # fmt: skip


def test_the_block_tests_are_guarded_with_the_installed_python_markdown() -> None:
    md = _make_converter(fast=False).md
    assert _guard_block_tests(md) == list(_BLOCK_TRIGGERS)
    fast = _converter().md.parser.blockprocessors
    guarded = [type(p).__name__ for p in fast if not hasattr(p.test, "__func__")]
    assert guarded == ["TableProcessor", "HashHeaderProcessor", "SetextHeaderProcessor",
                       "HRProcessor", "BlockQuoteProcessor", "ReferenceProcessor"]  # fmt: skip


def test_a_block_processor_searching_another_expression_is_not_guarded() -> None:
    md = _make_converter(fast=False).md
    quote = md.parser.blockprocessors["quote"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(quote, "RE", __import__("re").compile(r"(^|\n)[ ]{0,3}[>|][ ]?(.*)"))
        assert _guard_block_tests(md) == ["table", "hashheader", "setextheader", "hr",
                                          "reference"]  # fmt: skip


def test_the_prefilter_is_used_with_the_installed_python_markdown() -> None:
    """Every inline pattern is one the prefilter knows (else it is off, and slower)."""
    md = _converter().md
    prefilter = inline_prefilter(md)
    assert prefilter is not None
    for text in ("*", "_", "`", "\\", "[", "!", "<", "&", "a  \nb"):
        assert prefilter.search(text), text
    assert prefilter.search("plain text, digits 123, (parentheses) and: colons.") is None


def test_an_unknown_inline_pattern_turns_the_prefilter_off() -> None:
    md = _converter().md
    pattern = md.inlinePatterns["entity"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pattern, "compiled_re", __import__("re").compile("(&|~)"))
        assert inline_prefilter(md) is None


@pytest.mark.parametrize("text", EXAMPLES)
def test_each_example_renders_as_with_python_markdowns_own_passes(text: str) -> None:
    assert render_markdown(text) == with_python_markdowns_own_passes(text)


@given(st.text(SYNTAX + "#", max_size=160))
def test_any_text_renders_as_with_python_markdowns_own_passes(text: str) -> None:
    assert render_markdown(text) == with_python_markdowns_own_passes(text)


LINES = [
    "", "# h", "## h *e*", "- a", "1. b", "    code", "> q", "---", "===", "| a | b |",
    "|-|-|", "text [l](x.md)", "a  ", "```", "[r]: /u", "***", "\t- t", "  * x",
    "<b>x</b>", "&amp;", "[TOC]", "[a]: http://x", "  [c]: <u> 'ti'", "]: x",
]  # fmt: skip
"""Lines that start or make Python-Markdown's block constructs."""


@given(st.lists(st.sampled_from(LINES), max_size=14))
def test_any_blocks_render_as_with_python_markdowns_own_passes(lines: list[str]) -> None:
    text = "\n".join(lines)
    assert render_markdown(text) == with_python_markdowns_own_passes(text)


@given(st.lists(st.text("ab &<>_*`#\\é", max_size=12), max_size=6))
def test_any_headings_get_the_ids_and_title_of_the_stock_toc(names: list[str]) -> None:
    text = "\n\n".join(f"{'#' * (1 + n % 3)} {name}" for n, name in enumerate(names))
    assert render_markdown(text) == with_python_markdowns_own_passes(text)


@pytest.mark.parametrize("text", EXAMPLES)
def test_each_inline_construct_renders_as_without_the_pass(text: str) -> None:
    assert render_markdown(text) == without_the_plain_text_pass(text)


@given(st.text(SYNTAX, max_size=120))
def test_any_text_renders_as_without_the_pass(text: str) -> None:
    assert render_markdown(text) == without_the_plain_text_pass(text)


def test_a_toc_links_to_the_headings_it_lists() -> None:
    """[TOC] links name the prefixed heading ids already: they are not prefixed again."""
    html = render_markdown("[TOC]\n\n## Heading A\n\nSee [a](#heading-a).\n").html
    assert html.count('href="#doc-heading-a"') == 2 and 'id="doc-heading-a"' in html
    assert "doc-doc-" not in html


@pytest.mark.parametrize("text", EXAMPLES)
def test_the_reused_sanitiser_cleans_as_nh3_clean(text: str) -> None:
    body = STOCK.md.reset().convert(text) + '<a href="javascript:x()" onclick="y">z</a><script>'
    assert _sanitise(body) == nh3.clean(body, **_NH3_OPTIONS)


def test_the_fence_search_is_used_with_the_installed_python_markdown() -> None:
    assert isinstance(_converter().md.preprocessors["fenced_code_block"].FENCED_BLOCK_RE,
                      _FenceSearch)  # fmt: skip
    md = _make_converter(fast=False).md
    fenced = md.preprocessors["fenced_code_block"]
    with pytest.MonkeyPatch.context() as patch:  # a fence that may be indented: not known
        patch.setattr(fenced, "FENCED_BLOCK_RE", re.compile(r"\n(?P<fence>^ *```)", re.M))
        assert not _guard_fences(md)
    assert _guard_fences(md)


@given(st.text("`~\n a{}", max_size=60), st.integers(0, 60))
def test_the_fence_search_finds_what_the_expression_finds(text: str, pos: int) -> None:
    regex = FencedBlockPreprocessor.FENCED_BLOCK_RE
    found, expected = _FenceSearch(regex).search(text, pos), regex.search(text, pos)
    assert (found and found.span()) == (expected and expected.span())


@given(st.lists(st.sampled_from(["a", " ", "\t", "\n", "\r", "\r\n", "\x02", "\x03", " \n"]),
                max_size=30))  # fmt: skip
def test_whitespace_is_normalised_as_by_the_stock_pass(parts: list[str]) -> None:
    lines = "".join(parts).split("\n")
    fast = _converter().md.preprocessors["normalize_whitespace"]
    assert fast.run(list(lines)) == NormalizeWhitespace(STOCK.md).run(list(lines))


def placeholder(n: int) -> str:
    return HTML_PLACEHOLDER % n


STASHED = ["<pre><code>x</code></pre>", "<em>inline</em>", f"<div>{placeholder(1)}</div>",
           f"a {placeholder(0)} b", "plain"]  # fmt: skip


PUT_BACK = [f"<p>{placeholder(0)}</p>", f"<p>{placeholder(1)}</p>", f"<p>{placeholder(3)}</p>",
            f"{placeholder(0)}</p>x<p>", f"<p><p>{placeholder(2)}</p></p>"]  # fmt: skip


@pytest.mark.parametrize("text", PUT_BACK)
def test_each_stashed_html_is_put_back_as_by_the_stock_pass(text: str) -> None:
    put_back_as_by_the_stock_pass([text])


@given(st.lists(st.sampled_from(
    ["<p>", "</p>", "x", "\n", "\x02wzxhzdk:", "\x03", "7", *map(placeholder, range(7))]
), max_size=16))  # fmt: skip
def test_any_stashed_html_is_put_back_as_by_the_stock_pass(parts: list[str]) -> None:
    put_back_as_by_the_stock_pass(parts)


def put_back_as_by_the_stock_pass(parts: list[str]) -> None:
    text = "".join(parts)
    converter = _converter()
    converter.md.reset()
    for html in STASHED:
        converter.md.htmlStash.store(html)
    fast = converter.md.postprocessors["raw_html"]
    assert fast.run(text) == RawHtmlPostprocessor(converter.md).run(text)


TAGS = ["p", "div", "a", "br", "hr", "img", "script", "STYLE", "code", "h2", "td"]
VALUES = ["x", "a&b", "&amp;", "<q>", 'say "hi"', "href", "", "line\nbreak"]


@st.composite
def trees(draw: st.DrawFn, depth: int = 0) -> ET.Element:
    element = ET.Element(draw(st.sampled_from(TAGS)))
    for name in draw(st.lists(st.sampled_from(["href", "title", "id", "class"]), max_size=2,
                              unique=True)):  # fmt: skip
        element.set(name, draw(st.sampled_from([*VALUES, name])))
    element.text = draw(st.sampled_from([None, *VALUES, AtomicString("<kept>")]))
    element.tail = draw(st.sampled_from([None, *VALUES, AtomicString("t&")]))
    if depth < 3:
        element.extend(draw(st.lists(trees(depth + 1), max_size=3)))
    if draw(st.booleans()) and depth == 1:
        element.append(ET.Comment("a comment"))
    return element


@given(trees())
def test_any_tree_is_serialised_as_by_python_markdown(tree: ET.Element) -> None:
    assert _fast_serialiser(to_html_string)(tree) == to_html_string(tree)
