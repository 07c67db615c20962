"""Markdown to HTML: the passes that save time change nothing but the time.

The converter is compared with one made of Python-Markdown's own passes only
(``_make_converter(fast=False)``: the stock inline stage trying every pattern on
every text, the stock ``toc`` and ``prettify`` passes, block tests unguarded), and
the plain-text pass on its own with every text going through the inline stage.
"""

from __future__ import annotations

import nh3
import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown.extensions.toc import TocTreeprocessor
from markdown.treeprocessors import InlineProcessor, UnescapeTreeprocessor

from generator.site.markdown import (
    _BLOCK_TRIGGERS,
    _NH3_OPTIONS,
    RenderedDocument,
    _converter,
    _guard_block_tests,
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
    return _render(STOCK, text)


def test_the_stock_converter_has_python_markdowns_own_passes() -> None:
    processors = STOCK.md.treeprocessors
    assert "prettify" in processors and "smki-plain-text" not in processors
    assert type(processors["inline"]) is InlineProcessor
    assert type(processors["toc"]) is TocTreeprocessor
    assert type(processors["unescape"]) is UnescapeTreeprocessor
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
