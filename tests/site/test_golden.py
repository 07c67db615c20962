"""Golden output: the sites of two sample repositories, diffed against committed trees.

``tests/site/golden/sample/`` is the site of the small repository of
tests/site/sitebuild.py; ``tests/site/golden/content/`` is the site of the
project's sample repository ``content/`` signed with ``tests/keys/log.key``.
Each holds every file the site stage writes (the log, objects and search index
are other stages'), and a build must reproduce it byte for byte.

When a change to the pages is meant, regenerate the trees and review the diff
before committing it::

    SMKI_REGENERATE_GOLDEN=1 python -m pytest tests/site/test_golden.py
"""

from __future__ import annotations

import difflib
import os
import shutil
from pathlib import Path

import pytest

from generator.errors import HistoryError
from tests.conftest import ROOT
from tests.site.sitebuild import BuiltSite, build_site

GOLDEN = Path(__file__).resolve().parent / "golden"
REGENERATE = os.environ.get("SMKI_REGENERATE_GOLDEN") == "1"


def check_golden(site: BuiltSite, expected: Path) -> None:
    """Compare the site's files with ``expected`` (or rewrite it when regenerating)."""
    files = site.site_files()
    if REGENERATE:
        shutil.rmtree(expected, ignore_errors=True)
        for path in files:
            target = expected / path
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(site.out / path, target)
        return
    assert expected.is_dir(), f"no golden tree at {expected}: see this module's docstring"
    want = sorted(p.relative_to(expected).as_posix() for p in expected.rglob("*") if p.is_file())
    assert files == want, (
        f"missing: {sorted(set(want) - set(files))[:10]}; "
        f"unexpected: {sorted(set(files) - set(want))[:10]}"
    )
    differing = [p for p in files if (site.out / p).read_bytes() != (expected / p).read_bytes()]
    if differing:
        first = differing[0]
        diff = difflib.unified_diff(
            (expected / first).read_text(errors="replace").splitlines(),
            (site.out / first).read_text(errors="replace").splitlines(),
            f"golden/{first}", f"built/{first}", lineterm="", n=2,
        )
        pytest.fail(f"{len(differing)} file(s) differ, first {first}:\n" + "\n".join(
            list(diff)[:60]
        ))  # fmt: skip


def test_the_sample_site_matches_its_golden_tree(sample_site: BuiltSite) -> None:
    check_golden(sample_site, GOLDEN / "sample")


def test_the_content_site_matches_its_golden_tree(tmp_path: Path) -> None:
    content = ROOT / "content"
    if not (content / "policy.note").is_file():
        pytest.skip("no sample repository in content/ yet")
    try:
        site = build_site(content, tmp_path, key_file=ROOT / "tests" / "keys" / "log.key")
    except HistoryError as error:  # e.g. a shallow clone
        pytest.skip(f"the history of content/ cannot be replayed here: {error}")
    check_golden(site, GOLDEN / "content")
