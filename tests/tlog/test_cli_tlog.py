"""``smki tlog append | check | prove``: Tessera's log through the command line, over a
directory and over HTTP, and one readable line for every failure.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from generator.cli import main
from tests.tlog.test_writer import (
    SIGNER,
    TESSERA,
    TESSERA_SIGNER,
    TESSERA_VKEY,
    tessera_copy,
    tree_files,
)

PROOF_FILE = (TESSERA.parent / "derived-tessera-testlog-index2.tlog-proof").read_bytes()


def smki(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(main, list(args), input=input)


def fails(result: Result, fragment: str) -> None:
    """The command failed with exit 1 and one line on stderr naming ``fragment``."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("smki: error: "), result.stderr
    assert fragment in lines[0]


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "tessera.key"
    path.write_text(TESSERA_SIGNER.skey + "\n")
    return path


def test_append_rebuilds_tessera_log(tmp_path: Path, key_file: Path) -> None:
    log = tmp_path / "new" / "log"
    entries = (b"one\ntwo\nthree\nfour\nfive\nsix\nseven\neit\nnain\nten\nileven\ntwelf\n"
               b"threeten\nfourten\nfivten\n")
    first = smki("tlog", "append", str(log), "--key", str(key_file), input=entries[:8])
    assert first.exit_code == 0, first.output
    assert first.stdout.encode() == (TESSERA / "checkpoint.2").read_bytes()
    source = tmp_path / "entries.txt"
    source.write_bytes(entries[8:].rstrip(b"\n"))  # the last line needs no newline
    rest = smki("tlog", "append", str(log), "--key", str(key_file), "--input", str(source))
    assert rest.exit_code == 0, rest.output
    assert rest.stdout.encode() == (TESSERA / "checkpoint").read_bytes()
    bundle = "tile/entries/000.p/15"
    assert tree_files(log)[bundle] == (TESSERA / bundle).read_bytes()


def test_append_empty_input_signs_the_empty_tree(tmp_path: Path, key_file: Path) -> None:
    result = smki("tlog", "append", str(tmp_path / "log"), "--key", str(key_file), input=b"")
    assert result.stdout.encode() == (TESSERA / "checkpoint.0").read_bytes()


def test_append_refusals(tmp_path: Path, key_file: Path) -> None:
    log = tmp_path / "log"
    fails(smki("tlog", "append", str(log), "--key", str(key_file), input=b"a\n" + b"x" * 70000),
          "entry 1 is 70,000 bytes")
    assert not (log / "checkpoint").exists()
    fails(smki("tlog", "append", str(log), "--key", str(key_file), "--origin", "other", input=b""),
          "must be the signing key's name")
    bad_key = tmp_path / "bad.key"
    bad_key.write_text("not a key\n")
    fails(smki("tlog", "append", str(log), "--key", str(bad_key), input=b""), "not a private key")


@pytest.mark.parametrize("size", range(16))
def test_check_accepts_every_tessera_checkpoint(tmp_path: Path, size: int) -> None:
    result = smki("tlog", "check", str(tessera_copy(tmp_path / "log", size)), "--key", TESSERA_VKEY)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"ok: example.com/log/testdata size {size} root ")


def test_check_rejects_damage_in_one_line(tmp_path: Path) -> None:
    log = tessera_copy(tmp_path / "log")
    tile = log / "tile/0/000.p/15"
    tile.write_bytes(tile.read_bytes()[:-1] + b"\0")
    fails(smki("tlog", "check", str(log), "--key", TESSERA_VKEY), "tile/0/000.p/15")
    fails(smki("tlog", "check", str(tmp_path / "nowhere"), "--key", TESSERA_VKEY), "no such file")
    fails(smki("tlog", "check", str(log), "--key", SIGNER.verifier().vkey), "not signed by any")


def test_check_since(tmp_path: Path) -> None:
    log = tessera_copy(tmp_path / "log", 6)
    vkey_file = tmp_path / "log.vkey"
    vkey_file.write_text(TESSERA_VKEY + "\n")
    ok = smki("tlog", "check", str(log), "--key", str(vkey_file),
              "--since", str(TESSERA / "checkpoint.3"), "--incremental")
    assert ok.exit_code == 0, ok.output
    fails(smki("tlog", "check", str(log), "--key", TESSERA_VKEY,
               "--since", str(TESSERA / "checkpoint.9")), "smaller than the trusted size 9")
    usage = smki("tlog", "check", str(log), "--key", TESSERA_VKEY, "--incremental")
    assert usage.exit_code != 0 and "--incremental needs --since" in usage.stderr


def test_prove(tmp_path: Path) -> None:
    log = tessera_copy(tmp_path / "log")
    result = smki("tlog", "prove", str(log), "--key", TESSERA_VKEY, "--index", "2")
    assert result.exit_code == 0, result.output
    assert result.stdout.encode() == PROOF_FILE
    out = tmp_path / "three.tlog-proof"
    assert smki("tlog", "prove", str(log), "--key", TESSERA_VKEY, "--index", "2",
                "--out", str(out)).exit_code == 0
    assert out.read_bytes() == PROOF_FILE
    refused = smki("tlog", "prove", str(log), "--key", TESSERA_VKEY, "--index", "15")
    assert refused.exit_code != 0 and "not in a tree of size 15" in refused.stderr


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def served_log(tmp_path: Path) -> Iterator[str]:
    log = tessera_copy(tmp_path / "log")
    handler = functools.partial(QuietHandler, directory=str(log))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


def test_check_and_prove_over_http(served_log: str) -> None:
    result = smki("tlog", "check", served_log, "--key", TESSERA_VKEY)
    assert result.exit_code == 0, result.output
    assert "size 15" in result.stdout
    proof = smki("tlog", "prove", served_log, "--key", TESSERA_VKEY, "--index", "2")
    assert proof.stdout.encode() == PROOF_FILE
    fails(smki("tlog", "check", served_log + "missing/", "--key", TESSERA_VKEY), "HTTP 404")


@pytest.mark.parametrize("command", ["append", "check", "prove"])
def test_every_option_has_help(command: str) -> None:
    result = smki("tlog", command, "--help")
    assert result.exit_code == 0
    options = [line.strip() for line in result.stdout.split("Options:")[1].splitlines()]
    described = [line for line in options if line.startswith("--")]
    assert described and all(len(line.split(None, 1)) == 2 for line in described), result.stdout
