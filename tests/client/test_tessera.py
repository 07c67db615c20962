"""The relying-party tools against Tessera's test log (``../shared/vectors``), served over HTTP:
a log built by other software reads and checks at the tlog level, and is refused at the
governance level with a clear reason."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from generator.cli import main
from generator.client.audit import audit
from generator.client.source import Source
from generator.client.verify import verify_offline
from generator.tlog.errors import MalformedError
from generator.tlog.note import parse_verifier
from generator.tlog.proof import make_proof, parse_proof, verify_proof
from generator.tlog.reader import LogReader
from tests.client.sites import SiteServer

TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
VERIFIER = parse_verifier(TESSERA_VKEY)
ENTRIES = [b"one", b"two", b"three", b"four", b"five", b"six", b"seven", b"eit", b"nain",
           b"ten", b"ileven", b"twelf", b"threeten", b"fourten", b"fivten"]


@pytest.fixture
def tessera(vectors: Path, tmp_path: Path) -> Iterator[tuple[SiteServer, Path]]:
    """Tessera's log as the ``log/`` folder of a site, served on 127.0.0.1."""
    log = tmp_path / "site" / "log"
    shutil.copytree(vectors / "tessera-testdata-log", log)
    with SiteServer(tmp_path / "site") as server:
        yield server, log


def test_source_reads_the_log_over_http(tessera: tuple[SiteServer, Path]) -> None:
    server, _ = tessera
    reader = LogReader(Source(server.log).log, VERIFIER)
    assert reader.checkpoint().checkpoint.size == 15
    assert list(reader.entries(0, 15)) == ENTRIES


def test_tlog_check_over_http_since_every_older_checkpoint(
    tessera: tuple[SiteServer, Path],
) -> None:
    server, log = tessera
    runner = CliRunner()
    for n in range(1, 16):
        since = str(log / f"checkpoint.{n}")
        result = runner.invoke(main, ["tlog", "check", server.log, "--key", TESSERA_VKEY,
                                      "--since", since, "--incremental"])
        assert result.exit_code == 0, (n, result.output)


def test_tlog_check_over_http_refuses_a_rollback(tessera: tuple[SiteServer, Path]) -> None:
    server, log = tessera
    newest = log / "checkpoint.15"
    shutil.copy(log / "checkpoint.3", log / "checkpoint")
    result = CliRunner().invoke(main, ["tlog", "check", server.log, "--key", TESSERA_VKEY,
                                       "--since", str(newest)])
    assert result.exit_code == 1
    assert "smaller than the trusted size 15" in result.stderr


def test_audit_refuses_entries_that_are_not_smki_entries(
    tessera: tuple[SiteServer, Path], tmp_path: Path
) -> None:
    server, _ = tessera
    report = audit(Source(server.log), VERIFIER, tmp_path / "state")
    assert not report.ok and not report.saved
    (incident,) = report.incidents
    assert (incident.kind, incident.index) == ("governance", 0)
    assert "entry 0 (undecodable entry) is refused: entry: not valid UTF-8 JSON" in (
        incident.message)
    assert incident.evidence is not None
    proof = (incident.evidence / "entry-0.tlog-proof").read_bytes()
    assert parse_proof(proof).extra == b"one"
    assert verify_proof(proof, VERIFIER, entry=b"one")[0] == 0


def test_offline_proofs_must_carry_an_smki_entry(
    vectors: Path, tessera: tuple[SiteServer, Path]
) -> None:
    derived = (vectors / "derived-tessera-testlog-index2.tlog-proof").read_bytes()
    with pytest.raises(MalformedError, match="no log entry"):
        verify_offline(b"three", derived, VERIFIER)
    server, _ = tessera
    with_entry = make_proof(LogReader(Source(server.log).log, VERIFIER), 2, extra=b"three")
    assert verify_proof(with_entry, VERIFIER, entry=b"three")[0] == 2
    with pytest.raises(MalformedError, match="not valid UTF-8 JSON"):
        verify_offline(b"three", with_entry, VERIFIER)
