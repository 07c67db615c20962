"""Links: the URL scheme, the site map's refusals, and a link checker over a built site.

The checker resolves every ``href`` and ``src`` of every page as a ``file://``
browser would: each must name a file (never a bare folder) and each fragment an
id of the target page.
"""

from __future__ import annotations

import posixpath
import urllib.parse
from pathlib import Path

import pytest

from generator.errors import ContentError
from generator.site import links
from tests.site.sitebuild import ORIGIN, BuiltSite, parse_html


def broken_links(out: Path, pages: list[str], base_path: str = "/") -> list[str]:
    """Every internal link of ``pages`` (site paths) that does not resolve, described.

    ``404.html`` is served at any depth, so its links are absolute: under ``base_path``.
    """
    ids: dict[str, set[str]] = {}

    def ids_of(path: str) -> set[str]:
        if path not in ids:
            ids[path] = parse_html((out / path).read_text(encoding="utf-8")).ids
        return ids[path]

    problems = []
    for page in pages:
        for tag in parse_html((out / page).read_text(encoding="utf-8")).tags:
            for attribute in ("href", "src"):
                url = tag.get(attribute)
                if url is None:
                    continue
                parts = urllib.parse.urlsplit(url)
                if parts.scheme or parts.netloc:
                    continue  # external: http, https, mailto only (checked by the XSS tests)
                if page == links.NOT_FOUND and parts.path.startswith(base_path):
                    target = parts.path.removeprefix(base_path)
                elif parts.path:
                    target = posixpath.normpath(posixpath.join(posixpath.dirname(page), parts.path))
                else:
                    target = page
                if not (out / target).is_file():
                    problems.append(f"{page}:{tag.line}: {url} -> {target} is not a file")
                elif (
                    parts.fragment
                    and target.endswith(".html")
                    and parts.fragment not in ids_of(target)
                ):
                    problems.append(f"{page}:{tag.line}: {url}: no id {parts.fragment!r}")
    return problems


def test_every_link_of_the_sample_site_resolves(sample_site: BuiltSite) -> None:
    pages = sample_site.html_pages()
    assert len(pages) > 100
    base_path = urllib.parse.urlsplit(f"https://{ORIGIN}/").path  # the default base URL
    assert broken_links(sample_site.out, pages, base_path) == []


def test_the_checker_finds_a_dangling_link_and_a_missing_fragment(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "index.html").write_text(
        '<a href="../b.html">b</a><a href="index.html#nowhere">x</a><a href="../a/">dir</a>'
        '<p id="here"><a href="#here">self</a></p>'
    )
    problems = broken_links(tmp_path, ["a/index.html"])
    assert len(problems) == 3
    assert "b.html is not a file" in problems[0]
    assert "no id 'nowhere'" in problems[1]
    assert "a is not a file" in problems[2]  # a folder link breaks file:// mirrors


@pytest.mark.parametrize(
    ("path", "want"),
    [
        (links.item_page("items/documents/a.md"), "items/documents/a.md/index.html"),
        (links.version_page("items/documents/a.md", 2), "items/documents/a.md/v2/index.html"),
        (links.version_json("items/crls/x.pem", 1), "items/crls/x.pem/v1/index.json"),
        (links.version_proof("items/crls/x.pem", 1), "items/crls/x.pem/v1/proof.tlog-proof"),
        (links.converted("items/crls/x.pem", 3, "crl", "der"), "items/crls/x.pem/v3/crl.der"),
        (links.family_page("documents"), "items/documents/index.html"),
        (links.family_page("certificates/device", 2),
         "items/certificates/device/_page/2/index.html"),
        (links.note_page("approval", "PMA-2019-073"), "approvals/PMA-2019-073/index.html"),
        (links.note_page("lodgement", "LDG-1"), "lodgements/LDG-1/index.html"),
        (links.entry_page(0), "log/entry/0/index.html"),
        (links.entries_page(3), "log/entries/page/3/index.html"),
        (links.object_file("ab" * 32), "objects/" + "ab" * 32),
    ],
)
def test_url_scheme(path: str, want: str) -> None:
    assert path == want


@pytest.mark.parametrize(
    ("source", "root"),
    [("index.html", ""), ("log/index.html", "../"), ("items/a/b.md/v1/index.html", "../../../../")],
)
def test_links_go_up_to_the_root_and_down(source: str, root: str) -> None:
    site = links.SiteMap()
    site.add("items/index.html", "the items index")
    assert links.root_of(source) == root
    assert site.href(source, "items/index.html", "top") == root + "items/index.html#top"


def test_a_link_to_a_page_that_is_not_planned_names_source_and_target() -> None:
    site = links.SiteMap()
    with pytest.raises(ContentError, match=r"log/index\.html: links to approvals/X/index\.html"):
        site.href("log/index.html", "approvals/X/index.html")


@pytest.mark.parametrize(
    ("first", "second", "clash"),
    [
        ("a/index.html", "a/index.html", "a/index.html"),  # two outputs, one path
        ("items/documents/index.html", "items/documents/index.html/index.html",
         "items/documents/index.html/index.html"),  # a file where a folder must be
        ("items/x/v1/index.html", "items/x/v1", "items/x/v1"),  # a folder where a file must be
    ],
)
def test_colliding_outputs_are_refused(first: str, second: str, clash: str) -> None:
    site = links.SiteMap()
    site.add(first, "the first")
    message = f"the second and the first would both be written at {clash}"
    with pytest.raises(ContentError, match=message):
        site.add(second, "the second")


REUSED = [["items/x/index.html", "items/x/v1/index.html"], ["log/entry/3/index.html"]]


@pytest.mark.parametrize(
    ("planned", "when"),
    [
        ("items/x/v1/index.html", "before"),  # the same path
        ("items/x/v1", "before"),  # a file where their folder is
        ("items/x/index.html/page.html", "before"),  # a folder where their file is
        ("log/entry/3/index.html", "after"),
        ("log/entry", "after"),
        ("log/entry/3/index.html/x", "after"),
    ],
)
def test_outputs_colliding_with_reused_ones_are_refused(planned: str, when: str) -> None:
    """An earlier build's unchanged outputs (registered all at once) clash with what is
    planned before them, and with what is planned after them."""
    site = links.SiteMap()
    if when == "before":
        site.add(planned, "the new page")
        with pytest.raises(ContentError, match="clashes with"):
            site.add_reused(REUSED)
    else:
        site.add_reused(REUSED)
        with pytest.raises(ContentError, match="would both be written at"):
            site.add(planned, "the new page")


def test_reused_outputs_are_linked_to_and_share_folders() -> None:
    site = links.SiteMap()
    site.add("items/x/v2/index.html", "a new version")
    site.add_reused(REUSED)
    site.add("items/x/v2/index.json", "its facts")
    site.add("log/entry/4/index.html", "a new entry")
    assert "items/x/v1/index.html" in site and "log/entry/3/index.html" in site
    link = site.href("items/x/v2/index.html", "items/x/v1/index.html")
    assert link == "../../../items/x/v1/index.html"
    with pytest.raises(ContentError, match="not part of the site"):
        site.href("items/x/v2/index.html", "items/x/v3/index.html")


@pytest.mark.parametrize("path", ["log/checkpoint", "log/vkey", "log/tile/0/000", "objects/ab"])
def test_the_site_never_writes_where_the_log_stage_does(path: str) -> None:
    with pytest.raises(ContentError, match="belongs to the log stage"):
        links.SiteMap().add(path, "a page")


ITEMS = {"items/documents/a.md", "items/documents/sub/b.md", "items/crls/c.pem"}


@pytest.mark.parametrize(
    ("document", "href", "want"),
    [
        ("items/documents/a.md", "sub/b.md", ("items/documents/sub/b.md/index.html", "")),
        ("items/documents/a.md", "sub/b.md#scope",
         ("items/documents/sub/b.md/index.html", "scope")),
        ("items/documents/sub/b.md", "../a.md?x=1", ("items/documents/a.md/index.html", "")),
        ("items/documents/sub/b.md", "../../crls/c.pem", ("items/crls/c.pem/index.html", "")),
        ("items/documents/a.md", "./%73ub/b.md", ("items/documents/sub/b.md/index.html", "")),
        ("items/documents/a.md", "../crls/", ("items/crls/index.html", "")),
        ("items/documents/a.md", "missing.md", None),
        ("items/documents/a.md", "../../../etc/passwd", None),
        ("items/documents/a.md", "../../policy.note", None),
    ],
)
def test_document_links_resolve_to_item_pages(
    document: str, href: str, want: tuple[str, str] | None
) -> None:
    assert links.document_target(document, href, ITEMS, ("documents", "crls")) == want
