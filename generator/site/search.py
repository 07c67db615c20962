"""Site search: the Pagefind full-text index and the exact look-up map.

Pagefind (the ``pagefind[bin]`` package ships its binary) indexes the built pages
into ``OUT/pagefind/``; pages mark their searchable body with
``data-pagefind-body`` and their family and status as Pagefind meta
(``data-pagefind-meta``), which ``search.js`` filters on. Not Pagefind filters:
Pagefind 1.5 writes its filter indexes in hash-map order, so two builds of one
history would differ; without them its bundle is byte-for-byte reproducible.
The search page's script (``static/search.js``) answers exact queries first: a
SHA-256 through the lookup index ``index/sha256/``, and a log entry number, an
EUI-64 or a certificate serial number through ``search/exact.json``, which
:func:`index_site` writes from the item version records (``index.json``).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from generator.errors import PublishError
from generator.files import atomic_write
from generator.site import links
from generator.tlog.checkpoint import parse_checkpoint
from generator.tlog.errors import MalformedError
from generator.tlog.note import parse_note

PAGEFIND_DIR = "pagefind"
"""Where Pagefind writes its index and scripts, under the site root."""

EXACT_PATH = "search/exact.json"
"""The exact look-up map, under the site root."""

PAGEFIND_TIMEOUT = 600.0
"""Seconds Pagefind may take before the build gives up on it."""

PAGEFIND_OPTIONS = ("--keep-index-url", "--silent")
"""Pagefind's options: results link to ``…/index.html``, as every link of the site does."""

UNUSED_UI = ("pagefind-ui.", "pagefind-component-ui.", "pagefind-modular-ui.",
             "pagefind-highlight.")
"""Pagefind's own UIs, not published: ``search.js`` drives Pagefind's JS API itself."""

SEARCH_CACHE = ".smki-search-cache"
"""The digest of the pages the Pagefind bundle was made from (a build cache, not a page)."""


@dataclass(frozen=True)
class VersionFacts:
    """An item version as exact queries find it: its page, entry and certificate facts."""

    page: str
    item: str
    number: int
    index: int
    serial: str | None = None
    eui64: str | None = None


@dataclass(frozen=True)
class SearchIndex:
    """What :func:`index_site` wrote: versions in the exact map, and the log size."""

    versions: int
    log_size: int


def index_site(out: Path) -> SearchIndex:
    """Write ``search/exact.json`` and the Pagefind index of the pages under ``out``.

    Pagefind runs only when the pages changed since the bundle was made (their digest
    is kept in ``.smki-search-cache``), and then only changed files are replaced, so
    a rebuild of an unchanged site rewrites nothing; two runs over the same pages
    give the same bundle (the site uses no Pagefind filters, see the module notes).
    """
    versions = list(read_versions(out))
    size = log_size(out)
    data = json.dumps(exact_map(versions, size), sort_keys=True, separators=(",", ":"))
    _update(out / EXACT_PATH, data.encode() + b"\n")
    digest = pages_digest(out)
    cache = out / SEARCH_CACHE
    bundle = out / PAGEFIND_DIR
    if not (cache.is_file() and cache.read_text() == digest and (bundle / "pagefind.js").is_file()):
        with tempfile.TemporaryDirectory(prefix="smki-pagefind-") as temp:
            run_pagefind(out, Path(temp) / PAGEFIND_DIR)
            _sync_tree(Path(temp) / PAGEFIND_DIR, bundle)
        atomic_write(cache, digest.encode())
    return SearchIndex(len(versions), size)


def pages_digest(site: Path) -> str:
    """SHA-256 of what Pagefind reads: its version and options, and every HTML page by its
    path and file identity (inode, size, modification time).

    The pages are not read (a large site holds a gigabyte of them, cold on disk when
    nothing changed): the site stage never rewrites a file in place but renames a new
    one over it, and staging keeps unchanged pages as hard links, so a page's identity
    changes whenever its bytes may have.
    """
    h = hashlib.sha256(f"pagefind {importlib.metadata.version('pagefind')}\n".encode())
    h.update(" ".join(PAGEFIND_OPTIONS).encode() + b"\n")
    pages = []
    for folder, _, names in os.walk(site):
        at = Path(folder).relative_to(site).as_posix()
        for name in names:
            if name.endswith(".html"):
                s = os.stat(os.path.join(folder, name))
                pages.append(f"{at}/{name} {s.st_ino} {s.st_size} {s.st_mtime_ns}\n")
    h.update("".join(sorted(pages)).encode())
    return h.hexdigest()


def run_pagefind(site: Path, output: Path) -> None:
    """Run Pagefind over the pages of ``site``, writing its bundle to ``output``.

    Raises PublishError if Pagefind is missing, fails, or writes no bundle.
    """
    command = [sys.executable, "-m", "pagefind", "--site", str(site), "--output-path",
               str(output), *PAGEFIND_OPTIONS]  # fmt: skip
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=PAGEFIND_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        raise PublishError(
            f"Pagefind took more than {PAGEFIND_TIMEOUT:.0f} s to index {site}"
        ) from None
    if done.returncode != 0:
        detail = (done.stderr or done.stdout).strip().splitlines()
        if any("No module named pagefind" in line for line in detail):
            raise PublishError("Pagefind is not installed: pip install 'pagefind[bin]'")
        why = " / ".join(detail[-3:]) or f"exit status {done.returncode}"
        raise PublishError(f"Pagefind failed on {site}: {why}")
    if not (output / "pagefind.js").is_file():
        raise PublishError(f"Pagefind wrote no search bundle for {site}")


def _update(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` unless it already holds exactly those bytes."""
    if not path.is_file() or path.read_bytes() != data:
        atomic_write(path, data)


def _sync_tree(source: Path, target: Path) -> None:
    """Make ``target`` hold the files of ``source`` (less Pagefind's unused UIs): changed
    ones replaced, stale ones removed."""
    wanted = {
        p.relative_to(source)
        for p in source.rglob("*")
        if p.is_file() and not p.name.startswith(UNUSED_UI)
    }
    for rel in sorted(wanted):
        _update(target / rel, (source / rel).read_bytes())
    for path in sorted(target.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(target) not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def search_key(text: str) -> str:
    """A serial number or EUI-64 as ``search.js`` normalises a query: lower-case hex
    digits only, without leading zeros."""
    digits = "".join(c for c in text.lower() if c in "0123456789abcdef")
    return digits.lstrip("0") or "0"


def exact_map(versions: Iterable[VersionFacts], size: int) -> dict[str, object]:
    """The exact look-up map (format ``v`` 1).

    ``size`` is the log size (every entry below it has a page, ``log/entry/<E>/``);
    ``entries`` maps the entry of each item version to its page; ``eui64`` and
    ``serials`` map :func:`search_key` values to the certificate versions that carry
    them. Pages are site paths; each target is ``{"url", "title"}``.
    """
    entries: dict[str, dict[str, str]] = {}
    eui64: dict[str, list[dict[str, str]]] = {}
    serials: dict[str, list[dict[str, str]]] = {}
    for v in sorted(versions, key=lambda v: v.index):
        target = {"url": v.page, "title": f"{v.item}, version {v.number}"}
        entries[str(v.index)] = target
        if v.eui64:
            eui64.setdefault(search_key(v.eui64), []).append(target)
        if v.serial:
            serials.setdefault(search_key(v.serial), []).append(target)
    return {"v": 1, "size": size, "entries": entries, "eui64": eui64, "serials": serials}


def log_size(out: Path) -> int:
    """The tree size of the checkpoint the log stage wrote (read, not verified: our own)."""
    path = out / links.CHECKPOINT
    try:
        return parse_checkpoint(parse_note(path.read_bytes()).text).size
    except (OSError, MalformedError) as error:
        raise PublishError(f"{path}: cannot read the log size ({error})") from None


def read_versions(out: Path) -> Iterator[VersionFacts]:
    """Every item version of the site, from its ``index.json``."""
    for path in sorted((out / "items").glob("**/v*/index.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
            raise PublishError(f"{path}: not a version record ({error})") from None
        yield version_facts(data, path)


def version_facts(data: object, where: Path) -> VersionFacts:
    """The facts of one version record (a certificate's carry its serial and EUI-64)."""
    if not isinstance(data, Mapping):
        raise PublishError(f"{where}: not a version record")
    item, number, index = (data.get(k) for k in ("item", "version", "index"))
    if not (isinstance(item, str) and isinstance(number, int) and isinstance(index, int)):
        raise PublishError(f"{where}: want 'item', 'version' and 'index'")
    certificate = data.get("certificate")
    facts = certificate if isinstance(certificate, Mapping) else {}
    serial, eui64 = facts.get("serial"), facts.get("eui64")
    return VersionFacts(
        links.version_page(item, number), item, number, index,
        serial if isinstance(serial, str) else None, eui64 if isinstance(eui64, str) else None,
    )  # fmt: skip
