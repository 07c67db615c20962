"""The search stage: the exact look-up map and the Pagefind bundle (generator.site.search)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from generator.errors import PublishError
from generator.site.search import (
    EXACT_PATH,
    PAGEFIND_DIR,
    VersionFacts,
    exact_map,
    index_site,
    run_pagefind,
    search_key,
    version_facts,
)
from generator.tlog.checkpoint import Checkpoint, sign_checkpoint
from generator.tlog.note import generate_signer

CERT = "items/certificates/device/00db123456789001-ka.pem"


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("00-DB-12-34-56-78-90-01", "db123456789001"),
        ("00:db:12:34:56:78:90:01", "db123456789001"),
        ("4FBC525201A1D7586C1BC1C4734DEB9F", "4fbc525201a1d7586c1bc1c4734deb9f"),
        ("00", "0"),
    ],
)
def test_search_key_normalises_as_search_js_does(text: str, key: str) -> None:
    assert search_key(text) == key


def test_exact_map_maps_entries_euis_and_serials() -> None:
    versions = [
        VersionFacts(f"{CERT}/v1/index.html", CERT, 1, 7, "00AB", "00-DB-12-34-56-78-90-01"),
        VersionFacts("items/documents/a.md/v2/index.html", "items/documents/a.md", 2, 3),
    ]
    exact = exact_map(versions, 9)
    assert exact["v"] == 1 and exact["size"] == 9
    assert exact["entries"] == {
        "3": {"url": "items/documents/a.md/v2/index.html",
              "title": "items/documents/a.md, version 2"},
        "7": {"url": f"{CERT}/v1/index.html", "title": f"{CERT}, version 1"},
    }
    assert exact["eui64"] == {"db123456789001": [exact["entries"]["7"]]}  # type: ignore[index]
    assert exact["serials"] == {"ab": [exact["entries"]["7"]]}  # type: ignore[index]


@pytest.mark.parametrize(
    "record",
    [[], {"item": "items/documents/a.md", "version": "1", "index": 3},
     {"item": "items/documents/a.md", "version": 1}],
)  # fmt: skip
def test_malformed_version_records_are_refused(record: object) -> None:
    with pytest.raises(PublishError, match=r"index\.json"):
        version_facts(record, Path("items/documents/a.md/v1/index.json"))


def _site(root: Path, word: str) -> Path:
    """A minimal built site: one version page and its record, and a signed checkpoint."""
    page = root / "items" / "documents" / "a.md" / "v1"
    page.mkdir(parents=True)
    (page / "index.html").write_text(
        f'<!DOCTYPE html><html lang="en"><head><title>A</title></head><body>'
        f'<main data-pagefind-body data-pagefind-meta="family:documents">'
        f"<h1>A</h1><p>The word is {word}.</p></main></body></html>"
    )
    record = {"item": "items/documents/a.md", "version": 1, "index": 0, "sha256": "00" * 32}
    (page / "index.json").write_text(json.dumps(record))
    (root / "log").mkdir()
    signer = generate_signer("example.org/log")
    (root / "log" / "checkpoint").write_bytes(
        sign_checkpoint(Checkpoint("example.org/log", 1, hashlib.sha256(b"x").digest()), signer)
    )
    return root


def _stat(root: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_ino, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_index_site_writes_the_bundle_once(tmp_path: Path) -> None:
    site = _site(tmp_path / "site", "zanzibarite")
    report = index_site(site)
    assert (report.versions, report.log_size) == (1, 1)
    exact = json.loads((site / EXACT_PATH).read_text())
    assert exact["entries"]["0"]["url"] == "items/documents/a.md/v1/index.html"
    bundle = site / PAGEFIND_DIR
    assert (bundle / "pagefind.js").is_file() and (bundle / "pagefind-worker.js").is_file()
    assert not list(bundle.glob("pagefind-ui.*"))  # search.js drives the JS API itself
    before = _stat(site)
    index_site(site)
    assert _stat(site) == before  # unchanged pages: nothing rewritten
    page = site / "items" / "documents" / "a.md" / "v1" / "index.html"
    page.write_text(page.read_text().replace("zanzibarite", "quokka"))
    index_site(site)
    changed = {p for p, s in _stat(site).items() if before.get(p) != s}
    assert page in changed and any(p.parent.name == "fragment" for p in changed)


def test_pagefind_failure_is_a_publish_error(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(PublishError, match="Pagefind"):
        run_pagefind(tmp_path / "empty", tmp_path / "out")
