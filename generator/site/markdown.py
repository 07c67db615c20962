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
only :func:`resolve_links` runs per page. Python-Markdown itself is made cheaper
without changing what it produces (``_make_converter(fast=False)`` gives its own
passes, which the tests compare with byte for byte): texts no inline pattern can
match skip the inline stage (:class:`_PlainText`) and the others are tried only
with the patterns that can match them (:class:`_Inline`); block tests are asked
only about blocks holding what they look for (:func:`_guard_block_tests`);
headings of plain text get their ids without serialising each one, and the table
of contents is only built for a document that asks for it (:class:`_Toc`); the
``prettify`` pass caches which tags are block-level (:class:`_Prettify`); the first
pass skips replacements with nothing to replace (:class:`_NormalizeWhitespace`), the
fenced-code pass searches from the first fence (:class:`_FenceSearch`), stashed code
is put back by ``str.find`` (:class:`_RawHtml`), and the serialiser walks a plain
stack (:func:`_fast_serialiser`).
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
from markdown.postprocessors import RawHtmlPostprocessor
from markdown.preprocessors import NormalizeWhitespace
from markdown.serializers import HTML_EMPTY, _escape_attrib_html, _escape_cdata  # type: ignore[attr-defined]
from markdown.treeprocessors import (
    InlineProcessor,
    PrettifyTreeprocessor,
    Treeprocessor,
    UnescapeTreeprocessor,
)
from markdown.util import AMP_SUBSTITUTE, ETX, HTML_PLACEHOLDER, STX, AtomicString

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


def inline_triggers(md: markdown.Markdown) -> tuple[tuple[str, ...], ...] | None:
    """For each of ``md``'s inline patterns in order, the strings one of which its matches hold.

    Taken from :data:`_INLINE_TRIGGERS` only if every registered pattern is one it
    knows, with the very regular expression it knows (else None: a newer
    Python-Markdown may match more, and the texts are then tried pattern by pattern).
    """
    registry = md.inlinePatterns
    names = [name for name in _INLINE_TRIGGERS if name in registry]
    if len(names) != len(registry):
        return None
    names.sort(key=registry.get_index_for_name)  # the order the inline stage tries them
    triggers = []
    for name in names:
        pattern, needs = _INLINE_TRIGGERS[name]
        if registry[name].getCompiledRegExp().pattern != pattern:
            return None
        triggers.append(needs)
    return tuple(triggers)


def inline_prefilter(md: markdown.Markdown) -> re.Pattern[str] | None:
    """A search that fails on every text none of ``md``'s inline patterns can match
    (None where :func:`inline_triggers` does not know them)."""
    triggers = inline_triggers(md)
    if triggers is None:
        return None
    strings = {t for needs in triggers for t in needs}
    chars = "".join(re.escape(t) for t in sorted(strings) if len(t) == 1)
    longer = [re.escape(t) for t in sorted(strings) if len(t) > 1]
    return re.compile("|".join([f"[{chars}]", *longer]))


class _PlainText(Treeprocessor):
    """Marks the texts no inline pattern matches as atomic, so the inline stage skips them.

    Python-Markdown's inline processor tries each of its patterns on each text, in
    Python; a text in which none of their regular expressions matches comes out of it
    unchanged, so skipping it changes nothing but the time (most texts are plain).
    A text without any string an inline pattern needs (:func:`inline_prefilter`) is
    plain; the others go to the inline stage, which tries only the patterns whose
    strings they hold (:class:`_Inline`). Without a prefilter, a text is plain if
    no pattern's regular expression finds anything in it.
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
        if self.may_match is not None:
            return self.may_match(text) is None
        return not any(s(text) for s in self.searches)


class _Inline(InlineProcessor):
    """Python-Markdown's inline stage, trying on each text only the patterns that can match it.

    The stock stage runs every pattern's regular expression over every text; a
    pattern none of whose trigger strings (:func:`inline_triggers`) the text holds
    cannot match it, nor any part of it, nor the text as earlier patterns leave it
    (they only cut parts out and insert placeholders, which hold no trigger), so
    skipping it changes nothing but the time. Without known triggers (``masks`` is
    None), every pattern is tried, as in the stock stage.
    """

    def __init__(self, md: markdown.Markdown) -> None:
        super().__init__(md)
        needs = inline_triggers(md)
        strings = sorted({t for each in needs or () for t in each})
        self.bits = {t: 1 << n for n, t in enumerate(strings)}
        self.find = re.compile("|".join(re.escape(t) for t in strings)).findall
        self.masks = None if needs is None else tuple(
            sum(self.bits[t] for t in each) for each in needs
        )  # fmt: skip

    def _InlineProcessor__handleInline(self, data: str, patternIndex: int = 0) -> str:
        # Python-Markdown's __handleInline (which __applyPattern calls for nested texts),
        # with the patterns that cannot match skipped.
        if isinstance(data, AtomicString):
            return data
        patterns = self.inlinePatterns
        masks = self.masks
        present = 0
        if masks is not None:
            bits = self.bits
            for found in set(self.find(data)):
                present |= bits[found]
        apply = self._InlineProcessor__applyPattern  # type: ignore[attr-defined]
        start = 0
        while patternIndex < len(patterns):
            if masks is not None and not masks[patternIndex] & present:
                patternIndex += 1  # as if tried and not matched: the next starts at 0
                start = 0
                continue
            data, matched, start = apply(patterns[patternIndex], data, patternIndex, start)
            if not matched:
                patternIndex += 1
        return data


class _Prettify(PrettifyTreeprocessor):
    """Python-Markdown's ``prettify`` pass (newlines between blocks), cheaper: the stock
    pass asks ``md.is_block_level``, which searches a list of some fifty names, two or
    three times per element, and recurses."""

    def _prettifyETree(self, elem: ET.Element) -> None:
        # The stock recursion as a loop (what it does to one element does not depend on
        # what it did to another), with the block-level answers kept per tag.
        known: dict[Any, bool] = {}
        is_block = self.md.is_block_level
        stack = [elem]
        while stack:
            elem = stack.pop()
            tag = elem.tag
            block = known.get(tag)
            if block is None:
                block = known[tag] = is_block(tag)
            if block and tag != "code" and tag != "pre":
                text = elem.text
                children = list(elem)
                for child in children:
                    child_block = known.get(child.tag)
                    if child_block is None:
                        child_block = known[child.tag] = is_block(child.tag)
                    if child_block:
                        stack.append(child)
                if (not text or not text.strip()) and children and known[children[0].tag]:
                    elem.text = "\n"
            tail = elem.tail
            if not tail or not tail.strip():
                elem.tail = "\n"


class _Unescape(UnescapeTreeprocessor):
    """Python-Markdown's ``unescape`` pass, leaving alone the texts and attribute values
    that hold no escaped character (its placeholder starts with STX) to restore."""

    def run(self, root: ET.Element) -> None:
        stx, unescape = STX, self.unescape
        for elem in root.iter():
            text, tail = elem.text, elem.tail
            if text and stx in text and elem.tag != "code":
                elem.text = unescape(text)
            if tail and stx in tail:
                elem.tail = unescape(tail)
            for key, value in elem.items():  # not elem.attrib, which makes a dict
                if value is not None and stx in value:
                    elem.set(key, unescape(value))


_SIMPLE_HEADING = re.compile(r"[^&<>\x02\x03]*")


class _Toc(toc.TocTreeprocessor):
    """Python-Markdown's ``toc`` pass, made cheaper for the common document.

    The stock pass serialises each heading to find its name, and builds and
    serialises a table of contents even when no ``[TOC]`` asks for one. When no
    element's text is the marker and every heading is plain text (no child elements, no
    attributes, nothing the serialiser would escape or the postprocessors replace),
    this pass gives the same ids and ``toc_tokens`` directly; otherwise it runs the
    stock pass. (``md.toc``, the serialised table, is then left empty: nothing here
    reads it; the ``[TOC]`` marker is replaced by the stock pass.)
    """

    def run(self, doc: ET.Element) -> None:
        headings, used_ids, marked = [], set(), False
        heading, marker = self.header_rgx.match, self.marker
        for e in doc.iter():  # one walk: headings, ids in use, and any [TOC] marker
            tag, text = e.tag, e.text
            if isinstance(tag, str) and heading(tag):
                headings.append(e)
            element_id = e.get("id")  # not e.attrib, which gives every element a dict
            if element_id is not None:
                used_ids.add(element_id)
            # The stock pass replaces any element (a paragraph, a table cell, ...) whose
            # text is the marker; any such element here sends the document to it.
            if marker and text and marker in text and text.strip() == marker:
                marked = True
        if (
            self.use_anchors
            or self.use_permalinks not in (False, None)
            or marked
            or not all(_plain_heading(e) for e in headings)
        ):
            super().run(doc)
            return
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


class _FenceSearch:
    """The fenced-code pass's expression, searched from the first possible fence on.

    Every fence the stock expression finds starts with ``~~~`` or three backticks, so
    no match starts before the first of those strings from ``pos`` on; the stock pass
    tries every position of the document.
    """

    def __init__(self, regex: re.Pattern[str]) -> None:
        self.regex = regex

    def search(self, text: str, pos: int = 0) -> re.Match[str] | None:
        found = [i for i in (text.find("```", pos), text.find("~~~", pos)) if i >= 0]
        if not found:
            return None
        return self.regex.search(text, min(found))


_FENCE_START = "\n(?P<fence>^(?:~{3,}|`{3,}))"


def _guard_fences(md: markdown.Markdown) -> bool:
    """Give the fenced-code pass :class:`_FenceSearch`, if its expression is the one known
    (a fence at the start of a line, found line by line); else leave it as is."""
    processor = md.preprocessors["fenced_code_block"]
    regex = processor.FENCED_BLOCK_RE  # type: ignore[attr-defined]
    if not regex.pattern.startswith(_FENCE_START) or not regex.flags & re.MULTILINE:
        return False
    processor.FENCED_BLOCK_RE = _FenceSearch(regex)  # type: ignore[attr-defined]
    return True


class _NormalizeWhitespace(NormalizeWhitespace):
    """Python-Markdown's first pass, skipping each replacement that has nothing to replace
    (the last one, a regular expression, looks at every position of the document)."""

    def run(self, lines: list[str]) -> list[str]:
        source = "\n".join(lines)
        if STX in source or ETX in source:
            source = source.replace(STX, "").replace(ETX, "")
        if "\r" in source:
            source = source.replace("\r\n", "\n").replace("\r", "\n")
        source += "\n\n"
        if "\t" in source:
            source = source.expandtabs(self.md.tab_length)
        if " \n" in source:  # in every match
            source = _BLANK_LINE_SPACES.sub("\n", source)
        return source.split("\n")


_BLANK_LINE_SPACES = re.compile(r"(?<=\n) +\n")


class _RawHtml(RawHtmlPostprocessor):
    """Python-Markdown's pass putting stashed HTML (here: fenced code) back, finding the
    placeholders with ``str.find``; the stock pass searches the page with an expression
    that stops at every ``<``. The same substitutions: a placeholder alone in a paragraph
    (``<p>PH</p>``) is replaced paragraph and all, unless its HTML is inline, and the
    HTML put back is searched again."""

    def run(self, text: str) -> str:
        return self._restore(text) if self.md.htmlStash.html_counter else text

    def _restore(self, text: str) -> str:
        stash = self.md.htmlStash
        out: list[str] = []
        done = 0  # text[:done] is in out
        at = text.find(_PLACEHOLDER_START)
        while at >= 0:
            match = _PLACEHOLDER.match(text, at)
            if match is None:
                at = text.find(_PLACEHOLDER_START, at + 1)
                continue
            end = match.end()
            # (no match ends with "<p>": the one before cannot hold this one's)
            wrapped = at >= 3 and text.startswith("<p>", at - 3) and (
                text.startswith("</p>", end)
            )  # fmt: skip
            start, end = (at - 3, end + 4) if wrapped else (at, end)
            key = int(match.group(1))
            out.append(text[done:start])
            if key >= stash.html_counter:
                out.append(text[start:end])
            else:
                html = self.stash_to_string(stash.rawHtmlBlocks[key])  # type: ignore[arg-type]
                if wrapped and not self.isblocklevel(html):
                    html = f"<p>{html}</p>"
                out.append(self._restore(html))
            done = end
            at = text.find(_PLACEHOLDER_START, done)
        out.append(text[done:])
        return "".join(out)


_PLACEHOLDER_START = HTML_PLACEHOLDER.split("%s")[0]
_PLACEHOLDER = re.compile(re.escape(_PLACEHOLDER_START) + "([0-9]+)" + re.escape(
    HTML_PLACEHOLDER.split("%s")[1]))  # fmt: skip


def _fast_serialiser(stock: Any) -> Any:
    """Python-Markdown's HTML serialiser (``stock``), cheaper for the trees it is given here.

    Elements with a string tag and string attributes are written as the stock one
    writes them (attributes sorted and escaped by its own helpers, the text of
    ``script`` and ``style`` as it is, no end tag for void elements) with a plain
    stack instead of a deque and one ``tag.lower()`` per element instead of three. Any
    other tree — a comment, a processing instruction, a qualified or missing tag, an
    attribute without a value or whose value is its name (which Python-Markdown
    versions write differently) — goes to the stock serialiser whole.
    """

    def serialise(root: ET.Element) -> str:
        out: list[str] = []
        write = out.append
        stack: list[Any] = [root]
        pop, push = stack.pop, stack.append
        while stack:
            element = pop()
            if isinstance(element, str):
                write(element)
                continue
            tag = element.tag
            if tag.__class__ is not str:
                return stock(root)  # type: ignore[no-any-return]
            write("<" + tag)
            items = element.items()
            if items:
                for name, value in sorted(items):
                    if value.__class__ is not str or name.__class__ is not str or name == value:
                        return stock(root)  # type: ignore[no-any-return]
                    write(f' {name}="{_escape_attrib_html(value)}"')
            write(">")
            lower = tag.lower()
            text = element.text
            if text:
                write(text if lower == "script" or lower == "style" else _escape_cdata(text))
            tail = element.tail
            if tail:
                push(str(_escape_cdata(tail)))
            if lower not in HTML_EMPTY:
                push(f"</{tag}>")
            if len(element):
                stack.extend(reversed(element))
        return "".join(out)

    return serialise


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


_NH3_OPTIONS: dict[str, Any] = {
    "tags": _TAGS,
    "clean_content_tags": {"script", "style"},
    "attributes": _ATTRIBUTES,
    "url_schemes": _URL_SCHEMES,
    "allowed_classes": _CLASSES,
    "strip_comments": True,
    "link_rel": "noopener noreferrer",
}
_sanitise: Any = (
    nh3.Cleaner(**_NH3_OPTIONS).clean  # built once: nh3.clean builds its sanitiser per call
    if hasattr(nh3, "Cleaner")
    else functools.partial(nh3.clean, **_NH3_OPTIONS)  # nh3 before 0.3
)


_BLOCK_TRIGGERS: dict[str, tuple[str, str, str | None, tuple[str, ...]]] = {
    "table": ("markdown.extensions.tables.TableProcessor", "", None, ("|",)),
    "hashheader": (
        "markdown.blockprocessors.HashHeaderProcessor",
        "RE",
        r"(?:^|\n)(?P<level>#{1,6})(?P<header>(?:\\.|[^\\#]|#+(?=[^#\n]))*?)#*(?:\n|$)",
        ("#",),
    ),
    "setextheader": (
        "markdown.blockprocessors.SetextHeaderProcessor",
        "RE",
        r"^.*?\n(?:=+|-+)[ ]*(\n|$)",
        ("\n=", "\n-"),
    ),
    "hr": (
        "markdown.blockprocessors.HRProcessor",
        "SEARCH_RE",
        r"^[ ]{0,3}(?=(?P<atomicgroup>(-+[ ]{0,2}){3,}|(_+[ ]{0,2}){3,}|(\*+[ ]{0,2}){3,}))"
        r"(?P=atomicgroup)[ ]*$",
        ("-", "_", "*"),
    ),
    "quote": (
        "markdown.blockprocessors.BlockQuoteProcessor",
        "RE",
        r"(^|\n)[ ]{0,3}>[ ]?(.*)",
        (">",),
    ),
    "reference": (  # its test says yes to every block; its run gives back those not found
        "markdown.blockprocessors.ReferenceProcessor",
        "RE",
        r"^[ ]{0,3}\[([^\[\]]*)\]:[ ]*(?:\n[ ]*)?([^\s]+)[ ]*(?:\n[ ]*)?"
        r'((["\'])(.*)\4[ ]*|\((.*)\)[ ]*)?$',
        ("]:",),
    ),
}
"""Block processors whose ``test`` is true only of blocks holding one of some strings:
each one's class, the attribute holding the regular expression its test looks for
and that expression (None: not a regular expression, a table's header row needs a
pipe), and the strings."""


def _guard_block_tests(md: markdown.Markdown) -> list[str]:
    """Have each processor of :data:`_BLOCK_TRIGGERS` test only blocks holding its strings.

    The block parser tries every processor's ``test`` on every block until one
    accepts it; these search the whole block (the table's splits its first rows),
    and a block without any of their strings fails them anyway, with no effect kept
    (what a test saves is used only by its ``run``, after it said yes). A processor
    that is not of the class known, or looks for another expression, is left as is.
    Returns the names of those guarded.
    """
    guarded = []
    for name, (kind, attribute, pattern, needs) in _BLOCK_TRIGGERS.items():
        if name not in md.parser.blockprocessors:
            continue
        processor = md.parser.blockprocessors[name]
        cls = type(processor)
        regex = getattr(processor, attribute, None) if attribute else None
        if f"{cls.__module__}.{cls.__qualname__}" != kind or (
            pattern is not None and getattr(regex, "pattern", None) != pattern
        ):
            continue
        processor.test = _needing(needs, processor.test)  # type: ignore[method-assign]
        guarded.append(name)
    return guarded


def _needing(needs: tuple[str, ...], test: Any) -> Any:
    if len(needs) == 1:
        (one,) = needs

        def guarded(parent: ET.Element, block: str) -> bool:
            return one in block and test(parent, block)
    else:
        holds = re.compile("|".join(map(re.escape, needs))).search  # one search, not a loop

        def guarded(parent: ET.Element, block: str) -> bool:
            return holds(block) is not None and test(parent, block)

    return guarded


@dataclass(frozen=True)
class _Converter:
    md: markdown.Markdown
    links: _Links


def _make_converter(*, fast: bool = True) -> _Converter:
    """A configured converter, reset between documents (building one costs more).

    ``fast=False`` gives the same converter with Python-Markdown's own passes only,
    which the fast one must match byte for byte (the tests compare them).
    """
    toc_extension = (_TocExtension if fast else toc.TocExtension)(baselevel=2, slugify=_slug)
    md = markdown.Markdown(
        extensions=["tables", "fenced_code", toc_extension], output_format="html"
    )
    md.preprocessors.deregister("html_block")  # no raw HTML passthrough
    md.inlinePatterns.deregister("html")
    links = _Links(md)
    md.treeprocessors.register(links, "smki-links", -10)  # after toc ids and unescaping
    if fast:
        md.preprocessors.register(_NormalizeWhitespace(md), "normalize_whitespace", 30)
        _guard_fences(md)
        md.postprocessors.register(_RawHtml(md), "raw_html", 30)
        md.serializer = _fast_serialiser(md.serializer)
        md.treeprocessors.register(_Prettify(md), "prettify", 10)  # in place of the stock one
        md.treeprocessors.register(_Unescape(md), "unescape", 0)  # and this one
        md.treeprocessors.register(_Inline(md), "inline", 20)  # in place of the stock stage
        md.treeprocessors.register(_PlainText(md), "smki-plain-text", 21)  # just before
        _guard_block_tests(md)
        # The block parser and the inline stage look their processors up in a Registry
        # for each block and each pattern tried, which sorts-checks and copies it every
        # time; the set is final here, so they get it as a tuple in the same order.
        md.parser.blockprocessors = tuple(md.parser.blockprocessors)  # type: ignore[assignment]
        inline = md.treeprocessors["inline"]
        inline.inlinePatterns = tuple(md.inlinePatterns)  # type: ignore[attr-defined]
    return _Converter(md, links)


_converter = functools.cache(_make_converter)


def render_markdown(text: str) -> RenderedDocument:
    """Render Markdown ``text`` to sanitised HTML (headings start at h2: the page has the h1).

    Relative links are left as tokens for :func:`resolve_links`.
    """
    return _render(_converter(), text)


def _render(converter: _Converter, text: str) -> RenderedDocument:
    md = converter.md
    md.reset()
    converter.links.links = []
    body = md.convert(text)
    tokens = getattr(md, "toc_tokens", [])
    title = html.unescape(tokens[0]["name"]) if tokens and tokens[0]["level"] == 2 else None
    return RenderedDocument(_sanitise(body), title, tuple(converter.links.links))


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
