"""Browser tests: one built site, served on 127.0.0.1, driven by Debian's Chromium.

The site is built once per session from a small content repository made here
(documents, an amended and a withdrawn document, real SMKI sample certificates,
and enough items to fill a whole hash tile). Copies with one byte flipped in a
hash tile, and without the lookup index, are served beside it, and so is the
project's sample repository (``content/``). One Chromium runs for the session; each test gets
a fresh context. A missing Chromium or Playwright fails the tests: CI installs
both (``.ci/run``), and a skipped browser suite would hide a broken verifier.
"""

from __future__ import annotations

import contextlib
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from generator.build import build
from generator.repository.authorisation import Change
from generator.serve import make_server
from generator.tlog.note import Signer, generate_signer, parse_signer
from tests.conftest import ROOT, SAMPLES
from tests.repository.gitrepo import KEYS, ContentRepo, sha

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ORIGIN = "smki.example/test-log"
SAMPLE = ROOT / "content"

DOC = "items/documents/smki-rapp.md"
DOC_V1 = b"# Registration Authority Policies\n\nThe quarantined word is zanzibarite.\n"
DOC_V2 = DOC_V1 + b"\nAmended by the PMA: applications take five working days.\n"
GONE = "items/documents/withdrawn-note.md"
GONE_V1 = b"# A note later withdrawn\n"
ORG_CERT = "items/certificates/organisation/supplier-90b3d51f30010000-ds.pem"
DEVICE_CERT = "items/certificates/device/00db123456789001-ka.pem"
FILLERS = 260
"""Extra documents: with them the log passes 256 entries, so a full tile exists."""


@dataclass(frozen=True)
class Site:
    """A built site and where it is served."""

    root: Path
    url: str
    key: Signer
    files: dict[str, bytes]


def _make_content(path: Path) -> tuple[ContentRepo, dict[str, bytes]]:
    repo = ContentRepo(path)
    files: dict[str, bytes] = {
        DOC: DOC_V1,
        GONE: GONE_V1,
        ORG_CERT: (SAMPLES / "org-supplier-90b3d51f30010000-ds.pem").read_bytes(),
        DEVICE_CERT: (SAMPLES / "device-00db123456789001-ka.pem").read_bytes(),
    }
    for i in range(FILLERS):
        files[f"items/documents/filler/note-{i:03}.md"] = f"# Filler note {i}\n".encode()
    repo.genesis(files)
    repo.approval(
        "PMA-2026-001",
        [
            Change("amend", DOC, sha(DOC_V1), sha(DOC_V2)),
            Change("withdraw", GONE, sha(GONE_V1), None),
        ],
    )
    repo.write(DOC, DOC_V2)
    repo.delete(GONE)
    repo.commit("amend the RAPP and withdraw a note, under PMA-2026-001")
    return repo, {**files, DOC + "@2": DOC_V2}


@contextlib.contextmanager
def serve_dir(root: Path) -> Iterator[str]:
    """Serve ``root`` on 127.0.0.1 (applying its ``_headers``); yield the base URL."""
    server = make_server(root, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Signer, dict[str, bytes]]:
    """The site built from the test content repository: (root, log key, item bytes)."""
    base = tmp_path_factory.mktemp("browser-site")
    repo, files = _make_content(base / "content")
    key = generate_signer(ORIGIN)
    key_file = base / "log.key"
    key_file.write_text(key.skey + "\n")
    build(repo.path, base / "site", key_file=key_file, state_dir=base / "state")
    return base / "site", key, files


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The project's sample repository (``content/``), built and served."""
    base = tmp_path_factory.mktemp("sample-site")
    key = parse_signer((KEYS / "log.key").read_text())
    build(SAMPLE, base / "site", key_file=KEYS / "log.key", state_dir=base / "state")
    with serve_dir(base / "site") as url:
        yield Site(base / "site", url, key, {})


@pytest.fixture(scope="session")
def site(built: tuple[Path, Signer, dict[str, bytes]]) -> Iterator[Site]:
    """The built site, served on 127.0.0.1."""
    root, key, files = built
    with serve_dir(root) as url:
        yield Site(root, url, key, files)


@pytest.fixture(scope="session")
def tampered_site(
    built: tuple[Path, Signer, dict[str, bytes]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A copy of the site with one byte flipped in the full level-0 hash tile.

    The flipped byte is in the hash of entry 200, not of any entry the tests verify:
    every hash of a tile the proof reads must count, not only those on the path.
    """
    root, key, files = built
    copy = tmp_path_factory.mktemp("tampered") / "site"
    shutil.copytree(root, copy)
    tile = copy / "log" / "tile" / "0" / "000"
    data = bytearray(tile.read_bytes())
    data[200 * 32 + 5] ^= 0x01
    tile.unlink()  # the build may hard-link files: never write through a link
    tile.write_bytes(bytes(data))
    with serve_dir(copy) as url:
        yield Site(copy, url, key, files)


@pytest.fixture(scope="session")
def unindexed_site(
    built: tuple[Path, Signer, dict[str, bytes]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Site]:
    """A copy of the site without the lookup index (``index/``)."""
    root, key, files = built
    copy = tmp_path_factory.mktemp("unindexed") / "site"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("index"))
    assert not (copy / "index").exists() and (copy / "index.html").exists()
    with serve_dir(copy) as url:
        yield Site(copy, url, key, files)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Debian's Chromium under Playwright, one for the whole session."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the browser tests need Debian's Chromium "
            "(apt-get install -y chromium; .ci/run installs it)",
            pytrace=False,
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail(
            "Playwright for Python is not installed: pip install -e '.[test]' "
            "(never `playwright install`: the tests drive /usr/bin/chromium)",
            pytrace=False,
        )
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class Console:
    """Console errors, uncaught exceptions and CSP violations seen by a page."""

    def __init__(self, page: Any) -> None:
        self.errors: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.errors.append(f"uncaught: {error}"))

    def _console(self, message: Any) -> None:
        where = message.location.get("url", "") if message.location else ""
        if where.endswith("/favicon.ico"):
            return  # the browser asks for it by itself; the site links no icon
        if message.type == "error" or "Content Security Policy" in message.text:
            self.errors.append(f"{message.type}: {message.text} ({where})")


@pytest.fixture()
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser context (own storage) per test."""
    ctx = browser.new_context()
    yield ctx
    ctx.close()


@pytest.fixture()
def page(context: Any) -> Any:
    """A page whose console errors and CSP violations are recorded in ``page.console``."""
    page = context.new_page()
    page.console = Console(page)
    # CSP violations also fire a DOM event: record them, whatever the console says.
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => "
        "console.error('CSP violation: ' + e.violatedDirective + ' ' + e.blockedURI));"
    )
    return page
