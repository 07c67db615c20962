"""Where the pages of a built site are (the URL scheme of the site generator)."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Served(Protocol):
    """A built site and its base URL."""

    @property
    def root(self) -> Path: ...

    @property
    def url(self) -> str: ...


def page_url(site: Served, page: Path) -> str:
    """The URL of the page written at ``page`` (an index.html under the site root)."""
    rel = page.parent.relative_to(site.root).as_posix()
    return site.url + ("" if rel == "." else rel + "/")


def version_url(site: Served, item: str, number: int) -> str:
    """The page of version ``number`` of ``item``: ``items/<path>/v<N>/``."""
    page = site.root / item / f"v{number}" / "index.html"
    if not page.exists():
        raise AssertionError(f"no page for version {number} of {item} at {page}")
    return page_url(site, page)


def first_page(site: Served, pattern: str) -> str:
    """The URL of the first page (sorted) whose path matches ``pattern``."""
    found = sorted(site.root.glob(pattern))
    if not found:
        raise AssertionError(f"no page matches {pattern} in {site.root}")
    return page_url(site, found[0])
