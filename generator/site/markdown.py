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
only :func:`resolve_links` runs per page. Three steps make Python-Markdown itself
cheaper without changing what it produces: texts no inline pattern can match skip
the inline stage (:class:`_PlainText`); headings of plain text get their ids
without serialising each one, and the table of contents is only built for a
document that asks for it (:class:`_Toc`); and the ``prettify`` pass, which walks
the tree to put newlines between block elements, is replaced by one substitution
on the output (:data:`_BLOCK_END`).
"""

from __future__ import annotations

import functools
import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import markdown
import nh3
from markdown.extensions import toc
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
_BLOCK_END = re.compile(
    r"(</(?:blockquote|dd|div|dl|dt|h[1-6]|li|ol|p|pre|table|tbody|td|tfoot|th|thead|tr|ul)>"
    r"|<(?:blockquote|dl|ol|table|tbody|tfoot|thead|tr|ul)(?: [^<>]*)?>|<(?:br|hr) ?/?>)(?=<)"
)
"""A block's start or end directly followed by a tag: a newline goes there, for readable
source.
(Element text is escaped, so this never matches inside a code block's text.)"""


def _newline_after(match: re.Match[str]) -> str:
    return match[1] + "\n"  # a function: cheaper than a template's per-match expansion


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


_INLINE_TRIGGERS = {
    "backtick": (r"(?:(?<!\\)((?:\\{2})+)(?=`+)|(?<!\\)`)", ("`", "\\")),
    "escape": (r"\\(.)", ("\\",)),
    "reference": (r"(?<!\!)\[", ("[",)),
    "link": (r"(?<!\!)\[", ("[",)),
    "image_link": (r"\!\[", ("!",)),
    "image_reference": (r"\!\[", ("!",)),
    "short_reference": (r"(?<!\!)\[", ("[",)),
    "short_image_ref": (r"\!\[", ("!",)),
    "autolink": (r"<([A-Za-z][A-Za-z0-9+.-]*://[^<>]*)>", ("<",)),
    "automail": (r"<([^<> !]+@[^@<> ]+)>", ("<",)),
    "linebreak": (r"  \n", ("  \n",)),
    "entity": (r"(&(?:\#[0-9]+|\#x[0-9a-fA-F]+|[a-zA-Z0-9]+);)", ("&",)),
    "em_strong": (r"\*|_", ("*", "_")),
}
"""Each inline pattern of the converter, and the strings one of which any match holds."""


def inline_prefilter(md: markdown.Markdown) -> re.Pattern[str] | None:
    """A search that fails on every text none of ``md``'s inline patterns can match.

    Built from :data:`_INLINE_TRIGGERS` only if every registered pattern is one it
    knows, with the very regular expression it knows (else None: a newer
    Python-Markdown may match more, and the texts are then tried pattern by pattern).
    """
    present = [name for name in _INLINE_TRIGGERS if name in md.inlinePatterns]
    if len(present) != len(md.inlinePatterns):
        return None
    triggers: set[str] = set()
    for name in present:
        pattern, needs = _INLINE_TRIGGERS[name]
        if md.inlinePatterns[name].getCompiledRegExp().pattern != pattern:
            return None
        triggers.update(needs)
    chars = "".join(re.escape(t) for t in sorted(triggers) if len(t) == 1)
    longer = [re.escape(t) for t in sorted(triggers) if len(t) > 1]
    return re.compile("|".join([f"[{chars}]", *longer]))


class _PlainText(Treeprocessor):
    """Marks the texts no inline pattern matches as atomic, so the inline stage skips them.

    Python-Markdown's inline processor tries each of its patterns on each text, in
    Python; a text in which none of their regular expressions matches comes out of it
    unchanged, so skipping it changes nothing but the time (most texts are plain).
    A text without any character an inline pattern needs (:func:`inline_prefilter`)
    is plain without trying each pattern.
    """

    def __init__(self, md: markdown.Markdown) -> None:
        super().__init__(md)
        patterns = dict.fromkeys(p.getCompiledRegExp() for p in md.inlinePatterns)
        self.searches = tuple(pattern.search for pattern in patterns)
        prefilter = inline_prefilter(md)
        self.may_match = prefilter.search if prefilter is not None else None

    def run(self, root: ET.Element) -> None:
        for element in root.iter():
            text, tail = element.text, element.tail
            if text and self._plain(text):
                element.text = AtomicString(text)
            if tail and self._plain(tail):
                element.tail = AtomicString(tail)

    def _plain(self, text: str) -> bool:
        if isinstance(text, AtomicString):
            return False
        if self.may_match is not None and self.may_match(text) is None:
            return True
        return not any(s(text) for s in self.searches)


_SIMPLE_HEADING = re.compile(r"[^&<>\x02\x03]*")


class _Toc(toc.TocTreeprocessor):
    """Python-Markdown's ``toc`` pass, made cheaper for the common document.

    The stock pass serialises each heading to find its name, and builds and
    serialises a table of contents even when no ``[TOC]`` asks for one. When no
    paragraph is the marker and every heading is plain text (no child elements, no
    attributes, nothing the serialiser would escape or the postprocessors replace),
    this pass gives the same ids and ``toc_tokens`` directly; otherwise it runs the
    stock pass. (``md.toc``, the serialised table, is then left empty: nothing here
    reads it; the ``[TOC]`` marker is replaced by the stock pass.)
    """

    def run(self, doc: ET.Element) -> None:
        headings = [e for e in doc.iter() if isinstance(e.tag, str)
                    and self.header_rgx.match(e.tag)]  # fmt: skip
        if (
            self.use_anchors
            or self.use_permalinks not in (False, None)
            or self._has_marker(doc)
            or not all(_plain_heading(e) for e in headings)
        ):
            super().run(doc)
            return
        used_ids = {e.attrib["id"] for e in doc.iter() if "id" in e.attrib}
        counters: dict[str, int] = {}
        tokens: list[Any] = []
        for element in headings:
            self.set_level(element)
            name = toc.strip_tags((element.text or "").strip())
            element_id = toc.unique(
                self.slugify(html.unescape(name), self.sep), used_ids, counters
            )
            element.attrib["id"] = element_id
            level = int(element.tag[-1])
            if self.toc_top <= level <= self.toc_bottom:
                tokens.append({"level": level, "id": toc.unescape(element_id), "name": name,
                               "html": name, "data-toc-label": ""})  # fmt: skip
        self.md.toc_tokens = toc.nest_toc_tokens(tokens)  # type: ignore[attr-defined]
        self.md.toc = ""  # type: ignore[attr-defined]

    def _has_marker(self, doc: ET.Element) -> bool:
        return bool(self.marker) and any(
            p.text is not None and p.text.strip() == self.marker for p in doc.iter("p")
        )


def _plain_heading(element: ET.Element) -> bool:
    return (
        len(element) == 0
        and not element.attrib
        and _SIMPLE_HEADING.fullmatch(element.text or "") is not None
    )


class _TocExtension(toc.TocExtension):
    TreeProcessorClass = _Toc


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
        extensions=["tables", "fenced_code", _TocExtension(baselevel=2, slugify=_slug)],
        output_format="html",
    )
    md.preprocessors.deregister("html_block")  # no raw HTML passthrough
    md.treeprocessors.deregister("prettify")  # newlines between blocks: time, no meaning
    md.inlinePatterns.deregister("html")
    md.treeprocessors.register(_PlainText(md), "smki-plain-text", 21)  # just before "inline"
    links = _Links(md)
    md.treeprocessors.register(links, "smki-links", -10)  # after toc ids and unescaping
    # The block parser and the inline stage look their processors up in a Registry for
    # each block and each pattern tried, which sorts-checks and copies it every time;
    # the set is final here, so they get it as a tuple in the same (priority) order.
    md.parser.blockprocessors = tuple(md.parser.blockprocessors)  # type: ignore[assignment]
    inline = md.treeprocessors["inline"]
    inline.inlinePatterns = tuple(md.inlinePatterns)  # type: ignore[attr-defined]
    return md, links


def render_markdown(text: str) -> RenderedDocument:
    """Render Markdown ``text`` to sanitised HTML (headings start at h2: the page has the h1).

    Relative links are left as tokens for :func:`resolve_links`.
    """
    md, links = _converter()
    md.reset()
    links.links = []
    body = _BLOCK_END.sub(_newline_after, md.convert(text))
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
