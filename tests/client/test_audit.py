"""``audit``: the monitor, against real sites served on 127.0.0.1 — from scratch, incrementally,
and against every way a publisher could misbehave. State is kept only after success."""

from __future__ import annotations

from pathlib import Path

import pytest

from generator.client.audit import AuditReport, audit
from generator.client.source import Source
from generator.client.state import MonitorState
from generator.errors import UsageError
from generator.repository.authorisation import Change
from generator.tlog.checkpoint import open_checkpoint, sign_checkpoint
from generator.tlog.proof import parse_proof, verify_proof
from tests.client.sites import (
    A2,
    B1,
    D1,
    OTHER_SIGNER,
    SIGNER,
    A,
    Site,
    SiteServer,
    copy_site,
    endless,
    lodge_d,
    make_site,
    publish,
    publisher_amend,
    republish,
    story,
)
from tests.repository.gitrepo import ContentRepo, sha

VERIFIER = SIGNER.verifier()
A4 = b"# A, amended twice\n"


def amend_a_again(repo: ContentRepo) -> None:
    repo.approval("PMA-4", [Change("amend", A, sha(A2), sha(A4))])
    repo.write(A, A4)
    repo.commit("amend A under PMA-4")


@pytest.fixture(scope="module")
def evolving(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Site]:
    """The story site as first published (a copy), and the same site four entries later."""
    tmp = tmp_path_factory.mktemp("evolving")
    site = make_site(tmp, story)
    first = copy_site(site.root, tmp / "first")
    lodge_d(site.repo)
    amend_a_again(site.repo)
    return first, publish(site.repo, site.root)


def run(prefix: str, state: Path, **options: str) -> AuditReport:
    source = Source(prefix, timeout=2.0, retries=0)
    return audit(source, VERIFIER, state, workers=2, **options)  # type: ignore[arg-type]


def only_incident(report: AuditReport, kind: str, message: str) -> Path | None:
    assert not report.ok and not report.saved
    assert [(i.kind, message in i.message) for i in report.incidents] == [(kind, True)], (
        report.incidents
    )
    return report.incidents[0].evidence


def served_with(site: Path, state: Path) -> AuditReport:
    with SiteServer(site) as server:
        return run(server.log, state)


# -- genuine ----------------------------------------------------------------------------------


def test_from_scratch_then_nothing_new(server: SiteServer, tmp_path: Path) -> None:
    report = run(server.log, tmp_path / "state")
    assert report.ok and report.saved, report.incidents
    assert (report.previous_size, report.size, report.exit_code) == (0, 12, 0)
    assert dict(report.counts) == {"policy": 1, "note": 4, "lodge": 3, "amend": 1,
                                   "withdraw": 1, "violation": 1, "ratify": 1}
    assert [n.split(":")[0] for n in report.notices] == ["entry 0", "entry 9", "entry 11"]
    assert "VIOLATION" in report.notices[1]
    assert report.objects_checked == 5  # A1 A2 B1 B2 C1
    assert report.listed[-1][0] == 11
    again = run(server.log, tmp_path / "state")
    assert again.ok and (again.previous_size, again.size) == (12, 12)
    assert (again.objects_checked, again.shards_checked, again.listed) == (0, 0, ())


def test_incremental_audit_reads_only_what_is_new(
    evolving: tuple[Path, Site], tmp_path: Path
) -> None:
    first, site = evolving
    with SiteServer(first) as server:
        assert run(server.log, tmp_path / "state").ok
        server.root = site.root
        server.requests.clear()
        report = run(server.log, tmp_path / "state")
    assert report.ok, report.incidents
    assert (report.previous_size, report.size) == (12, 16)
    assert dict(report.counts) == {"note": 2, "lodge": 1, "amend": 1}
    objects = sorted(p for p in server.requests if p.startswith("/objects/"))
    assert objects == sorted(f"/objects/{sha(x)}" for x in (D1, A4))
    shards = {p for p in server.requests if p.startswith("/index/")}
    assert len(shards) == report.shards_checked == 6  # 2 sha256, 4 item (D, A, 2 notes)


# -- the log itself ---------------------------------------------------------------------------


def test_rollback_is_refused_with_evidence(evolving: tuple[Path, Site], tmp_path: Path) -> None:
    first, site = evolving
    state = tmp_path / "state"
    assert served_with(site.root, state).ok
    evidence = only_incident(served_with(first, state), "rollback", "smaller than the trusted")
    assert evidence is not None
    assert (evidence / "trusted.checkpoint").read_bytes() == (
        site.root / "log/checkpoint").read_bytes()
    assert (evidence / "served.checkpoint").read_bytes() == (first / "log/checkpoint").read_bytes()
    later = served_with(site.root, state)
    assert later.ok and later.previous_size == 16, "a failed audit changed the state"


def test_fork_of_the_same_size(genuine: Site, tmp_path: Path) -> None:
    def later_story(repo: ContentRepo) -> None:
        repo.clock += 3600  # the same changes an hour later: other commits, other entries
        story(repo)

    fork = make_site(tmp_path, later_story, name="fork")
    assert len(fork.entries) == 12 and fork.entries != genuine.entries
    state = tmp_path / "state"
    assert served_with(genuine.root, state).ok
    evidence = only_incident(served_with(fork.root, state), "fork", "but trusted")
    assert evidence is not None and {p.name for p in evidence.iterdir()} == {
        "trusted.checkpoint", "served.checkpoint", "incident.txt"}


def test_rewritten_history(genuine: Site, tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "content")
    story(repo)
    repo.git("reset", "-q", "--hard", "HEAD~2")  # forget the incident and its ratification
    lodge_d(repo)
    amend_a_again(repo)
    rewritten = publish(repo, tmp_path / "rewritten")
    assert len(rewritten.entries) == 13
    state = tmp_path / "state"
    assert served_with(genuine.root, state).ok
    only_incident(served_with(rewritten.root, state), "fork", "does not extend the trusted")


def test_checkpoint_signed_by_another_key(genuine: Site, tmp_path: Path) -> None:
    site = copy_site(genuine.root, tmp_path / "site")
    tree = open_checkpoint((site / "log/checkpoint").read_bytes(), VERIFIER).checkpoint
    (site / "log/checkpoint").write_bytes(sign_checkpoint(tree, OTHER_SIGNER))
    evidence = only_incident(served_with(site, tmp_path / "state"), "checkpoint", "")
    assert evidence is not None and (evidence / "served.checkpoint").exists()


def test_tampered_tile(large: Site, tmp_path: Path) -> None:
    site = copy_site(large.root, tmp_path / "site")
    (site / "log/tile/0/000").write_bytes(bytes(8192))
    only_incident(served_with(site, tmp_path / "state"), "log", "tile/0/000 differs")


def test_tampered_bundle(genuine: Site, tmp_path: Path) -> None:
    site = copy_site(genuine.root, tmp_path / "site")
    bundle = site / "log/tile/entries/000.p/12"
    bundle.write_bytes(bundle.read_bytes().replace(b"PMA-1", b"PMA-X", 1))
    only_incident(served_with(site, tmp_path / "state"), "log", "tile/0/000.p/12 differs")


# -- governance -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "message"),
    [
        ("forged", "invalid signature by smki-pma.example/chair"),
        ("unsigned", "has 1 valid PMA signature(s), needs 2"),
        ("other-item", "does not name"),
    ],
)
def test_publisher_inserted_approval(genuine: Site, tmp_path: Path, how: str, message: str) -> None:
    site = publisher_amend(genuine, tmp_path / "site", how)
    report = served_with(site, tmp_path / "state")
    evidence = only_incident(report, "governance", message)
    index = 12 if how == "forged" else 13  # a forged signature is refused with the note
    assert report.incidents[0].index == index
    assert evidence is not None
    proof = (evidence / f"entry-{index}.tlog-proof").read_bytes()
    entry = parse_proof(proof).extra
    assert entry is not None and verify_proof(proof, VERIFIER, entry=entry)[0] == index


def test_unratified_violation(genuine: Site, tmp_path: Path) -> None:
    site = republish(genuine.root, tmp_path / "site", genuine.entries[:10])
    only_incident(served_with(site, tmp_path / "state"), "unratified", "entry 9: VIOLATION")


def test_policy_pin(server: SiteServer, tmp_path: Path) -> None:
    report = run(server.log, tmp_path / "state", policy="0" * 64)
    only_incident(report, "policy", "is not in the log's policy chain")


# -- objects and index ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [("missing", "is missing"), ("modified", "holds other bytes"),
     ("swapped", "holds other bytes"), ("endless", "larger than")],
)
def test_objects(genuine: Site, tmp_path: Path, change: str, message: str) -> None:
    site = copy_site(genuine.root, tmp_path / "site")
    target = site / "objects" / sha(A2)
    if change == "missing":
        target.unlink()
    elif change == "modified":
        target.write_bytes(A2.replace(b"A", b"a", 1))
    elif change == "swapped":
        target.write_bytes(B1)  # another logged item's bytes
    with SiteServer(site) as server:
        if change == "endless":
            server.special[f"/objects/{sha(A2)}"] = endless
        report = run(server.log, tmp_path / "state")
    only_incident(report, "object", message)
    assert f"{A}, entry 6" in report.incidents[0].message


def test_index_without_a_new_entry(genuine: Site, tmp_path: Path) -> None:
    site = copy_site(genuine.root, tmp_path / "site")
    shard = site / f"index/sha256/{sha(A2)[:3]}"
    shard.write_bytes(shard.read_bytes().replace(f"{sha(A2)} 6\n".encode(), b""))
    only_incident(served_with(site, tmp_path / "state"), "index", "lists new entries none")


def test_index_line_changed_after_it_was_audited(
    evolving: tuple[Path, Site], tmp_path: Path
) -> None:
    first, site = evolving
    state = tmp_path / "state"
    assert served_with(first, state).ok
    changed = copy_site(site.root, tmp_path / "changed")
    from generator.client.lookup import path_key

    key = path_key(A)
    shard = changed / f"index/item/{key[:3]}"
    shard.write_bytes(shard.read_bytes().replace(f"{key} 4 6 ".encode(), f"{key} 6 ".encode()))
    only_incident(served_with(changed, state), "index", "changed since the last audit")


# -- the state --------------------------------------------------------------------------------


def test_one_audit_at_a_time(tmp_path: Path) -> None:
    with MonitorState(tmp_path), pytest.raises(UsageError, match="another audit"):
        MonitorState(tmp_path)


def test_state_of_another_log(server: SiteServer, tmp_path: Path) -> None:
    assert run(server.log, tmp_path / "state").ok
    source = Source(server.log, timeout=2.0, retries=0)
    with pytest.raises(UsageError, match="another log"):
        audit(source, OTHER_SIGNER.verifier(), tmp_path / "state")
