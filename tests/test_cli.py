"""The ``smki`` command line: help, version, keygen and how errors are reported."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from generator import __version__
from generator.cli import main
from generator.tlog.note import ALG_ECDSA, ALG_ED25519, parse_signer, parse_verifier


def smki(*args: str) -> Result:
    """Run ``smki args…`` in-process, stdout and stderr kept apart."""
    return CliRunner().invoke(main, list(args))


def test_help_lists_commands() -> None:
    result = smki("--help")
    assert result.exit_code == 0
    assert "keygen" in result.stdout
    assert smki("-h").stdout == result.stdout


def test_version() -> None:
    result = smki("--version")
    assert result.exit_code == 0
    assert result.stdout == f"smki, version {__version__}\n"


def test_console_script_runs() -> None:
    script = shutil.which("smki", path=str(Path(sys.executable).parent)) or shutil.which("smki")
    assert script, "the smki console script is not installed (pip install -e '.[test]')"
    done = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout == f"smki, version {__version__}\n"


@pytest.mark.parametrize(
    ("flags", "alg"), [((), ALG_ED25519), (("--ecdsa",), ALG_ECDSA)], ids=["ed25519", "ecdsa"]
)
def test_keygen_writes_private_key_and_prints_vkey(
    tmp_path: Path, flags: tuple[str, ...], alg: int
) -> None:
    out = tmp_path / "log.key"
    result = smki("keygen", "smki.example/log", *flags, "--out", str(out))
    assert result.exit_code == 0, result.stderr
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    skey = out.read_text(encoding="utf-8")
    assert skey.startswith("PRIVATE+KEY+smki.example/log+")
    assert skey.endswith("\n") and skey.count("\n") == 1
    signer = parse_signer(skey)
    verifier = parse_verifier(result.stdout)
    assert result.stdout == verifier.vkey + "\n"
    assert verifier == signer.verifier()
    assert (verifier.name, verifier.alg) == ("smki.example/log", alg)
    assert verifier.verify(b"hello\n", signer.sign(b"hello\n"))


def test_keygen_makes_a_new_key_each_time(tmp_path: Path) -> None:
    first = smki("keygen", "k", "--out", str(tmp_path / "a"))
    second = smki("keygen", "k", "--out", str(tmp_path / "b"))
    assert first.stdout != second.stdout


def test_keygen_refuses_to_overwrite(tmp_path: Path) -> None:
    out = tmp_path / "existing.key"
    out.write_text("keep me\n", encoding="utf-8")
    result = smki("keygen", "k", "--out", str(out))
    assert result.exit_code != 0
    assert "refusing to overwrite" in result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    assert out.read_text(encoding="utf-8") == "keep me\n"


def test_keygen_requires_out(tmp_path: Path) -> None:
    result = smki("keygen", "k")
    assert result.exit_code == 2
    assert "--out" in result.stderr


@pytest.mark.parametrize("name", ["two words", "a+b"], ids=["space", "plus"])
def test_keygen_invalid_name_is_one_line_error(tmp_path: Path, name: str) -> None:
    out = tmp_path / "k.key"
    result = smki("keygen", name, "--out", str(out))
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith("smki: error: ")
    assert result.stderr.count("\n") == 1
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_verbose_shows_traceback(tmp_path: Path) -> None:
    result = smki("--verbose", "keygen", "two words", "--out", str(tmp_path / "k.key"))
    assert result.exit_code == 1
    assert "Traceback (most recent call last)" in result.stderr
    assert "MalformedError" in result.stderr
    assert result.stderr.rstrip("\n").splitlines()[-1].startswith("smki: error: ")
