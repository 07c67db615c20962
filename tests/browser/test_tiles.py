"""verify.js on a tree of three tile levels, with ``x``-prefixed tile paths.

A log of 262,500 synthetic entries (``{"item", "sha256"}`` JSON, the fields
verify.js reads) has 1,025 full level-0 tiles and the partial tile
``tile/0/x001/025.p/100``, four full level-1 tiles and ``tile/1/004.p/1``, and
``tile/2/000.p/4``. The real ``_verify.html`` is rendered for a few entries at tile
and subtree edges, and each is proven in Chromium.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterator
from typing import Any

import jinja2
import pytest

from generator.site.render import builtin_templates
from generator.tlog.note import generate_signer
from generator.tlog.store import DirStore
from generator.tlog.writer import LogWriter
from tests.browser.conftest import Site, serve_dir

SIZE = 262_500
INDEXES = (0, 255, 256, 65_535, 65_536, 256_000, SIZE - 1)


def item_bytes(index: int) -> bytes:
    """The 'file' that entry ``index`` records."""
    return f"file {index}\n".encode()


def _page(env: jinja2.Environment, index: int) -> str:
    body = env.get_template("_verify.html").render(
        root="../", sha256=hashlib.sha256(item_bytes(index)).hexdigest(), entry_index=index,
        item_path=f"items/documents/f{index}.md",
    )  # fmt: skip
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>entry</title>'
        f"</head><body><main>{body}</main></body></html>"
    )


@pytest.fixture(scope="module")
def big_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A served log of SIZE entries with a verify page per entry of INDEXES."""
    root = tmp_path_factory.mktemp("big-log")
    key = generate_signer("example.org/big-log")
    writer = LogWriter(DirStore(root / "log"), key)
    writer.append([
        json.dumps({"item": f"items/documents/f{i}.md",
                    "sha256": hashlib.sha256(item_bytes(i)).hexdigest()}).encode()
        for i in range(SIZE)
    ])  # fmt: skip
    writer.commit()
    (root / "log" / "vkey").write_text(key.verifier().vkey + "\n")
    templates = builtin_templates()
    static = root / "static"
    static.mkdir()

    def asset(name: str) -> dict[str, str]:
        data = (templates / "static" / name).read_bytes()
        (static / name).write_bytes(data)
        digest = base64.b64encode(hashlib.sha384(data).digest()).decode()
        return {"url": f"../static/{name}", "integrity": f"sha384-{digest}"}

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(templates), autoescape=True,
                             undefined=jinja2.StrictUndefined)  # fmt: skip
    env.globals.update(asset=asset, href=lambda target: f"../{target}", LOG="log/index.html",
                       VKEY="log/vkey", object_file=lambda sha: f"objects/{sha}")  # fmt: skip
    for index in INDEXES:
        page = root / f"e{index}" / "index.html"
        page.parent.mkdir()
        page.write_text(_page(env, index))
    assert (root / "log" / "tile" / "0" / "x001" / "025.p" / "100").is_file()
    assert (root / "log" / "tile" / "2" / "000.p" / "4").is_file()
    with serve_dir(root) as url:
        yield Site(root, url, key, {})


@pytest.mark.parametrize("index", INDEXES)
def test_inclusion_across_three_tile_levels(big_site: Site, page: Any, index: int) -> None:
    page.goto(f"{big_site.url}e{index}/index.html")
    page.set_input_files("#verify-file", files=[
        {"name": "held", "mimeType": "text/plain", "buffer": item_bytes(index)}
    ])  # fmt: skip
    result = page.wait_for_selector(
        "#verify-result[data-state=verified], #verify-result[data-state=failed]"
    )
    text = result.inner_text()
    assert result.get_attribute("data-state") == "verified", text
    assert "(2) The site has no lookup index" in text
    assert f"entry {index} of the log, included in the checkpoint of size {SIZE}" in text


def test_a_tampered_level_one_tile_is_named(big_site: Site, page: Any) -> None:
    tile = big_site.root / "log" / "tile" / "1" / "000"
    original = tile.read_bytes()
    tile.write_bytes(original[:40] + bytes([original[40] ^ 1]) + original[41:])
    try:
        page.goto(f"{big_site.url}e0/index.html")
        page.set_input_files("#verify-file", files=[
            {"name": "held", "mimeType": "text/plain", "buffer": item_bytes(0)}
        ])  # fmt: skip
        text = page.wait_for_selector("#verify-result[data-state=failed]").inner_text()
    finally:
        tile.write_bytes(original)
    assert "Not verified: tile log/tile/1/000 does not match its hash in log/tile/2/000.p/4" in text
