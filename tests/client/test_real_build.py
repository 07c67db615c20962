"""The real ``smki build`` of the sample repository (``content/``), verified file by file and
audited over HTTP on 127.0.0.1, and its per-version proof files verified offline."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.build import build
from generator.client.audit import audit
from generator.client.outcome import Status
from generator.client.source import Source
from generator.client.verify import verify_file, verify_offline
from generator.keys import read_verifier
from generator.tlog.errors import VerificationError
from tests.client.sites import SiteServer
from tests.conftest import ROOT

CONTENT = ROOT / "content"
VERIFIER = read_verifier(str(ROOT / "tests" / "keys" / "log.vkey"))
ITEMS = sorted(p for p in (CONTENT / "items").rglob("*") if p.is_file())


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SiteServer]:
    tmp = tmp_path_factory.mktemp("sample")
    build(CONTENT, tmp / "site", key_file=ROOT / "tests/keys/log.key", state_dir=tmp / "record")
    with SiteServer(tmp / "site") as server:
        yield server


def test_every_item_in_the_sample_is_current(sample: SiteServer) -> None:
    assert ITEMS
    for file in ITEMS:
        sample.requests.clear()
        result = verify_file(file.read_bytes(), Source(sample.log), VERIFIER)
        item = file.relative_to(CONTENT).as_posix()
        assert [(v.item, v.status) for v in result.versions] == [(item, Status.CURRENT)]
        # the build's evidence proves it: no tile is read, at most six requests
        assert not [r for r in sample.requests if r.startswith("/log/tile/")], item
        assert len(sample.requests) <= 6, (item, sample.requests)


def test_the_sample_audits_clean(sample: SiteServer, tmp_path: Path) -> None:
    report = audit(Source(sample.log), VERIFIER, tmp_path / "state")
    assert report.ok and report.saved, report.incidents
    assert any("VIOLATION" in n for n in report.notices)  # the sample's ratified incident


def test_each_item_has_one_offline_proof_for_its_bytes(sample: SiteServer) -> None:
    site = sample.root
    for file in ITEMS:
        proofs = sorted((site / file.relative_to(CONTENT)).glob("v*/proof.tlog-proof"))
        outcomes = []
        for proof in proofs:
            try:
                outcomes.append(verify_offline(file.read_bytes(), proof.read_bytes(), VERIFIER))
            except VerificationError as error:
                assert "not the logged one" in str(error)
        assert [r.status for r in outcomes] == [Status.LOGGED], file
