"""``verify_file`` and ``verify_offline`` against real sites served on 127.0.0.1, genuine and
tampered: each attack is refused with a message naming what failed."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from generator.client.outcome import (
    EXIT_ERROR,
    EXIT_FAILED,
    EXIT_NOT_CURRENT,
    EXIT_NOT_IN_LOG,
    EXIT_OK,
    Status,
    Verification,
    exit_code_for,
)
from generator.client.source import Source
from generator.client.verify import verify_file, verify_offline
from generator.errors import GovernanceError, UnauthorisedChange
from generator.repository.entries import encode_entry
from generator.tlog.errors import (
    InvalidProof,
    InvalidSignature,
    MalformedError,
    NotFound,
    TileMismatch,
    TransportError,
    VerificationError,
)
from generator.tlog.proof import make_proof
from generator.tlog.reader import LogReader
from generator.tlog.store import DirStore
from tests.client.conftest import DEVICES
from tests.client.sites import (
    A1,
    A2,
    A3,
    B1,
    B2,
    C1,
    OTHER_SIGNER,
    SIGNER,
    A,
    B,
    Site,
    SiteServer,
    copy_site,
    endless,
    not_found,
    oversized,
    publisher_amend,
)
from tests.repository.gitrepo import sha

VERIFIER = SIGNER.verifier()


def check(data: bytes, prefix: str, **options: str) -> Verification:
    return verify_file(data, Source(prefix, timeout=2.0, retries=0), VERIFIER, **options)


def tamper(file: Path, old: bytes, new: bytes) -> None:
    data = file.read_bytes()
    assert old in data
    file.write_bytes(data.replace(old, new, 1))


# -- a genuine site ---------------------------------------------------------------------------


def test_current_version_over_http(genuine: Site, server: SiteServer) -> None:
    result = check(A2, server.log)
    assert (result.status, result.exit_code) == (Status.CURRENT, EXIT_OK)
    assert result.checkpoint.size == 12 and result.sha256 == sha(A2)
    (version,) = result.versions
    assert (version.item, version.index, version.type, version.authorisation) == (A, 6, "amend", 5)
    authority = version.authority
    assert authority is not None
    assert (authority.kind, authority.id, authority.index) == ("approval", "PMA-1", 5)
    assert authority.signers == ("smki-pma.example/chair", "smki-pma.example/member-b")
    assert authority.decision == "approved"
    policy = (genuine.repo.path / "policy.note").read_bytes()
    assert version.policy is not None
    assert version.policy.genesis_sha256 == hashlib.sha256(policy).hexdigest()
    assert version.history == (4, 6)
    assert len(server.requests) == len(set(server.requests)), "a file was fetched twice"


def test_lodged_version_names_its_lodgement(server: SiteServer) -> None:
    (version,) = check(C1 + b"", server.log).versions
    assert version.authority is not None and version.authority.kind == "lodgement"
    assert version.authority.signers == ("dcc.example/registration-authority",)


@pytest.mark.parametrize(
    ("data", "status", "changed_by"),
    [(A1, Status.SUPERSEDED, 6), (C1, Status.WITHDRAWN, 8), (B1, Status.SUPERSEDED, 9)],
    ids=["amended", "withdrawn", "changed-by-a-violation"],
)
def test_older_versions_are_not_current(
    server: SiteServer, data: bytes, status: Status, changed_by: int
) -> None:
    result = check(data, server.log)
    assert (result.status, result.exit_code) == (status, EXIT_NOT_CURRENT)
    assert result.versions[0].changed_by == changed_by


def test_a_ratified_violation_is_current_and_names_the_ratification(server: SiteServer) -> None:
    (version,) = check(B2, server.log).versions
    assert (version.status, version.type, version.index) == (Status.CURRENT, "violation", 9)
    assert version.authority is not None
    assert (version.authority.kind, version.authority.id) == ("ratification", "PMA-3")
    assert version.authority.ratify_index == 11


def test_from_a_folder(genuine: Site) -> None:
    assert check(A2, genuine.log).status is Status.CURRENT


def test_modified_byte_is_not_in_the_log(server: SiteServer) -> None:
    result = check(A2.replace(b"A", b"a", 1), server.log)
    assert (result.status, result.exit_code, result.versions) == (
        Status.NOT_IN_LOG, EXIT_NOT_IN_LOG, ())


def test_another_logged_item_is_not_the_one_asked_for(server: SiteServer) -> None:
    with pytest.raises(VerificationError, match=f"logged as {A}, not as {B}"):
        check(A2, server.log, item=B)
    assert check(A2, server.log, item=A).status is Status.CURRENT


def test_policy_pin(genuine: Site, server: SiteServer) -> None:
    pin = hashlib.sha256((genuine.repo.path / "policy.note").read_bytes()).hexdigest()
    assert check(A2, server.log, policy=pin).status is Status.CURRENT
    with pytest.raises(VerificationError, match="does not include the pinned policy"):
        check(A2, server.log, policy="0" * 64)


# -- offline ----------------------------------------------------------------------------------


def proof_of(site: Site, index: int, *, extra: bool = True) -> bytes:
    reader = LogReader(DirStore(site.root / "log"), VERIFIER)
    entry = encode_entry(site.entries[index])
    return make_proof(reader, index, extra=entry if extra else None)


def test_offline_proof(genuine: Site) -> None:
    result = verify_offline(A2, proof_of(genuine, 6), VERIFIER)
    assert (result.status, result.exit_code, result.offline) == (Status.LOGGED, EXIT_OK, True)
    assert (result.versions[0].item, result.versions[0].index) == (A, 6)


@pytest.mark.parametrize(
    ("case", "error", "message"),
    [
        ("other file", VerificationError, "not the logged one"),
        ("other key", InvalidSignature, None),
        ("no entry", MalformedError, "no log entry"),
        ("bad hash", InvalidProof, "does not lead to root"),
    ],
)
def test_offline_proof_failures(
    genuine: Site, case: str, error: type[Exception], message: str | None
) -> None:
    proof, data, verifier = proof_of(genuine, 6, extra=case != "no entry"), A2, VERIFIER
    if case == "other file":
        data = A1
    elif case == "other key":
        verifier = OTHER_SIGNER.verifier()
    elif case == "bad hash":
        lines = proof.split(b"\n")
        lines[3] = b"A" * 43 + b"="
        proof = b"\n".join(lines)
    with pytest.raises(error, match=message):
        verify_offline(data, proof, verifier)


# -- a site that lies -------------------------------------------------------------------------


def test_tampered_bundle(genuine: Site, tmp_path: Path) -> None:
    site = copy_site(genuine.root, tmp_path / "site")
    tamper(site / "log/tile/entries/000.p/12", b"PMA-1", b"PMA-X")
    with SiteServer(site) as server, pytest.raises(TileMismatch, match="tile/entries/000"):
        check(A2, server.log)


@pytest.mark.parametrize("tile", ["tile/0/001.p/46", "tile/1/000.p/1"])
def test_tampered_tile(large: Site, tmp_path: Path, tile: str) -> None:
    site = copy_site(large.root, tmp_path / "site")
    data = bytearray((site / "log" / tile).read_bytes())
    data[5] ^= 1
    (site / "log" / tile).write_bytes(bytes(data))
    device = (large.repo.path / DEVICES[7]).read_bytes()
    with SiteServer(site) as server, pytest.raises(TileMismatch, match="checkpoint root"):
        check(device, server.log)


def test_full_level_0_tile_is_computed_from_its_bundle(large: Site, tmp_path: Path) -> None:
    """Verify needs no tile it can compute from an entry bundle it read: a tampered copy of
    one is never used (the audit reports it: see test_audit)."""
    site = copy_site(large.root, tmp_path / "site")
    (site / "log/tile/0/000").write_bytes(bytes(8192))
    device = (large.repo.path / DEVICES[7]).read_bytes()
    with SiteServer(site) as server:
        assert check(device, server.log).status is Status.CURRENT
        assert "/log/tile/0/000" not in server.requests


def test_checkpoint_signed_by_another_key(genuine: Site, tmp_path: Path) -> None:
    site = copy_site(genuine.root, tmp_path / "site")
    from generator.tlog.checkpoint import open_checkpoint, sign_checkpoint

    tree = open_checkpoint((site / "log/checkpoint").read_bytes(), VERIFIER).checkpoint
    (site / "log/checkpoint").write_bytes(sign_checkpoint(tree, OTHER_SIGNER))
    with SiteServer(site) as server, pytest.raises(InvalidSignature):
        check(A2, server.log)


@pytest.mark.parametrize(
    ("how", "error", "message"),
    [
        ("forged", InvalidSignature, "invalid signature by smki-pma.example/chair"),
        ("unsigned", UnauthorisedChange, "has 1 valid PMA signature"),
        ("other-item", UnauthorisedChange, f"does not name {{action = \"amend\", item = \"{A}\""),
    ],
)
def test_publisher_inserted_approval(
    genuine: Site, tmp_path: Path, how: str, error: type[Exception], message: str
) -> None:
    site = publisher_amend(genuine, tmp_path / "site", how)
    with SiteServer(site) as server, pytest.raises(error, match=message) as caught:
        check(A3, server.log)
    assert exit_code_for(caught.value) == EXIT_FAILED


def test_index_pointing_at_another_entry(genuine: Site, tmp_path: Path) -> None:
    site = copy_site(genuine.root, tmp_path / "site")
    h = sha(A2)
    tamper(site / f"index/sha256/{h[:3]}", f"{h} 6\n".encode(), f"{h} 4\n".encode())
    with SiteServer(site) as server, pytest.raises(VerificationError, match="lists entry 4"):
        check(A2, server.log)


def test_index_beyond_the_log_is_malformed(genuine: Site, tmp_path: Path) -> None:
    site = copy_site(genuine.root, tmp_path / "site")
    h = sha(A2)
    tamper(site / f"index/sha256/{h[:3]}", f"{h} 6\n".encode(), f"{h} 6 12\n".encode())
    with SiteServer(site) as server, pytest.raises(MalformedError, match="beyond the log"):
        check(A2, server.log)


@pytest.mark.parametrize(
    ("path", "behaviour", "message"),
    [
        ("/log/checkpoint", endless, "larger than"),
        ("/log/tile/entries/000.p/12", oversized, "more than the"),
        ("/log/tile/entries/000.p/12", not_found, "HTTP 404"),
    ],
    ids=["endless", "oversized", "missing"],
)
def test_hostile_server(
    genuine: Site, server: SiteServer, path: str, behaviour: object, message: str
) -> None:
    server.special[path] = behaviour  # type: ignore[assignment]
    with pytest.raises(TransportError, match=message) as caught:
        check(A2, server.log)
    assert exit_code_for(caught.value) == EXIT_ERROR


def test_missing_lookup_index_means_not_in_log(genuine: Site, tmp_path: Path) -> None:
    site = copy_site(genuine.root, tmp_path / "site")
    h = sha(A2)
    (site / f"index/sha256/{h[:3]}").unlink()
    with SiteServer(site) as server:
        assert check(A2, server.log).status is Status.NOT_IN_LOG


def test_exit_codes_in_one_place() -> None:
    assert exit_code_for(NotFound("x")) == EXIT_ERROR
    assert exit_code_for(GovernanceError("x")) == EXIT_FAILED
    assert exit_code_for(MalformedError("x")) == EXIT_FAILED
    assert [EXIT_OK, EXIT_ERROR, EXIT_NOT_IN_LOG, EXIT_NOT_CURRENT, EXIT_FAILED] == [0, 1, 3, 4, 5]
