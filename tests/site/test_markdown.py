"""Markdown to HTML: the passes that save time change nothing but the time.

Each is compared with Python-Markdown's own behaviour: the plain-text pass with
every text going through the inline stage, the prefilter with trying each pattern,
and the cheaper ``toc`` pass with the stock one.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from markdown.extensions.toc import TocTreeprocessor

from generator.site.markdown import (
    RenderedDocument,
    _converter,
    _PlainText,
    _Toc,
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
]


def without_the_plain_text_pass(text: str) -> RenderedDocument:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_PlainText, "_plain", lambda self, text: False)
        return render_markdown(text)


def with_python_markdowns_own_passes(text: str) -> RenderedDocument:
    """Each text tried pattern by pattern, and the stock ``toc`` pass."""
    md, _ = _converter()
    plain = md.treeprocessors["smki-plain-text"]
    assert isinstance(plain, _PlainText)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(plain, "may_match", None)
        patch.setattr(_Toc, "run", TocTreeprocessor.run)
        return render_markdown(text)


def test_the_prefilter_is_used_with_the_installed_python_markdown() -> None:
    """Every inline pattern is one the prefilter knows (else it is off, and slower)."""
    md, _ = _converter()
    prefilter = inline_prefilter(md)
    assert prefilter is not None
    for text in ("*", "_", "`", "\\", "[", "!", "<", "&", "a  \nb"):
        assert prefilter.search(text), text
    assert prefilter.search("plain text, digits 123, (parentheses) and: colons.") is None


def test_an_unknown_inline_pattern_turns_the_prefilter_off() -> None:
    md, _ = _converter()
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
