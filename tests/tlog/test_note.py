"""C2SP signed-note: byte-for-byte interop with Go's sumdb/note, the C2SP spec,
CCTV's Ed25519 edge cases, a Sunlight witness cosignature, plus ECDSA P-256 and
every malformed input we could think of (each must raise MalformedError).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import re
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given
from hypothesis import strategies as st

from generator.tlog.errors import InvalidSignature, MalformedError
from generator.tlog.note import (
    ALG_COSIGNATURE,
    ALG_ECDSA,
    ALG_ED25519,
    MAX_NOTE_SIZE,
    MAX_SIGNATURES,
    Signature,
    Signer,
    Verifier,
    generate_signer,
    key_id,
    open_note,
    parse_note,
    parse_signer,
    parse_verifier,
    sign_note,
)
from tests.conftest import VECTORS


def load(name: str) -> Any:
    """One JSON vector file from ../shared/vectors."""
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def slug(text: str) -> str:
    """A readable pytest id from a vector's description."""
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-")[:60]


GO = load("go-sumdb-note-vectors.json")
GO_KEYS = {k["name"]: k for k in GO["keys"]}
GO_VERIFIERS = {name: parse_verifier(k["vkey"]) for name, k in GO_KEYS.items()}
PETER = parse_signer(GO_KEYS["PeterNeumann"]["skey"])
ENOCH = parse_signer(GO_KEYS["EnochRoot"]["skey_derived"])
TEXT: str = GO["note_text"]
GOLDEN: bytes = GO["signed_notes"][0]["note"].encode()
SPEC = load("c2sp-spec-examples.json")
COSIG = load("sunlight-witness-cosignature-vector.json")


def ed25519_vkey(name: str, public_key: bytes) -> str:
    """A type 0x01 verifier key string built from a raw public key."""
    encoded = base64.b64encode(bytes([ALG_ED25519]) + public_key).decode()
    return f"{name}+{key_id(name, ALG_ED25519, public_key):08x}+{encoded}"


def sig_line(name: str, kid: int, signature: bytes) -> bytes:
    """A signature line (with newline) as it appears on the wire."""
    return (Signature(name, kid, signature).line + "\n").encode()


# --- Go sumdb/note: keys ------------------------------------------------------


@pytest.mark.parametrize("name", sorted(GO_KEYS))
def test_go_vkey_parses_to_its_key_id(name: str) -> None:
    key = GO_KEYS[name]
    verifier = parse_verifier(key["vkey"])
    assert (verifier.name, verifier.alg, verifier.algorithm) == (name, ALG_ED25519, "Ed25519")
    assert verifier.key_id == int(key["key_id_hex"], 16)
    assert key_id(name, ALG_ED25519, verifier.public_key) == verifier.key_id
    assert verifier.vkey == key["vkey"]


@pytest.mark.parametrize("field", ["skey", "skey_derived"])
def test_go_skey_parses_and_matches_its_vkey(field: str) -> None:
    key = next(k for k in GO["keys"] if field in k)
    signer = parse_signer(key[field])
    assert (signer.name, signer.key_id) == (key["name"], int(key["key_id_hex"], 16))
    assert signer.skey == key[field]
    assert signer.verifier().vkey == key["vkey"]


def test_enoch_root_skey_is_the_zero_seed() -> None:
    enoch = GO_KEYS["EnochRoot"]
    seed = bytes.fromhex(enoch["ed25519_seed_hex"])
    public = ed25519.Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes_raw()
    assert ed25519_vkey("EnochRoot", public) == enoch["vkey"]
    assert (
        enoch["skey_derived"]
        == "PRIVATE+KEY+EnochRoot+af0cfe78+"
        + base64.b64encode(bytes([ALG_ED25519]) + seed).decode()
    )


@pytest.mark.parametrize("bad", GO["bad_vkeys"], ids=lambda b: slug(b["why"]))
def test_go_bad_vkey_rejected(bad: dict[str, str]) -> None:
    with pytest.raises(MalformedError):
        parse_verifier(bad["vkey"])


# --- Go sumdb/note: signed notes ---------------------------------------------


@pytest.mark.parametrize("case", GO["signed_notes"], ids=lambda c: slug(c["desc"]))
def test_go_signed_note(case: dict[str, Any]) -> None:
    verifiers = [GO_VERIFIERS[name] for name in case["verify_with"]]
    data = case["note"].encode()
    if case["expect"] == "error":
        error = MalformedError if case["desc"].startswith("malformed") else InvalidSignature
        with pytest.raises(error):
            open_note(data, verifiers)
        return
    opened = open_note(data, verifiers)
    assert opened.text == TEXT
    assert [s.name for s in opened.verified] == case.get("expect_verified", case["verify_with"])
    assert [s.name for s in opened.unverified] == case.get("expect_unverified", [])
    assert opened.signers == tuple((v.name, v.key_id) for v in verifiers)
    assert parse_note(data).to_bytes() == data


def test_sign_reproduces_go_golden_note() -> None:
    assert sign_note(TEXT, [PETER]) == GOLDEN


def test_sign_two_keys_reproduces_go_golden_note() -> None:
    both = next(c for c in GO["signed_notes"] if c["verify_with"] == ["PeterNeumann", "EnochRoot"])
    assert sign_note(TEXT, [PETER, ENOCH]) == both["note"].encode()
    assert sign_note(TEXT, [ENOCH], existing=parse_note(GOLDEN).signatures) == both["note"].encode()


# --- CCTV Ed25519 edge cases: accept exactly what Go's crypto/ed25519 accepts ---

CCTV = load("cctv-ed25519/ed25519vectors.json")
GO_REJECTS = {"non_canonical_R", "low_order_residue"}


def cctv_id(case: dict[str, Any]) -> str:
    verdict = "reject" if GO_REJECTS & set(case["flags"] or ()) else "accept"
    return f"{case['number']}-{verdict}"


def test_cctv_has_every_case() -> None:
    assert [c["number"] for c in CCTV] == list(range(914))


@pytest.mark.parametrize("case", CCTV, ids=cctv_id)
def test_cctv_ed25519(case: dict[str, Any]) -> None:
    verifier = parse_verifier(ed25519_vkey("cctv.example", bytes.fromhex(case["key"])))
    accepted = verifier.verify(case["msg"].encode(), bytes.fromhex(case["sig"]))
    assert accepted == (not GO_REJECTS & set(case["flags"] or ()))


# --- C2SP spec examples -------------------------------------------------------


def test_c2sp_signed_note_example_verifies() -> None:
    example = SPEC["signed_note_example"]
    verifier = parse_verifier(example["vkey"])
    opened = open_note(example["note"].encode(), [verifier])
    assert opened.text == "This is an example message.\n"
    assert opened.signers == (("example.com/foo", 0x530D903A),)


def test_c2sp_signed_note_example_fails_with_other_text() -> None:
    example = SPEC["signed_note_example"]
    forged = example["note"].replace("an example", "a forged").encode()
    with pytest.raises(InvalidSignature):
        open_note(forged, [parse_verifier(example["vkey"])])


def test_c2sp_cosignature_example_line_is_an_unknown_signature() -> None:
    data = (SPEC["checkpoint_example"] + SPEC["cosignature_example_line"] + "\n").encode()
    note = parse_note(data)
    log, witness = note.signatures
    assert (log.name, log.key_id) == ("example.com/behind-the-sofa", 0x033DE0AE)
    decoded = SPEC["cosignature_example_decoded"]
    assert witness.name == "witness.example.com/w1"
    assert witness.key_id == int(decoded["key_id_hex"], 16)
    timestamp, signature = witness.signature[:8], witness.signature[8:]
    assert int.from_bytes(timestamp, "big") == decoded["timestamp"]
    assert len(signature) == 64
    assert cosignature_message(note.text, decoded["timestamp"]) == decoded["signed_message"]
    # (We hold neither key.) An unrelated trusted key sees both lines as unknown.
    with pytest.raises(InvalidSignature, match="not signed by any trusted key"):
        open_note(data, [PETER.verifier()])


# --- Sunlight witness cosignature (type 0x04) ---------------------------------


def cosignature_message(checkpoint_text: str, timestamp: int) -> str:
    """The message a cosignature/v1 signs (C2SP tlog-cosignature)."""
    return f"cosignature/v1\ntime {timestamp}\n{checkpoint_text}"


COSIGNED = (VECTORS / COSIG["checkpoint_file"]).read_bytes()
WITNESS_SEED = bytes.fromhex(COSIG["witness_ed25519_seed_hex"])
WITNESS_KEY = ed25519.Ed25519PrivateKey.from_private_bytes(WITNESS_SEED)
WITNESS_PUBLIC = WITNESS_KEY.public_key().public_bytes_raw()


def test_sunlight_vector_describes_the_file() -> None:
    assert COSIGNED.decode() == COSIG["note"]
    witness_json = load("sunlight-skylight-witness/witness.v0.json")
    assert witness_json["name"] == COSIG["witness_name"]
    assert witness_json["verifier_keys"] == [COSIG["witness_vkey"]]


def test_witness_vkey_is_type_0x04_of_the_seed() -> None:
    name, kid_hex, blob = COSIG["witness_vkey"].split("+", 2)
    raw = base64.b64decode(blob)
    assert raw == bytes([ALG_COSIGNATURE]) + WITNESS_PUBLIC
    assert name == COSIG["witness_name"]
    assert kid_hex == COSIG["cosignature_key_id_hex"]
    assert key_id(name, ALG_COSIGNATURE, WITNESS_PUBLIC) == int(kid_hex, 16)


def test_witness_vkey_is_not_a_note_verifier() -> None:
    with pytest.raises(MalformedError, match="unknown signature type 0x04"):
        parse_verifier(COSIG["witness_vkey"])


def test_cosignature_bytes_decode_and_resign_byte_for_byte() -> None:
    note = parse_note(COSIGNED)
    cosig = next(s for s in note.signatures if s.name == COSIG["witness_name"])
    assert cosig.key_id == int(COSIG["cosignature_key_id_hex"], 16)
    timestamp = int.from_bytes(cosig.signature[:8], "big")
    assert timestamp == COSIG["cosignature_timestamp"]
    message = cosignature_message(note.text, timestamp)
    assert message == COSIG["signed_message"]
    assert WITNESS_KEY.sign(message.encode()) == cosig.signature[8:]
    assert hashlib.sha256(note.text.split("\n")[0].encode()).hexdigest() == COSIG["origin_hash_hex"]


def test_same_key_as_ed25519_note_verifier_ignores_the_cosignature() -> None:
    # The key ID commits to the type byte, so a 0x01 verifier of the witness key
    # cannot mistake the 0x04 line (which signs a different message) for its own.
    as_note_key = parse_verifier(ed25519_vkey(COSIG["witness_name"], WITNESS_PUBLIC))
    assert as_note_key.key_id != int(COSIG["cosignature_key_id_hex"], 16)
    with pytest.raises(InvalidSignature, match="not signed by any trusted key"):
        open_note(COSIGNED, [as_note_key])


def test_log_key_verifier_ignores_0x05_and_0x04_lines() -> None:
    # We lack the log's static-ct-api (0x05) key, so we countersign the same text
    # with a stand-in log key: both original lines must come back unverified.
    original = parse_note(COSIGNED)
    log = generate_signer("rome2026h1.example.org")
    witness_as_note_key = parse_verifier(ed25519_vkey(COSIG["witness_name"], WITNESS_PUBLIC))
    data = sign_note(original.text, [log], existing=original.signatures)
    opened = open_note(data, [log.verifier(), witness_as_note_key])
    assert opened.signers == ((log.name, log.key_id),)
    assert opened.unverified == original.signatures
    with pytest.raises(InvalidSignature):
        open_note(COSIGNED, [log.verifier()])


# --- Go behaviours: duplicates, limits ----------------------------------------


def test_duplicate_verified_line_counts_once() -> None:
    opened = open_note(GOLDEN + GOLDEN.split(b"\n\n")[1], [PETER.verifier()])
    assert len(opened.verified) == 1


def test_duplicate_unverified_line_is_kept_once() -> None:
    enoch_line = sig_line(ENOCH.name, ENOCH.key_id, ENOCH.sign(TEXT.encode()))
    opened = open_note(GOLDEN + enoch_line + enoch_line, [PETER.verifier()])
    assert [s.name for s in opened.unverified] == ["EnochRoot"]


def test_second_line_for_a_verified_key_is_skipped_as_go_does() -> None:
    junk = sig_line(PETER.name, PETER.key_id, b"\x00" * 64)
    opened = open_note(GOLDEN + junk, [PETER.verifier()])
    assert opened.signers == ((PETER.name, PETER.key_id),)


@pytest.mark.parametrize("order", ["bad-first", "bad-last"])
def test_failing_known_key_rejects_note_even_if_another_verifies(order: str) -> None:
    bad = sig_line(ENOCH.name, ENOCH.key_id, ENOCH.sign(b"some other text\n"))
    good = GOLDEN.split(b"\n\n")[1]
    block = bad + good if order == "bad-first" else good + bad
    with pytest.raises(InvalidSignature, match="EnochRoot"):
        open_note(TEXT.encode() + b"\n" + block, [PETER.verifier(), ENOCH.verifier()])


def test_sixteen_signatures_accepted() -> None:
    signers = [generate_signer(f"witness{i}.example") for i in range(16)]
    opened = open_note(sign_note(TEXT, signers), [s.verifier() for s in signers])
    assert len(opened.verified) == 16


def test_max_signatures_accepted_one_more_rejected() -> None:
    line = GOLDEN.split(b"\n\n")[1]
    at_limit = TEXT.encode() + b"\n" + line * MAX_SIGNATURES
    assert len(parse_note(at_limit).signatures) == MAX_SIGNATURES == 100
    assert len(open_note(at_limit, [PETER.verifier()]).verified) == 1
    with pytest.raises(MalformedError, match="more than 100"):
        parse_note(at_limit + line)


def test_note_size_cap() -> None:
    line = GOLDEN.split(b"\n\n")[1]
    text = "x" * (MAX_NOTE_SIZE - 2 - len(line)) + "\n"  # text, blank line, signature
    at_cap = sign_note(text, [PETER])
    assert len(at_cap) == MAX_NOTE_SIZE
    assert open_note(at_cap, [PETER.verifier()]).text == text
    over = sign_note("x" + text, [PETER])
    with pytest.raises(MalformedError, match="larger than"):
        parse_note(over)


# --- ECDSA P-256 (type 0x02) --------------------------------------------------


@pytest.fixture(scope="module")
def ecdsa_signer() -> Signer:
    return generate_signer("pma.example/alice", ecdsa=True)


def test_ecdsa_key_id_is_sha256_of_spki(ecdsa_signer: Signer) -> None:
    verifier = ecdsa_signer.verifier()
    assert (verifier.alg, verifier.algorithm) == (ALG_ECDSA, "ECDSA P-256")
    public = serialization.load_der_public_key(verifier.public_key)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, ec.SECP256R1)
    digest = hashlib.sha256(verifier.public_key).digest()
    assert verifier.key_id == int.from_bytes(digest[:4], "big")


def test_ecdsa_sign_and_verify(ecdsa_signer: Signer) -> None:
    data = sign_note(TEXT, [ecdsa_signer])
    opened = open_note(data, [ecdsa_signer.verifier()])
    assert opened.text == TEXT
    assert opened.signers == ((ecdsa_signer.name, ecdsa_signer.key_id),)


def test_ecdsa_and_ed25519_cosign(ecdsa_signer: Signer) -> None:
    data = sign_note(TEXT, [PETER, ecdsa_signer])
    opened = open_note(data, [PETER.verifier(), ecdsa_signer.verifier()])
    assert [s.name for s in opened.verified] == ["PeterNeumann", "pma.example/alice"]


def test_ecdsa_private_key_string_round_trips(ecdsa_signer: Signer) -> None:
    skey = ecdsa_signer.skey
    assert skey.startswith(f"PRIVATE+KEY+pma.example/alice+{ecdsa_signer.key_id:08x}+")
    again = parse_signer(skey)
    assert again.skey == skey
    assert again.verifier() == ecdsa_signer.verifier()
    assert parse_verifier(ecdsa_signer.verifier().vkey) == ecdsa_signer.verifier()
    assert open_note(sign_note(TEXT, [again]), [ecdsa_signer.verifier()]).text == TEXT


def test_ecdsa_tampered_signature_fails(ecdsa_signer: Signer) -> None:
    sig = parse_note(sign_note(TEXT, [ecdsa_signer])).signatures[0]
    der = bytearray(sig.signature)
    der[-1] ^= 0x01
    tampered = TEXT.encode() + b"\n" + sig_line(sig.name, sig.key_id, bytes(der))
    assert not ecdsa_signer.verifier().verify(TEXT.encode(), bytes(der))
    with pytest.raises(InvalidSignature):
        open_note(tampered, [ecdsa_signer.verifier()])


def test_ecdsa_signature_over_other_text_fails(ecdsa_signer: Signer) -> None:
    sig = parse_note(sign_note("other\n", [ecdsa_signer])).signatures[0]
    moved = TEXT.encode() + b"\n" + sig_line(sig.name, sig.key_id, sig.signature)
    with pytest.raises(InvalidSignature):
        open_note(moved, [ecdsa_signer.verifier()])


def _ecdsa_vkey(name: str, public_key: bytes) -> str:
    kid = key_id(name, ALG_ECDSA, public_key)
    return f"{name}+{kid:08x}+{base64.b64encode(bytes([ALG_ECDSA]) + public_key).decode()}"


def _skey(name: str, alg: int, raw: bytes) -> str:
    return f"PRIVATE+KEY+{name}+00000000+{base64.b64encode(bytes([alg]) + raw).decode()}"


def test_ecdsa_compressed_point_vkey_rejected(ecdsa_signer: Signer) -> None:
    # Go's x509.ParsePKIXPublicKey takes only uncompressed points; one key, one ID.
    public = serialization.load_der_public_key(ecdsa_signer.verifier().public_key)
    assert isinstance(public, ec.EllipticCurvePublicKey)
    point = public.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.CompressedPoint
    )
    spki_prefix = bytes.fromhex("3039301306072a8648ce3d020106082a8648ce3d030107032200")
    with pytest.raises(MalformedError, match="uncompressed"):
        parse_verifier(_ecdsa_vkey("x", spki_prefix + point))


def test_ecdsa_p384_vkey_rejected() -> None:
    spki = (
        ec.generate_private_key(ec.SECP384R1())
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(MalformedError, match="P-256"):
        parse_verifier(_ecdsa_vkey("x", spki))


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param(
            ec.generate_private_key(ec.SECP256R1()).private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"pw"),
            ),
            id="encrypted-pkcs8",
        ),
        pytest.param(
            ec.generate_private_key(ec.SECP384R1()).private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            id="p384",
        ),
        pytest.param(b"\x30\x00", id="empty-der"),
    ],
)
def test_ecdsa_bad_private_key_rejected(raw: bytes) -> None:
    with pytest.raises(MalformedError):
        parse_signer(_skey("x", ALG_ECDSA, raw))


def test_ed25519_signer_key_id_must_match() -> None:
    wrong = GO_KEYS["PeterNeumann"]["skey"].replace("c74f20a3", "c74f20a4")
    with pytest.raises(MalformedError, match="does not match"):
        parse_signer(wrong)


# --- Malformed notes ----------------------------------------------------------

PETER_LINE = GOLDEN.split(b"\n\n")[1]
PETER_B64 = PETER_LINE.split(b" ")[-1].rstrip(b"\n")

MALFORMED_NOTES = {
    "non-utf8": b"caf\xe9\n\n" + PETER_LINE,
    "overlong-utf8-newline": b"text\xc0\x8a\n\n" + PETER_LINE,
    "utf8-surrogate": b"text\xed\xa0\x80\n\n" + PETER_LINE,
    "tab-in-text": b"a\tb\n\n" + PETER_LINE,
    "cr-in-text": b"a\r\n\n" + PETER_LINE,
    "nul-in-text": b"a\x00\n\n" + PETER_LINE,
    "crlf-line-endings": TEXT.replace("\n", "\r\n").encode() + b"\r\n" + PETER_LINE,
    "tab-in-signature-line": TEXT.encode() + b"\n" + PETER_LINE.replace(b" ", b"\t", 2),
    "missing-blank-line": TEXT.encode() + PETER_LINE,
    "empty-signature-block": TEXT.encode() + b"\n",
    "empty-note": b"",
    "only-blank-lines": b"\n\n",
    "no-final-newline": TEXT.encode() + b"\n" + PETER_LINE.rstrip(b"\n"),
    "hyphen-not-em-dash": TEXT.encode() + b"\n-" + PETER_LINE[3:],
    "en-dash": TEXT.encode() + b"\n\xe2\x80\x93" + PETER_LINE[3:],
    "em-dash-no-space": TEXT.encode() + b"\n\xe2\x80\x94" + PETER_LINE[4:],
    "name-without-signature": TEXT.encode() + b"\n\xe2\x80\x94 PeterNeumann\n",
    "empty-signature": TEXT.encode() + b"\n\xe2\x80\x94 PeterNeumann \n",
    "empty-name": TEXT.encode() + b"\n\xe2\x80\x94  " + PETER_B64 + b"\n",
    "name-with-plus": TEXT.encode() + b"\n\xe2\x80\x94 Peter+Neumann " + PETER_B64 + b"\n",
    "name-with-nbsp": TEXT.encode() + b"\n\xe2\x80\x94 Peter\xc2\xa0Neumann " + PETER_B64 + b"\n",
    "bad-base64": TEXT.encode() + b"\n\xe2\x80\x94 PeterNeumann !!!!" + PETER_B64 + b"\n",
    "base64-missing-padding": TEXT.encode()
    + b"\n\xe2\x80\x94 PeterNeumann "
    + PETER_B64.rstrip(b"=")
    + b"\n",
    "base64-excess-padding": TEXT.encode()
    + b"\n\xe2\x80\x94 PeterNeumann "
    + base64.b64encode(b"\x00" * 69)
    + b"=\n",
    "base64-url-alphabet": TEXT.encode()
    + b"\n\xe2\x80\x94 PeterNeumann "
    + base64.urlsafe_b64encode(b"\xfb\xff" * 34)
    + b"\n",
    "signature-then-space": TEXT.encode() + b"\n" + PETER_LINE.rstrip(b"\n") + b" \n",
    "short-signature-4-bytes": TEXT.encode()
    + b"\n\xe2\x80\x94 PeterNeumann "
    + base64.b64encode(b"\xc7\x4f\x20\xa3")
    + b"\n",
    "trailing-text-line": TEXT.encode() + b"\n" + PETER_LINE + b"not a signature\n",
    "blank-line-after-signatures": TEXT.encode() + b"\n" + PETER_LINE + b"\n",
}


@pytest.mark.parametrize("data", MALFORMED_NOTES.values(), ids=MALFORMED_NOTES.keys())
def test_malformed_note_rejected(data: bytes) -> None:
    with pytest.raises(MalformedError):
        parse_note(data)
    with pytest.raises(MalformedError):
        open_note(data, [PETER.verifier()])


def test_five_byte_signature_parses_but_does_not_verify() -> None:
    data = TEXT.encode() + b"\n" + sig_line(PETER.name, PETER.key_id, b"\x00")
    assert parse_note(data).signatures[0].signature == b"\x00"
    with pytest.raises(InvalidSignature):
        open_note(data, [PETER.verifier()])


@pytest.mark.parametrize(
    "text",
    ["no newline", "ends in blank line\n\n", "tab\there\n", "nul\x00\n"],
    ids=["no-final-newline", "trailing-blank-line", "tab", "nul"],
)
def test_sign_rejects_bad_text(text: str) -> None:
    with pytest.raises(MalformedError):
        sign_note(text, [PETER])


# --- Malformed keys -----------------------------------------------------------

PETER_VKEY = GO_KEYS["PeterNeumann"]["vkey"]
PETER_PUB = GO_VERIFIERS["PeterNeumann"].public_key

MALFORMED_VKEYS = {
    "empty": "",
    "name-only": "PeterNeumann",
    "no-key": "PeterNeumann+c74f20a3",
    "empty-name": "+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",
    "name-with-space": ed25519_vkey("Peter Neumann", PETER_PUB),
    "uppercase-id": PETER_VKEY.replace("c74f20a3", "C74F20A3"),
    "short-id": PETER_VKEY.replace("c74f20a3", "c74f20a"),
    "long-id": PETER_VKEY.replace("c74f20a3", "0c74f20a3"),
    "non-hex-id": PETER_VKEY.replace("c74f20a3", "c74f20ag"),
    "signed-hex-id": PETER_VKEY.replace("c74f20a3", "-74f20a3"),
    "bad-base64": PETER_VKEY + "!",
    "base64-missing-padding": "x+00000000+AQ",
    "empty-key": "PeterNeumann+c74f20a3+",
    "type-only": "x+00000000+AQ==",
    "ed25519-31-bytes": ed25519_vkey("x", PETER_PUB[:31]),
    "ed25519-33-bytes": ed25519_vkey("x", PETER_PUB + b"\x00"),
    "unknown-type-0x00": f"x+{key_id('x', 0, PETER_PUB):08x}+"
    + base64.b64encode(b"\x00" + PETER_PUB).decode(),
    "cosignature-type-0x04": COSIG["witness_vkey"],
    "ecdsa-not-der": _ecdsa_vkey("x", PETER_PUB),
    "ecdsa-ed25519-spki": _ecdsa_vkey(
        "x",
        ed25519.Ed25519PrivateKey.generate()
        .public_key()
        .public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
    ),
}


@pytest.mark.parametrize("vkey", MALFORMED_VKEYS.values(), ids=MALFORMED_VKEYS.keys())
def test_malformed_vkey_rejected(vkey: str) -> None:
    with pytest.raises(MalformedError):
        parse_verifier(vkey)


PETER_SKEY = GO_KEYS["PeterNeumann"]["skey"]

MALFORMED_SKEYS = {
    "vkey-not-skey": PETER_VKEY,
    "lowercase-prefix": PETER_SKEY.replace("PRIVATE+KEY", "private+key"),
    "uppercase-id": PETER_SKEY.replace("c74f20a3", "C74F20A3"),
    "name-with-plus": "PRIVATE+KEY+" + PETER_SKEY[len("PRIVATE+KEY+") :].replace("Peter", "P+"),
    "ed25519-31-byte-seed": _skey("x", ALG_ED25519, b"\x00" * 31),
    "unknown-type": _skey("x", 0x7F, b"\x00" * 32),
    "bad-base64": PETER_SKEY + "*",
}


@pytest.mark.parametrize("skey", MALFORMED_SKEYS.values(), ids=MALFORMED_SKEYS.keys())
def test_malformed_skey_rejected(skey: str) -> None:
    with pytest.raises(MalformedError):
        parse_signer(skey)


@pytest.mark.parametrize("name", ["", "two words", "a+b", "tab\tname", "lone\udc80surrogate"])
def test_generate_signer_rejects_bad_name(name: str) -> None:
    with pytest.raises(MalformedError):
        generate_signer(name)


def test_verifier_key_string_round_trips() -> None:
    signer = generate_signer("example.com/log")
    verifier = signer.verifier()
    assert isinstance(verifier, Verifier)
    assert parse_verifier(verifier.vkey) == verifier
    assert parse_signer(signer.skey).verifier() == verifier


# --- Properties: arbitrary input raises MalformedError or parses ---------------


def _mutations(seed: bytes) -> st.SearchStrategy[bytes]:
    """Byte strings near ``seed``: a slice replaced by arbitrary bytes."""
    return st.tuples(st.integers(0, len(seed)), st.integers(0, 8), st.binary(max_size=8)).map(
        lambda t: seed[: t[0]] + t[2] + seed[t[0] + t[1] :]
    )


def _text(seed: str) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(),
        st.binary().map(lambda b: b.decode("utf-8", "surrogateescape")),
        _mutations(seed.encode()).map(lambda b: b.decode("utf-8", "surrogateescape")),
    )


@given(
    st.one_of(
        st.binary(),
        _mutations(GOLDEN),
        _mutations(SPEC["signed_note_example"]["note"].encode()),
    )
)
def test_parse_note_raises_only_malformed(data: bytes) -> None:
    with contextlib.suppress(MalformedError):
        parse_note(data)


@given(st.one_of(_mutations(GOLDEN), _mutations(GO["signed_notes"][1]["note"].encode())))
def test_open_note_raises_only_malformed_or_invalid(data: bytes) -> None:
    with contextlib.suppress(MalformedError, InvalidSignature):
        open_note(data, [PETER.verifier(), ENOCH.verifier()])


@given(
    st.one_of(
        _text(PETER_VKEY),
        st.tuples(st.sampled_from([0x01, 0x02, 0x04]), st.binary(max_size=120)).map(
            lambda t: "x+00000000+" + base64.b64encode(bytes([t[0]]) + t[1]).decode()
        ),
    )
)
def test_parse_verifier_raises_only_malformed(vkey: str) -> None:
    with contextlib.suppress(MalformedError):
        parse_verifier(vkey)


@given(
    st.one_of(
        _text(PETER_SKEY),
        st.tuples(st.sampled_from([0x01, 0x02]), st.binary(max_size=160)).map(
            lambda t: _skey("x", t[0], t[1])
        ),
    )
)
def test_parse_signer_raises_only_malformed(skey: str) -> None:
    with contextlib.suppress(MalformedError):
        parse_signer(skey)
