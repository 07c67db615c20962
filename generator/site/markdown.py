"""Markdown documents to safe HTML: Python-Markdown, then an nh3 allow-list.

Documents are hostile input. Raw HTML is not passed through (Python-Markdown's
``html_block`` preprocessor and ``html`` inline pattern are removed, so ``<b>``
shows as text), and the output is sanitised again by nh3 with an explicit
allow-list: no scripts, no event handlers, no ``style`` attributes, and only
``http``, ``https`` and ``mailto`` links survive (``javascript:`` and ``data:``
never do). Links are rewritten before sanitising:

* ``#frag`` points at the document's own headings, whose ids carry the
  :data:`ID_PREFIX` so they can never collide with the page's own ids;
* the n-th relative link becomes ``#smki-link-n`` (a fragment no document can
  write, as theirs all start with the prefix), which :func:`resolve_links`
  replaces on each page with the link's target there, or unlinks;
* images become plain links (the site's Content-Security-Policy serves no
  third-party images, and an item is downloaded, not embedded).

Rendering is the costly part, so a document is rendered once per SHA-256 and
only :func:`resolve_links` runs per page.
"""

from __future__ import annotations

import functools
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass

import markdown
import nh3
from markdown.extensions.toc import slugify
from markdown.treeprocessors import Treeprocessor
from markdown.util import AMP_SUBSTITUTE, AtomicString

ID_PREFIX = "doc-"
"""Prefix of every id a document gives its headings."""

MAX_MARKDOWN_BYTES = 4 << 20
"""Larger documents are shown as downloads only (rendering cost is unbounded)."""

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_SPACE = re.compile(r"[\x00-\x20\x7f]")

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "dl", "dt", "em",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "kbd", "li", "ol", "p", "pre", "s",
    "span", "strong", "sub", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "tr", "ul",
}  # fmt: skip
_ATTRIBUTES = {
    "a": {"href", "title"},
    "abbr": {"title"},
    "ol": {"start"},
    **{f"h{n}": {"id"} for n in range(2, 7)},
}
_ALIGN_CLASSES = {"align-left", "align-center", "align-right"}
_CLASSES = {"th": _ALIGN_CLASSES, "td": _ALIGN_CLASSES, "a": {"dangling"}}
_TOKEN = "#smki-link-"
_TOKEN_HREF = re.compile(r'href="#smki-link-(\d+)"')
_URL_SCHEMES = {"http", "https", "mailto"}


@dataclass(frozen=True)
class RenderedDocument:
    """A document as sanitised HTML, its title, and its relative links in token order."""

    html: str
    title: str | None
    links: tuple[str, ...]


def is_relative(href: str) -> bool:
    """Report whether ``href`` is a relative link into the repository (not a fragment)."""
    return bool(href) and not href.startswith(("#", "/")) and not _SCHEME.match(href)


class _Links(Treeprocessor):
    """Rewrites links and images, and turns table alignment into classes."""

    def __init__(self, md: markdown.Markdown) -> None:
        super().__init__(md)
        self.links: list[str] = []

    def run(self, root: ET.Element) -> None:
        toc = {  # a [TOC]'s own links already name the prefixed heading ids
            id(a) for div in root.iter("div") if div.get("class") == "toc" for a in div.iter("a")
        }
        for parent in list(root.iter()):
            for index, element in enumerate(list(parent)):
                if element.tag == "img":
                    parent[index] = element = _image_link(element)
                if element.tag == "a" and id(element) not in toc:
                    self._link(element)
                elif element.tag in ("th", "td"):
                    align = element.attrib.pop("style", "").removeprefix("text-align: ")
                    if align.rstrip(";") in ("left", "center", "right"):
                        element.set("class", f"align-{align.rstrip(';')}")

    def _link(self, element: ET.Element) -> None:
        # Automatic mailto links hide their address in entities (Python-Markdown automail).
        href = html.unescape(element.get("href", "").replace(AMP_SUBSTITUTE, "&"))
        if _SPACE.search(href):  # not a URL (a browser would strip tabs: "java\tscript:")
            _unlink(element)
        elif href.startswith("#"):
            element.set("href", "#" + ID_PREFIX + href[1:] if len(href) > 1 else "#")
        elif href.startswith("/"):  # site-absolute paths break the file:// mirror
            _unlink(element)
        elif is_relative(href):
            element.set("href", f"{_TOKEN}{len(self.links)}")
            self.links.append(href)


class _PlainText(Treeprocessor):
    """Marks the texts no inline pattern matches as atomic, so the inline stage skips them.

    Python-Markdown's inline processor tries each of its patterns on each text, in
    Python; a text in which none of their regular expressions matches comes out of it
    unchanged, so skipping it changes nothing but the time (most texts are plain).
    """

    def __init__(self, md: markdown.Markdown) -> None:
        super().__init__(md)
        patterns = dict.fromkeys(p.getCompiledRegExp() for p in md.inlinePatterns)
        self.searches = tuple(pattern.search for pattern in patterns)

    def run(self, root: ET.Element) -> None:
        for element in root.iter():
            text, tail = element.text, element.tail
            if text and self._plain(text):
                element.text = AtomicString(text)
            if tail and self._plain(tail):
                element.tail = AtomicString(tail)

    def _plain(self, text: str) -> bool:
        return not isinstance(text, AtomicString) and not any(s(text) for s in self.searches)


def _image_link(image: ET.Element) -> ET.Element:
    link = ET.Element("a", {"href": image.get("src", "")})
    link.text = image.get("alt") or image.get("src", "")
    link.tail = image.tail
    return link


def _unlink(element: ET.Element) -> None:
    element.attrib.pop("href", None)
    element.set("class", "dangling")


def _slug(value: str, separator: str) -> str:
    return ID_PREFIX + (slugify(value, separator) or "section")


def _sanitise(fragment: str) -> str:
    return nh3.clean(
        fragment,
        tags=_TAGS,
        clean_content_tags={"script", "style"},
        attributes=_ATTRIBUTES,
        url_schemes=_URL_SCHEMES,
        allowed_classes=_CLASSES,
        strip_comments=True,
        link_rel="noopener noreferrer",
    )


@functools.cache
def _converter() -> tuple[markdown.Markdown, _Links]:
    """One configured converter, reset between documents (building one costs more)."""
    md = markdown.Markdown(
        extensions=["tables", "fenced_code", "toc"],
        extension_configs={"toc": {"baselevel": 2, "slugify": _slug}},
        output_format="html",
    )
    md.preprocessors.deregister("html_block")  # no raw HTML passthrough
    md.inlinePatterns.deregister("html")
    md.treeprocessors.register(_PlainText(md), "smki-plain-text", 21)  # just before "inline"
    links = _Links(md)
    md.treeprocessors.register(links, "smki-links", -10)  # after toc ids and unescaping
    return md, links


def render_markdown(text: str) -> RenderedDocument:
    """Render Markdown ``text`` to sanitised HTML (headings start at h2: the page has the h1).

    Relative links are left as tokens for :func:`resolve_links`.
    """
    md, links = _converter()
    md.reset()
    links.links = []
    body = md.convert(text)
    tokens = getattr(md, "toc_tokens", [])
    title = html.unescape(tokens[0]["name"]) if tokens and tokens[0]["level"] == 2 else None
    return RenderedDocument(_sanitise(body), title, tuple(links.links))


def resolve_links(rendered: str, targets: Sequence[str | None]) -> str:
    """The document's HTML with its n-th relative link pointing at ``targets[n]``.

    A None target leaves the link text unlinked (``<a class="dangling">``). Targets
    are URLs the site made (relative paths of its own pages); they are escaped.
    """

    def replace(match: re.Match[str]) -> str:
        n = int(match.group(1))
        target = targets[n] if n < len(targets) else None
        return 'class="dangling"' if target is None else f'href="{html.escape(target)}"'

    return _TOKEN_HREF.sub(replace, rendered)
