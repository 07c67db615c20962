"""``smki verify`` and ``smki audit``: exit codes, text and JSON, over HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result

from generator.cli import main
from tests.client.sites import A1, A2, A3, VKEY, A, Site, SiteServer, publisher_amend


def smki(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def holding(tmp_path: Path, data: bytes) -> str:
    file = tmp_path / "held.bin"
    file.write_bytes(data)
    return str(file)


def test_verify_exit_codes(server: SiteServer, tmp_path: Path) -> None:
    for data, code, first in [
        (A2, 0, "OK: "),
        (A1, 4, "SUPERSEDED: "),
        (b"never lodged\n", 3, "NOT IN LOG: "),
    ]:
        result = smki("verify", holding(tmp_path, data), "--log", server.log, "--key", VKEY)
        assert result.exit_code == code, result.output
        assert result.stdout.startswith(first)
    ok = smki("verify", holding(tmp_path, A2), "--log", server.log, "--key", VKEY)
    assert f"is {A}, logged at entry 6" in ok.stdout
    assert "approved by PMA approval PMA-1 (entry 5)" in ok.stdout
    assert "status      current" in ok.stdout


def test_verify_json(server: SiteServer, tmp_path: Path) -> None:
    result = smki("verify", holding(tmp_path, A1), "--log", server.log, "--key", VKEY, "--json")
    assert result.exit_code == 4
    answer = json.loads(result.stdout)
    assert (answer["status"], answer["exit_code"], answer["checkpoint"]["size"]) == (
        "superseded", 4, 12)
    (version,) = answer["versions"]
    assert (version["item"], version["index"], version["changed_by"]) == (A, 4, 6)
    assert version["authority"]["kind"] == "lodgement"


def test_verify_failure_is_exit_5_with_one_line(genuine: Site, tmp_path: Path) -> None:
    site = publisher_amend(genuine, tmp_path / "site", "unsigned")
    with SiteServer(site) as server:
        result = smki("verify", holding(tmp_path, A3), "--log", server.log, "--key", VKEY)
        as_json = smki("verify", holding(tmp_path, A3), "--log", server.log, "--key", VKEY,
                       "--json")
    assert result.exit_code == 5
    assert result.stderr.startswith("smki: error: ") and "needs 2" in result.stderr
    assert json.loads(as_json.stdout)["exit_code"] == 5


def test_verify_usage(tmp_path: Path) -> None:
    file = holding(tmp_path, A2)
    for args in [(), ("--log", "x", "--proof", file), ("--proof", file, "--item", A)]:
        result = smki("verify", file, "--key", VKEY, *args)
        assert result.exit_code == 1 and "smki: error:" in result.stderr, result.output
    bad_pin = smki("verify", file, "--log", "x", "--key", VKEY, "--policy", "abc")
    assert bad_pin.exit_code == 1 and "--policy" in bad_pin.stderr
    bad_key = smki("verify", file, "--log", "x", "--key", "not+a+key")
    assert bad_key.exit_code == 1 and "--key" in bad_key.stderr


def test_audit_cli(server: SiteServer, tmp_path: Path) -> None:
    state = str(tmp_path / "state")
    first = smki("audit", "--log", server.log, "--key", VKEY, "--state", state)
    assert first.exit_code == 0, first.output
    assert "size 12 (was 0), 12 new entries" in first.stdout
    assert "notice: entry 9: VIOLATION" in first.stdout
    assert first.stdout.rstrip().endswith(f"state saved in {state}")
    again = smki("audit", "--log", server.log, "--key", VKEY, "--state", state, "--json")
    report = json.loads(again.stdout)
    assert (report["ok"], report["previous_size"], report["new_entries"]) == (True, 12, 0)


def test_audit_cli_incident(genuine: Site, tmp_path: Path) -> None:
    site = publisher_amend(genuine, tmp_path / "site", "forged")
    with SiteServer(site) as server:
        text = smki("audit", "--log", server.log, "--key", VKEY, "--state", str(tmp_path / "s"))
        as_json = smki("audit", "--log", server.log, "--key", VKEY, "--state",
                       str(tmp_path / "s"), "--json")
    assert text.exit_code == 5
    assert "INCIDENT governance: entry 12" in text.stdout and "[evidence: " in text.stdout
    assert "FAILED: 1 incident(s)" in text.stderr
    report = json.loads(as_json.stdout)
    assert (report["ok"], report["exit_code"], report["state_saved"]) == (False, 5, False)
    assert report["incidents"][0]["kind"] == "governance"


def test_audit_unreachable_site_is_exit_1(tmp_path: Path) -> None:
    with SiteServer(tmp_path) as server:  # serves nothing: 404 for the checkpoint
        result = smki("audit", "--log", server.log, "--key", VKEY, "--state",
                      str(tmp_path / "s"), "--timeout", "2")
    assert result.exit_code == 1 and "HTTP 404" in result.stderr
    assert "the site's log/ folder?" in result.stderr
