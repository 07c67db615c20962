"""C2SP tlog-checkpoint: Tessera's test log, a real sum.golang.org tree head, Go's
tree-note golden, the spec's examples, a Sunlight cosigned checkpoint, and every
malformed body (each must raise MalformedError).
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from generator.tlog.checkpoint import (
    MAX_TREE_SIZE,
    Checkpoint,
    open_checkpoint,
    parse_checkpoint,
    sign_checkpoint,
)
from generator.tlog.errors import InvalidSignature, MalformedError
from generator.tlog.note import (
    generate_signer,
    parse_note,
    parse_signer,
    parse_verifier,
    sign_note,
)
from tests.conftest import VECTORS


def load(name: str) -> Any:
    """One JSON vector file from ../shared/vectors."""
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


GO = load("go-sumdb-note-vectors.json")
SPEC = load("c2sp-spec-examples.json")
COSIG = load("sunlight-witness-cosignature-vector.json")
TESSERA_PROOFS = load("derived-tessera-testlog-proofs.json")

TESSERA_DIR = VECTORS / "tessera-testdata-log"
TESSERA_ORIGIN = "example.com/log/testdata"
TESSERA_VKEY = "example.com/log/testdata+33d7b496+AeHTu4Q3hEIMHNqc6fASMsq3rKNx280NI+oO5xCFkkSx"
TESSERA_SKEY = (
    "PRIVATE+KEY+example.com/log/testdata+33d7b496+AeymY/SZAX0jZcJ8enZ5FY1Dz+wTML2yWSkK+9DSF3eg"
)
ROOT = base64.b64encode(hashlib.sha256(b"").digest()).decode()  # any canonical 32-byte root


# --- Tessera test log ---------------------------------------------------------


@pytest.mark.parametrize("size", range(16), ids=lambda n: f"checkpoint.{n}")
def test_tessera_checkpoint_verifies(size: int) -> None:
    data = (TESSERA_DIR / f"checkpoint.{size}").read_bytes()
    signed = open_checkpoint(data, parse_verifier(TESSERA_VKEY), origin=TESSERA_ORIGIN)
    assert signed.checkpoint.origin == TESSERA_ORIGIN
    assert signed.checkpoint.size == size
    assert signed.checkpoint.extensions == ()
    assert signed.raw == data
    root = base64.b64encode(signed.checkpoint.root_hash).decode()
    assert root == TESSERA_PROOFS["roots_b64"][str(size)]
    assert signed.checkpoint.text() == signed.note.text


@pytest.mark.parametrize("size", range(16), ids=lambda n: f"checkpoint.{n}")
def test_tessera_checkpoint_resigned_byte_for_byte(size: int) -> None:
    data = (TESSERA_DIR / f"checkpoint.{size}").read_bytes()
    checkpoint = parse_checkpoint(parse_note(data).text)
    assert sign_checkpoint(checkpoint, parse_signer(TESSERA_SKEY)) == data


def test_tessera_key_pair_matches() -> None:
    assert parse_signer(TESSERA_SKEY).verifier().vkey == TESSERA_VKEY


def test_tessera_latest_checkpoint_is_size_15() -> None:
    latest = (TESSERA_DIR / "checkpoint").read_bytes()
    assert latest == (TESSERA_DIR / "checkpoint.15").read_bytes()


def test_tessera_empty_tree_root_is_hash_of_nothing() -> None:
    data = (TESSERA_DIR / "checkpoint.0").read_bytes()
    signed = open_checkpoint(data, parse_verifier(TESSERA_VKEY))
    assert signed.checkpoint.root_hash == hashlib.sha256(b"").digest()


def test_tessera_checkpoint_wrong_origin_rejected() -> None:
    data = (TESSERA_DIR / "checkpoint").read_bytes()
    with pytest.raises(MalformedError, match="origin"):
        open_checkpoint(data, parse_verifier(TESSERA_VKEY), origin="example.com/other")


def test_tessera_checkpoint_other_key_rejected() -> None:
    data = (TESSERA_DIR / "checkpoint").read_bytes()
    with pytest.raises(InvalidSignature):
        open_checkpoint(data, generate_signer(TESSERA_ORIGIN).verifier())


# --- Go sumdb -----------------------------------------------------------------


def test_real_sum_golang_org_checkpoint_verifies() -> None:
    real = GO["real_world"]
    signed = open_checkpoint(real["note"].encode(), parse_verifier(real["vkey"]))
    assert signed.checkpoint.origin == "go.sum database tree"
    assert signed.checkpoint.size == 65664258
    assert signed.note.signers == (("sum.golang.org", 0x033DE0AE),)


def test_real_sum_golang_org_checkpoint_predates_origin_is_key_name() -> None:
    real = GO["real_world"]
    with pytest.raises(MalformedError, match="origin"):
        open_checkpoint(
            real["note"].encode(), parse_verifier(real["vkey"]), origin="sum.golang.org"
        )


def test_real_sum_golang_org_checkpoint_tampered_size_rejected() -> None:
    real = GO["real_world"]
    tampered = real["note"].replace("65664258", "65664259").encode()
    with pytest.raises(InvalidSignature):
        open_checkpoint(tampered, parse_verifier(real["vkey"]))


def test_go_tree_note_parses() -> None:
    tree = GO["go_tree_note"]
    checkpoint = parse_checkpoint(tree["text"])
    assert checkpoint.origin == "go.sum database tree"  # Go's fixed header, not a key name
    assert checkpoint.size == 123456789012
    assert checkpoint.root_hash == hashlib.sha256(b"\x00hello world").digest()
    assert checkpoint.text() == tree["text"]


@pytest.mark.parametrize("text", GO["go_tree_note"]["bad"], ids=["hex-size", "35-byte-root"])
def test_go_bad_tree_note_rejected(text: str) -> None:
    with pytest.raises(MalformedError):
        parse_checkpoint(text)


# --- C2SP spec examples -------------------------------------------------------


def test_c2sp_checkpoint_example_parses() -> None:
    note = parse_note(SPEC["checkpoint_example"].encode())
    checkpoint = parse_checkpoint(note.text)
    assert (checkpoint.origin, checkpoint.size) == ("example.com/behind-the-sofa", 20852163)
    assert base64.b64encode(checkpoint.root_hash).decode() == (
        "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I="
    )
    assert [(s.name, s.key_id) for s in note.signatures] == [
        ("example.com/behind-the-sofa", 0x033DE0AE)
    ]


def test_c2sp_add_checkpoint_request_carries_a_cosigned_checkpoint() -> None:
    request = SPEC["add_checkpoint_request_example"]
    proof, checkpoint_note = request.split("\n\n", 1)
    assert proof.startswith("old 20852014\n")
    note = parse_note(checkpoint_note.encode())
    assert parse_checkpoint(note.text).size == 20852163
    names = {s.name for s in note.signatures}
    assert names == {"example.com/behind-the-sofa"}
    assert len({s.key_id for s in note.signatures}) == 2  # log key plus a second key
    with pytest.raises(InvalidSignature, match="not signed by any trusted key"):
        stranger = generate_signer("example.com/behind-the-sofa").verifier()
        open_checkpoint(checkpoint_note.encode(), stranger)


# --- Sunlight cosigned checkpoint ---------------------------------------------


def test_sunlight_cosigned_checkpoint_parses() -> None:
    note = parse_note((VECTORS / COSIG["checkpoint_file"]).read_bytes())
    checkpoint = parse_checkpoint(note.text)
    assert (checkpoint.origin, checkpoint.size) == ("rome2026h1.example.org", 300)
    assert [(s.name, f"{s.key_id:08x}") for s in note.signatures] == [
        ("rome2026h1.example.org", "91507526"),
        ("witness.example.org", COSIG["cosignature_key_id_hex"]),
    ]


def test_sunlight_cosigned_checkpoint_with_stand_in_log_key() -> None:
    # The log signs with a 0x05 key we do not have: sign the same body with a
    # stand-in key, keep the original lines, and expect them ignored.
    original = parse_note((VECTORS / COSIG["checkpoint_file"]).read_bytes())
    checkpoint = parse_checkpoint(original.text)
    log = generate_signer(checkpoint.origin)
    resigned = sign_checkpoint(checkpoint, log) + b"".join(
        (s.line + "\n").encode() for s in original.signatures
    )
    signed = open_checkpoint(resigned, log.verifier(), origin=checkpoint.origin)
    assert signed.checkpoint == checkpoint
    assert signed.note.unverified == original.signatures


# --- Our own checkpoints ------------------------------------------------------


def test_sign_and_open_round_trip() -> None:
    log = generate_signer("smki.example/log")
    checkpoint = Checkpoint("smki.example/log", 42, bytes(range(32)), ("ext one", "ext2"))
    signed = open_checkpoint(sign_checkpoint(checkpoint, log), [log.verifier()], origin=log.name)
    assert signed.checkpoint == checkpoint


def test_sign_checkpoint_requires_origin_to_be_key_name() -> None:
    with pytest.raises(MalformedError, match="differs from key name"):
        sign_checkpoint(Checkpoint("a.example", 1, bytes(32)), generate_signer("b.example"))


def test_open_checkpoint_rejects_a_note_that_is_not_a_checkpoint() -> None:
    note = GO["signed_notes"][0]["note"].encode()
    with pytest.raises(MalformedError):
        open_checkpoint(note, parse_verifier(GO["keys"][0]["vkey"]))


@pytest.mark.parametrize(
    ("text", "extensions"),
    [
        (f"o\n0\n{ROOT}\n", ()),
        (f"o\n1\n{ROOT}\nextension\n", ("extension",)),
        (f"o\n1\n{ROOT}\n— not a signature\nkey value\n", ("— not a signature", "key value")),
        (f"o w/ space\n{MAX_TREE_SIZE}\n{ROOT}\n", ()),
    ],
    ids=["size-zero", "one-extension", "two-extensions", "max-size"],
)
def test_valid_checkpoint_text(text: str, extensions: tuple[str, ...]) -> None:
    checkpoint = parse_checkpoint(text)
    assert checkpoint.extensions == extensions
    assert checkpoint.text() == text


# --- Malformed checkpoint text ------------------------------------------------

ROOT_31 = base64.b64encode(bytes(31)).decode()
ROOT_33 = base64.b64encode(bytes(33)).decode()
ROOT_NONCANONICAL = ROOT[:-2] + "V="  # same 32 bytes, non-zero padding bits
ROOT_URLSAFE = base64.urlsafe_b64encode(b"\xfb" * 32).decode()

MALFORMED_CHECKPOINTS = {
    "empty": "",
    "no-final-newline": f"o\n1\n{ROOT}",
    "two-lines": "o\n1\n",
    "empty-origin": f"\n1\n{ROOT}\n",
    "leading-zero-size": f"o\n01\n{ROOT}\n",
    "double-zero-size": f"o\n00\n{ROOT}\n",
    "negative-size": f"o\n-1\n{ROOT}\n",
    "plus-size": f"o\n+1\n{ROOT}\n",
    "hex-size": f"o\n0x10\n{ROOT}\n",
    "space-in-size": f"o\n 1\n{ROOT}\n",
    "underscore-size": f"o\n1_000\n{ROOT}\n",
    "arabic-indic-digits": f"o\n\u0661\u0662\n{ROOT}\n",
    "empty-size": f"o\n\n{ROOT}\n",
    "size-2^63": f"o\n{MAX_TREE_SIZE + 1}\n{ROOT}\n",
    "size-2^64": f"o\n{1 << 64}\n{ROOT}\n",
    "size-5000-digits": f"o\n{'9' * 5000}\n{ROOT}\n",
    "root-31-bytes": f"o\n1\n{ROOT_31}\n",
    "root-33-bytes": f"o\n1\n{ROOT_33}\n",
    "root-non-canonical-base64": f"o\n1\n{ROOT_NONCANONICAL}\n",
    "root-no-padding": f"o\n1\n{ROOT.rstrip('=')}\n",
    "root-url-alphabet": f"o\n1\n{ROOT_URLSAFE}\n",
    "root-hex": f"o\n1\n{bytes(32).hex()}\n",
    "root-empty": "o\n1\n\n",
    "empty-extension-line": f"o\n1\n{ROOT}\n\nextension\n",
    "trailing-blank-line": f"o\n1\n{ROOT}\n\n",
    "tab-in-origin": f"o\tp\n1\n{ROOT}\n",
    "cr-line-endings": f"o\r\n1\r\n{ROOT}\r\n",
    "nul-in-extension": f"o\n1\n{ROOT}\next\x00\n",
}


@pytest.mark.parametrize("text", MALFORMED_CHECKPOINTS.values(), ids=MALFORMED_CHECKPOINTS.keys())
def test_malformed_checkpoint_rejected(text: str) -> None:
    with pytest.raises(MalformedError):
        parse_checkpoint(text)


def test_root_non_canonical_base64_decodes_to_a_valid_root() -> None:
    # The case above fails for its encoding alone, not its length.
    assert base64.b64decode(ROOT_NONCANONICAL) == base64.b64decode(ROOT)


def test_signed_malformed_checkpoint_rejected_after_verification() -> None:
    log = generate_signer("o")
    data = sign_note(f"o\n01\n{ROOT}\n", [log])
    with pytest.raises(MalformedError, match="tree size"):
        open_checkpoint(data, log.verifier())


# --- Property: arbitrary text raises MalformedError or parses -------------------


@given(
    st.one_of(
        st.text(),
        st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")),
        st.tuples(st.text(max_size=30), st.text(max_size=30), st.text(max_size=50)).map(
            lambda t: f"{t[0]}\n{t[1]}\n{t[2]}\n"
        ),
        st.tuples(st.integers(), st.binary(min_size=30, max_size=34)).map(
            lambda t: f"o\n{t[0]}\n{base64.b64encode(t[1]).decode()}\n"
        ),
    )
)
def test_parse_checkpoint_raises_only_malformed(text: str) -> None:
    try:
        checkpoint = parse_checkpoint(text)
    except MalformedError:
        return
    assert checkpoint.text() == text
