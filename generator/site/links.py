"""The site's URL scheme (contract, see docs/site.md) and its link checking.

Every page is a file whose path is given by one function here; links between
pages are relative (``../../index.html``, never ``/…`` or a bare directory), so
the site works under any prefix and as a ``file://`` mirror. :class:`SiteMap`
holds every path the build will write or that the log stage wrote; asking it
for a link to anything else is a build error naming the page and the target,
as is a plan in which two outputs collide.
"""

from __future__ import annotations

import bisect
import posixpath
import urllib.parse
from collections.abc import Collection

from generator.errors import ContentError

HOME = "index.html"
ITEMS = "items/index.html"
APPROVALS = "approvals/index.html"
LODGEMENTS = "lodgements/index.html"
INCIDENTS = "incidents/index.html"
POLICY = "policy/index.html"
LOG = "log/index.html"
ENTRIES = "log/entries/index.html"
NOT_FOUND = "404.html"
FEED = "feed.xml"
SITEMAP = "sitemap.xml"
ROBOTS = "robots.txt"
HEADERS = "_headers"
CHECKPOINT = "log/checkpoint"
VKEY = "log/vkey"

LOG_STAGE = ("log/checkpoint", "log/vkey", "log/tile/", "objects/")
"""Paths the log stage writes: the site stage never writes there."""


def item_page(item: str) -> str:
    """The page of an item (its current version, or that it was withdrawn)."""
    return f"{item}/index.html"


def version_dir(item: str, number: int) -> str:
    """The folder of version ``number`` (from 1) of an item."""
    return f"{item}/v{number}/"


def version_page(item: str, number: int) -> str:
    """The page of one version of an item."""
    return version_dir(item, number) + "index.html"


def version_json(item: str, number: int) -> str:
    """The facts of one version, as JSON."""
    return version_dir(item, number) + "index.json"


def version_proof(item: str, number: int) -> str:
    """The C2SP tlog-proof of one version's log entry."""
    return version_dir(item, number) + "proof.tlog-proof"


def converted(item: str, number: int, kind: str, encoding: str) -> str:
    """A certificate or CRL version converted to the other encoding (``pem`` or ``der``)."""
    return version_dir(item, number) + f"{kind}.{encoding}"


def family_page(family: str, page: int = 1) -> str:
    """A page of the listing of an item family (``_`` cannot start an item name)."""
    return f"items/{family}/index.html" if page == 1 else f"items/{family}/_page/{page}/index.html"


def note_page(kind: str, note_id: str) -> str:
    """The page of an approval or lodgement."""
    return f"{kind}s/{note_id}/index.html"


def entry_page(index: int) -> str:
    """The page of one log entry."""
    return f"log/entry/{index}/index.html"


def entries_page(page: int) -> str:
    """A page of the log entry listing (page 1 holds entries 0–99, shown newest first)."""
    return f"log/entries/page/{page}/index.html"


def object_file(sha256: str) -> str:
    """The exact bytes of a logged object (written by the log stage)."""
    return f"objects/{sha256}"


def static_file(name: str) -> str:
    """A static asset (style sheet, scripts)."""
    return f"static/{name}"


def root_of(source: str) -> str:
    """The relative URL of the site root from page ``source`` (``""`` at the top)."""
    return "../" * source.count("/")


class SiteMap:
    """Every file of the site; links may only point at these.

    Files are planned one by one (:meth:`add`), or all of an earlier build's
    unchanged units at once (:meth:`add_reused`): those are known not to clash with
    each other (the earlier build checked), only with what this build plans.
    """

    def __init__(self) -> None:
        self.files: dict[str, str] = {}  # path -> what it is (for error messages)
        self.dirs: set[str] = set()
        self.reused: set[str] = set()  # an earlier build's outputs, taken as they were
        self._reused_sorted: list[str] = []

    def add(self, path: str, what: str) -> None:
        """Plan ``path``; two outputs at one path, or a file where a folder is, is an error."""
        if path.startswith(LOG_STAGE) and not what.startswith("log stage"):
            raise ContentError(f"{what}: {path} belongs to the log stage")
        clash = self.files.get(path) or self._reused_clash(path)
        if clash is None and path in self.dirs:
            clash = next(w for p, w in self.files.items() if p.startswith(path + "/"))
        parent = path.rpartition("/")[0]
        while clash is None and parent and parent not in self.dirs:
            clash = self.files.get(parent) or self._reused_file(parent)
            self.dirs.add(parent)
            parent = parent.rpartition("/")[0]
        if clash is not None:
            raise ContentError(f"{what} and {clash} would both be written at {path}")
        self.files[path] = what

    def add_reused(self, units: Collection[Collection[str]]) -> None:
        """Plan the outputs of units an earlier build planned (and checked) as they were."""
        for paths in units:
            self.reused.update(paths)
        if not self.reused:
            return
        self._reused_sorted = sorted(self.reused)
        clashes = sorted((self.files.keys() | self.dirs) & self.reused)
        if clashes:
            path = clashes[0]
            raise ContentError(f"an earlier build's {path} clashes with "
                               f"{self.files.get(path, 'a folder of the site')}")  # fmt: skip
        for path, what in self.files.items():
            if self._reused_clash(path) is not None:
                raise ContentError(f"{what} at {path} clashes with an earlier build's outputs "
                                   f"in a folder {path}/")  # fmt: skip

    def _reused_file(self, path: str) -> str | None:
        """What is at ``path`` if it is a reused output (for error messages)."""
        return "an output of an earlier build" if path in self.reused else None

    def _reused_clash(self, path: str) -> str | None:
        """What of the reused outputs is at ``path`` (a file, or a folder of them), if any."""
        if not self.reused or path in self.reused:
            return self._reused_file(path)
        folder = path + "/"
        at = bisect.bisect_left(self._reused_sorted, folder)
        if at < len(self._reused_sorted) and self._reused_sorted[at].startswith(folder):
            return f"an earlier build's {self._reused_sorted[at]}"
        return None

    def __contains__(self, path: object) -> bool:
        return path in self.files or path in self.reused

    def href(
        self, source: str, target: str, fragment: str | None = None, *, root: str | None = None
    ) -> str:
        """The link from page ``source`` to ``target``; a dangling target is an error.

        Links go up to the site root and down again (``root`` is the way up, by
        default :func:`root_of` ``source``), so a page's links never depend on
        where else it is linked from.
        """
        if target not in self.files and target not in self.reused:
            raise ContentError(f"{source}: links to {target}, which is not part of the site")
        base = root_of(source) if root is None else root
        return base + target + (f"#{fragment}" if fragment else "")


def document_target(
    document: str, href: str, items: Collection[str], families: Collection[str]
) -> tuple[str, str] | None:
    """The page a document's relative link points at, and its fragment; None if dangling.

    The link is resolved against the document's folder (``../crls/x.md#scope``);
    an item goes to its item page, a family folder to its listing.
    """
    path, _, fragment = href.partition("#")
    path = urllib.parse.unquote(path.partition("?")[0])
    target = posixpath.normpath(posixpath.join(posixpath.dirname(document), path))
    if target in items:
        return item_page(target), fragment
    family = target.removeprefix("items/")
    if target.startswith("items/") and family in families:
        return family_page(family), fragment
    return None
