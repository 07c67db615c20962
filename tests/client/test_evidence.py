"""Tile evidence: one request proves a file, a build writes the same bytes however it got
there, and evidence a publisher tampered with is refused, never trusted."""

from __future__ import annotations

import base64
import dataclasses
import filecmp
import hashlib
import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from generator.client.evidence import (
    MAX_EVIDENCE_SIZE,
    Related,
    TileEvidence,
    format_consistency,
    format_evidence,
    parse_consistency,
    parse_evidence,
)
from generator.client.outcome import Status
from generator.client.source import Source
from generator.client.verify import verify_file
from generator.tlog.checkpoint import open_checkpoint, sign_checkpoint
from generator.tlog.errors import InvalidProof, InvalidSignature, MalformedError, VerificationError
from tests.client.conftest import DEVICES, many_devices
from tests.client.sites import (
    A1,
    A2,
    B1,
    B2,
    C1,
    OTHER_SIGNER,
    SIGNER,
    Site,
    SiteServer,
    copy_site,
    lodge_d,
    make_site,
    publish,
    story,
)
from tests.repository.gitrepo import ContentRepo

VERIFIER = SIGNER.verifier()


def check(data: bytes, prefix: str) -> object:
    return verify_file(data, Source(prefix, timeout=2.0, retries=0), VERIFIER)


@pytest.fixture(scope="module")
def storied(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, Site]:
    """The story site published twice: with evidence, and without (tiles only)."""
    tmp = tmp_path_factory.mktemp("storied")
    repo = ContentRepo(tmp / "content")
    story(repo)
    return publish(repo, tmp / "with", evidence=True), publish(repo, tmp / "without")


@pytest.fixture(scope="module")
def grown(tmp_path_factory: pytest.TempPathFactory) -> tuple[Site, Path, int]:
    """302 entries in one commit (a full bundle and a partial one), published; then one
    more commit published over it. Returns the site, a from-scratch publication of the
    same history, and the evidence files the second publication rewrote."""
    tmp = tmp_path_factory.mktemp("grown")
    repo = ContentRepo(tmp / "content")
    many_devices(repo)
    publish(repo, tmp / "site", evidence=True)
    before = {p: p.stat().st_mtime_ns for p in (tmp / "site/evidence").rglob("*")}
    lodge_d(repo)
    site = publish(repo, tmp / "site", evidence=True)
    rewritten = sum(1 for p, t in before.items() if p.stat().st_mtime_ns != t)
    scratch = publish(repo, tmp / "scratch", evidence=True)
    return site, scratch.root, rewritten


@pytest.fixture
def served(grown: tuple[Site, Path, int]) -> Iterator[SiteServer]:
    with SiteServer(grown[0].root) as server:
        yield server


# -- the honest site --------------------------------------------------------------------------


@pytest.mark.parametrize("data", [A2, A1, B1, B2, C1],
                         ids=["current", "amended", "violated", "ratified", "withdrawn"])
def test_evidence_proves_what_the_tiles_prove(storied: tuple[Site, Site], data: bytes) -> None:
    with_evidence, tiles_only = storied
    with SiteServer(with_evidence.root) as server:
        proven = check(data, server.log)
        assert not [r for r in server.requests if r.startswith("/log/tile/")]
    assert proven == check(data, tiles_only.log)


def test_one_file_costs_at_most_six_requests(grown: tuple[Site, Path, int],
                                             served: SiteServer) -> None:
    device = (grown[0].repo.path / DEVICES[7]).read_bytes()
    result = check(device, served.log)
    assert result.status is Status.CURRENT  # type: ignore[attr-defined]
    # checkpoint, sha256 shard, evidence, consistency 302 → 304, item shard
    assert served.requests == [
        "/log/checkpoint",
        f"/index/sha256/{result.sha256[:3]}",  # type: ignore[attr-defined]
        "/evidence/tile/000",
        "/evidence/consistency/302",
        f"/index/item/{served.requests[4].rsplit('/', 1)[1]}",
    ]


def test_a_build_writes_the_same_evidence_however_it_got_there(
    grown: tuple[Site, Path, int],
) -> None:
    site, scratch, rewritten = grown
    ours, theirs = site.root / "evidence", scratch / "evidence"
    files = sorted(p.relative_to(ours) for p in ours.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(theirs) for p in theirs.rglob("*") if p.is_file())
    assert [str(f) for f in files] == ["consistency/302", "size", "tile/000", "tile/001"]
    for file in files:
        assert filecmp.cmp(ours / file, theirs / file, shallow=False), file
    # the full bundle 0 kept its pin (302), and with it its bytes
    assert rewritten == 3  # tile/001, size and the new consistency/302
    evidence = parse_evidence((ours / "tile/000").read_bytes(), 0)
    assert open_checkpoint(evidence.checkpoint, VERIFIER).checkpoint.size == 302


def test_consistency_for_another_checkpoint_is_computed_from_tiles(
    grown: tuple[Site, Path, int], tmp_path: Path
) -> None:
    """A consistency file written by a newer publication is not an error: the client
    asks the tiles instead."""
    site = copy_site(grown[0].root, tmp_path / "site")
    file = site / "evidence/consistency/302"
    old, proof = parse_consistency(file.read_bytes(), 302)
    file.write_bytes(format_consistency(302, old + 1, proof))
    device = (grown[0].repo.path / DEVICES[7]).read_bytes()
    with SiteServer(site) as server:
        assert check(device, server.log).status is Status.CURRENT  # type: ignore[attr-defined]
        assert [r for r in server.requests if r.startswith("/log/tile/")]


# -- a site that lies -------------------------------------------------------------------------


def rewrite(file: Path, change: object) -> None:
    value = json.loads(file.read_bytes())
    change(value)  # type: ignore[operator]
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    file.write_bytes(text.encode())


def flip(text: str, at: int) -> str:
    data = bytearray(base64.b64decode(text))
    data[at] ^= 1
    return base64.b64encode(bytes(data)).decode()


def test_tampered_bundle_in_evidence(grown: tuple[Site, Path, int], tmp_path: Path) -> None:
    site = copy_site(grown[0].root, tmp_path / "site")
    rewrite(site / "evidence/tile/000", lambda v: v.update(bundle=flip(v["bundle"], 100)))
    device = (grown[0].repo.path / DEVICES[7]).read_bytes()
    with SiteServer(site) as server, pytest.raises(InvalidProof, match="evidence/tile/000"):
        check(device, server.log)


def test_tampered_related_entry(tmp_path: Path) -> None:
    grown_site = make_site(tmp_path, many_devices, lodge_d, name="two-tiles", evidence=True)
    file = grown_site.root / "evidence/tile/001"
    value = json.loads(file.read_bytes())
    assert value["related"], "bundle 1's versions need the genesis policy and lodgement"
    rewrite(file, lambda v: v["related"][0].update(entry=flip(v["related"][0]["entry"], 3)))
    device = (grown_site.repo.path / DEVICES[299]).read_bytes()
    with SiteServer(grown_site.root) as server, pytest.raises(InvalidProof):
        check(device, server.log)


def test_evidence_signed_by_another_key(grown: tuple[Site, Path, int], tmp_path: Path) -> None:
    site = copy_site(grown[0].root, tmp_path / "site")

    def resign(value: dict[str, object]) -> None:
        tree = open_checkpoint(str(value["checkpoint"]).encode(), VERIFIER).checkpoint
        value["checkpoint"] = sign_checkpoint(tree, OTHER_SIGNER).decode()

    rewrite(site / "evidence/tile/000", resign)
    device = (grown[0].repo.path / DEVICES[7]).read_bytes()
    with SiteServer(site) as server, pytest.raises(InvalidSignature, match="evidence/tile/000"):
        check(device, server.log)


def test_evidence_of_a_forked_log(grown: tuple[Site, Path, int], tmp_path: Path) -> None:
    """Evidence from another history signed with the log key, pinned at a size the
    genuine log passed: the consistency proof to the checkpoint fails."""
    fork = ContentRepo(tmp_path / "fork-content")
    fork.genesis({path: f"forked {path}\n" for path in DEVICES})
    forked = publish(fork, tmp_path / "fork", evidence=True)
    site = copy_site(grown[0].root, tmp_path / "site")
    shutil.copy(forked.root / "evidence/tile/000", site / "evidence/tile/000")
    device = (fork.path / DEVICES[7]).read_bytes()
    shutil.copy(forked.root / f"index/sha256/{hashlib.sha256(device).hexdigest()[:3]}",
                site / f"index/sha256/{hashlib.sha256(device).hexdigest()[:3]}")
    with SiteServer(site) as server, pytest.raises(InvalidProof, match="evidence/tile/000"):
        check(device, server.log)


def test_evidence_of_a_fork_of_the_same_size(tmp_path: Path) -> None:
    """Pinned at the checkpoint's own size, the evidence's root must be the checkpoint's:
    a forked log of the same size is refused, not believed."""
    genuine = make_site(tmp_path, many_devices, name="genuine", evidence=True)
    fork = ContentRepo(tmp_path / "fork-content")
    fork.genesis({path: f"forked {path}\n" for path in DEVICES})
    forked = publish(fork, tmp_path / "fork", evidence=True)
    site = copy_site(genuine.root, tmp_path / "site")
    shutil.copy(forked.root / "evidence/tile/000", site / "evidence/tile/000")
    device = (fork.path / DEVICES[7]).read_bytes()
    digest = hashlib.sha256(device).hexdigest()
    shutil.copy(forked.root / f"index/sha256/{digest[:3]}", site / f"index/sha256/{digest[:3]}")
    with SiteServer(site) as server, pytest.raises(InvalidProof, match="different roots"):
        check(device, server.log)


def test_tampered_consistency_proof(grown: tuple[Site, Path, int], tmp_path: Path) -> None:
    site = copy_site(grown[0].root, tmp_path / "site")
    file = site / "evidence/consistency/302"
    new, proof = parse_consistency(file.read_bytes(), 302)
    file.write_bytes(format_consistency(302, new, (bytes(32), *proof[1:])))
    device = (grown[0].repo.path / DEVICES[7]).read_bytes()
    with SiteServer(site) as server, pytest.raises(InvalidProof):
        check(device, server.log)


def test_evidence_that_hides_the_genesis_policy(tmp_path: Path) -> None:
    """A policy entry inside the bundle cannot be hidden; one outside it can be left out of
    ``related`` — then the chain does not start at genesis and nothing is proven."""
    grown_site = make_site(tmp_path, many_devices, lodge_d, name="two-tiles", evidence=True)
    file = grown_site.root / "evidence/tile/001"
    rewrite(file, lambda v: v.update(related=[r for r in v["related"] if r["index"] != 0]))
    d = (grown_site.repo.path / "items/documents/d.md").read_bytes()
    with SiteServer(grown_site.root) as server, pytest.raises(VerificationError,
                                                              match="genesis policy"):
        check(d, server.log)


def test_evidence_of_another_bundle(grown: tuple[Site, Path, int], tmp_path: Path) -> None:
    site = copy_site(grown[0].root, tmp_path / "site")
    shutil.copy(site / "evidence/tile/001", site / "evidence/tile/000")
    device = (grown[0].repo.path / DEVICES[7]).read_bytes()
    with SiteServer(site) as server, pytest.raises(MalformedError, match="another bundle"):
        check(device, server.log)


# -- the format -------------------------------------------------------------------------------

EVIDENCE = TileEvidence(
    3,
    b"smki.example/test-log\n900\n" + base64.b64encode(bytes(32)) + b"\n\n\xe2\x80\x94 sig\n",
    b"\x00\x02{}",
    (bytes(32), b"\x01" * 32),
    (Related(1, b"{}", (b"\x02" * 32,)), Related(700, b'{"a":1}', ())),
)


def test_format_round_trip() -> None:
    data = format_evidence(EVIDENCE)
    assert parse_evidence(data, 3) == EVIDENCE
    assert data.startswith(b'{"bundle":"AAJ7fQ==","checkpoint":"smki.example/test-log\\n900')


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda d: d.replace(b',"v":1}', b',"v":1,"x":0}'), "exactly"),
        (lambda d: d.replace(b',"v":1}', b',"v":2}'), "version"),
        (lambda d: d.replace(b',"v":1}', b',"v":true}'), "version"),
        (lambda d: d.replace(b'"tile":3', b'"tile":4'), "another bundle"),
        (lambda d: d.replace(b'"tile":3', b'"tile":3.0'), "another bundle"),
        (lambda d: d.replace(b'{"bundle"', b'{ "bundle"'), "canonical"),
        (lambda d: d.replace(b'"AAJ7fQ=="', b'"AAJ7fQ"'), "base64"),
        (lambda d: d.replace(b'"index":700', b'"index":1'), "ascending"),
        (lambda d: d.replace(b'"index":700', b'"index":-1'), "entry index"),
        (lambda d: d.replace(b'"path":["', b'"path":["AAAA","'), "32 bytes"),
        (lambda d: d.replace(b'"bundle":"AAJ7fQ==",', b'"bundle":"AAJ7fQ==","bundle":"",'),
         "not JSON"),
        (lambda d: d[:-1], "not JSON"),
        (lambda d: b"\xff" + d, "not JSON"),
        (lambda d: d.replace(b'"related":[', b'"related":[' + b"[" * 100000), "not JSON"),
    ],
)
def test_hostile_evidence_is_malformed(change: object, message: str) -> None:
    data = change(format_evidence(EVIDENCE))  # type: ignore[operator]
    with pytest.raises(MalformedError, match=message):
        parse_evidence(data, 3)


def test_oversized_evidence_is_refused_unread() -> None:
    with pytest.raises(MalformedError, match="larger than"):
        parse_evidence(b" " * (MAX_EVIDENCE_SIZE + 1), 3)


@pytest.mark.parametrize(
    "data",
    [b"", b"5\n", b"05\n9\n", b"5\n9", b"5\n09\n", b"4\n9\n", b"5\n9\nAAAA\n",
     b"5\n9\n" + base64.b64encode(bytes(32)) + b"=\n", b"5\n9\n\xff\n"],
)
def test_hostile_consistency_is_malformed(data: bytes) -> None:
    with pytest.raises(MalformedError):
        parse_consistency(data, 5)


def test_consistency_round_trip() -> None:
    proof = (bytes(32), b"\x07" * 32)
    assert parse_consistency(format_consistency(5, 9, proof), 5) == (9, proof)


def test_related_entries_come_from_the_evidence_already_read(tmp_path: Path) -> None:
    """D's authorisation and the genesis policy live in bundle 0: bundle 1's evidence
    carries them, so bundle 0's evidence is never fetched."""
    site = make_site(tmp_path, many_devices, lodge_d, name="two-tiles", evidence=True)
    d = (site.repo.path / "items/documents/d.md").read_bytes()
    with SiteServer(site.root) as server:
        assert check(d, server.log).status is Status.CURRENT  # type: ignore[attr-defined]
        assert [r for r in server.requests if r.startswith("/evidence/")] == [
            "/evidence/tile/001"]
        assert len(server.requests) == 4  # checkpoint, sha256 shard, evidence, item shard


def test_a_proof_longer_than_any_tree_needs_is_malformed() -> None:
    """63 hashes prove a leaf in a tree of 2^63 entries: a 64th is refused, as in a tlog-proof."""
    too_long = (bytes(32),) * 64
    for evidence in (dataclasses.replace(EVIDENCE, path=too_long),
                     dataclasses.replace(EVIDENCE, related=(Related(1, b"{}", too_long),))):
        with pytest.raises(MalformedError, match="at most 63"):
            parse_evidence(format_evidence(evidence), 3)
    parse_evidence(format_evidence(dataclasses.replace(EVIDENCE, path=too_long[:63])), 3)
