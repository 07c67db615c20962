"""The log checker: Tessera's log at every size, tampered copies, rollbacks and forks,
and the incremental mode.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from generator.tlog.checker import CheckReport, check_log
from generator.tlog.errors import (
    ForkDetected,
    InvalidSignature,
    MalformedError,
    NotFound,
    RollbackDetected,
    TileMismatch,
)
from generator.tlog.merkle import leaf_hashes, root_hash
from generator.tlog.note import generate_signer, parse_verifier, sign_note
from generator.tlog.store import DirStore
from generator.tlog.tiles import bundles_for_size, tiles_for_size
from generator.tlog.writer import append_entries
from tests.tlog.test_writer import (
    SIGNER,
    TESSERA,
    TESSERA_ENTRIES,
    TESSERA_VKEY,
    entries_for,
    tessera_copy,
)

VERIFIER = parse_verifier(TESSERA_VKEY)


def flip(file: Path, at: int = -1) -> None:
    data = bytearray(file.read_bytes())
    data[at] ^= 0x01
    file.write_bytes(bytes(data))


@pytest.mark.parametrize("size", range(16))
def test_accepts_every_tessera_checkpoint(tmp_path: Path, size: int) -> None:
    report = check_log(DirStore(tessera_copy(tmp_path / "log", size)), VERIFIER)
    assert report == CheckReport(
        "example.com/log/testdata", size, root_hash(leaf_hashes(TESSERA_ENTRIES[:size])),
        size, 2 if size else 0,
    )


@pytest.mark.parametrize(
    "damage,error",
    [
        (lambda log: flip(log / "tile/0/000.p/15"), TileMismatch),
        (lambda log: flip(log / "tile/entries/000.p/15"), TileMismatch),
        (lambda log: flip(log / "tile/entries/000.p/15", 0), MalformedError),
        (lambda log: flip(log / "checkpoint", -5), InvalidSignature),
        (lambda log: flip(log / "checkpoint", 30), InvalidSignature),
        (lambda log: (log / "tile/entries/000.p/15").write_bytes(
            (TESSERA / "tile/entries/000.p/15").read_bytes()[:-3]), MalformedError),
        (lambda log: (log / "tile/0/000.p/15").unlink(), NotFound),
        (lambda log: (log / "tile/entries/000.p/15").unlink(), NotFound),
        (lambda log: (log / "tile/0/000.p/15").write_bytes(b"\0" * 31), TileMismatch),
        (lambda log: (log / "checkpoint").write_bytes(b"not a note"), MalformedError),
        (lambda log: (log / "checkpoint").unlink(), NotFound),
    ],
    ids=["tile byte", "bundle byte", "bundle length", "signature", "root",
         "truncated bundle", "missing tile", "missing bundle", "short tile",
         "garbage checkpoint", "no checkpoint"],
)
def test_rejects_tampered_copies(tmp_path: Path, damage: object, error: type[Exception]) -> None:
    log = tessera_copy(tmp_path / "log")
    damage(log)  # type: ignore[operator]
    with pytest.raises(error):
        check_log(DirStore(log), VERIFIER)


def test_ignores_signatures_from_unknown_keys(tmp_path: Path) -> None:
    log = tessera_copy(tmp_path / "log")
    stranger = generate_signer("witness.example/w1")
    text = (log / "checkpoint").read_text().split("\n\n")[0] + "\n"
    (log / "checkpoint").write_bytes(
        (log / "checkpoint").read_bytes() + sign_note(text, [stranger]).split(b"\n\n")[1]
    )
    assert check_log(DirStore(log), VERIFIER).size == 15


def test_wrong_key_or_origin(tmp_path: Path) -> None:
    log = DirStore(tessera_copy(tmp_path / "log"))
    with pytest.raises(InvalidSignature):
        check_log(log, generate_signer("example.com/log/testdata").verifier())
    with pytest.raises(MalformedError, match="origin"):
        check_log(log, VERIFIER, origin="example.com/other")


# -- rollback and fork -----------------------------------------------------------------------


def test_since_accepts_growth_and_refuses_rollback(tmp_path: Path) -> None:
    log = tessera_copy(tmp_path / "log", 9)
    for old in range(10):
        since = (TESSERA / f"checkpoint.{old}").read_bytes()
        assert check_log(DirStore(log), VERIFIER, since=since).size == 9
        assert check_log(DirStore(log), VERIFIER, since=since, full=False).size == 9
    since = (TESSERA / "checkpoint.12").read_bytes()
    with pytest.raises(RollbackDetected, match=r"size 9 .* smaller than the trusted size 12"):
        check_log(DirStore(log), VERIFIER, since=since)


def forked_logs(tmp_path: Path) -> tuple[Path, bytes, bytes]:
    """Two logs under one key sharing 600 entries then diverging; their checkpoints at 700."""
    a, b = tmp_path / "a", tmp_path / "b"
    append_entries(DirStore(a), entries_for(600), SIGNER)
    append_entries(DirStore(b), entries_for(600), SIGNER)
    at_a = append_entries(DirStore(a), entries_for(100, 600), SIGNER)
    at_b = append_entries(DirStore(b), entries_for(100, 9000), SIGNER)
    return a, at_a, at_b


def test_fork_at_the_same_size(tmp_path: Path) -> None:
    a, _, at_b = forked_logs(tmp_path)
    with pytest.raises(ForkDetected, match=r"the log shows size 700 .*but trusted size 700"):
        check_log(DirStore(a), SIGNER.verifier(), since=at_b)


@pytest.mark.parametrize("full", [True, False])
def test_fork_below_the_current_size(tmp_path: Path, full: bool) -> None:
    a, _, at_b = forked_logs(tmp_path)
    append_entries(DirStore(a), entries_for(50, 700), SIGNER)
    with pytest.raises(ForkDetected, match="size 700") as caught:
        check_log(DirStore(a), SIGNER.verifier(), since=at_b, full=full)
    shared = base64.b64encode(root_hash(leaf_hashes(entries_for(700)))).decode()
    assert shared not in str(caught.value)  # the log's own tree at 700 is not the trusted one
    assert "750" in str(caught.value)


def test_incremental_checks_only_what_is_new(tmp_path: Path) -> None:
    log = tmp_path / "log"
    append_entries(DirStore(log), entries_for(65536 + 40), SIGNER)
    since = (log / "checkpoint").read_bytes()
    append_entries(DirStore(log), entries_for(600, 65576), SIGNER)
    flip(log / "tile/entries/001")  # old damage: only a full check sees it
    report = check_log(DirStore(log), SIGNER.verifier(), since=since, full=False)
    assert report.size == 66176 and report.entries_checked == 66176 - 65536
    with pytest.raises(TileMismatch, match="tile/0/001 differs"):
        check_log(DirStore(log), SIGNER.verifier(), since=since)
    flip(log / "tile/entries/257")  # new damage: both see it
    with pytest.raises(TileMismatch, match="tile/0/257 differs"):
        check_log(DirStore(log), SIGNER.verifier(), since=since, full=False)
    with pytest.raises(ValueError, match="needs a trusted checkpoint"):
        check_log(DirStore(log), SIGNER.verifier(), full=False)


def test_levels_above_zero_are_checked(tmp_path: Path) -> None:
    log = tmp_path / "log"
    append_entries(DirStore(log), entries_for(65536 + 300), SIGNER)
    report = check_log(DirStore(log), SIGNER.verifier())
    assert report.tiles_checked == len(tiles_for_size(65836)) + len(bundles_for_size(65836)) == 519
    flip(log / "tile/1/000")
    with pytest.raises(TileMismatch, match="tile/1/000 differs"):
        check_log(DirStore(log), SIGNER.verifier())
