"""Markdown to HTML: the pass that skips plain texts changes nothing but the time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.site.markdown import RenderedDocument, _PlainText, render_markdown

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
]


def without_the_plain_text_pass(text: str) -> RenderedDocument:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_PlainText, "_plain", lambda self, text: False)
        return render_markdown(text)


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
