"""C2SP signed-note: notes, signer and verifier keys, Ed25519 and ECDSA P-256.

A note is UTF-8 text ending in a newline, a blank line, then one or more
signature lines ``— <name> base64(key ID ‖ signature)`` (C2SP signed-note §Format).
A verifier key string is ``<name>+<hex key ID>+base64(<type> ‖ <public key>)``;
a signer key string is Go's ``PRIVATE+KEY+<name>+<hex key ID>+base64(<type> ‖ <key>)``.

Signature types (C2SP signed-note §Signature types):

* ``0x01`` Ed25519: key ID = SHA-256(name ‖ 0x0A ‖ 0x01 ‖ 32-byte public key)[:4].
* ``0x02`` ECDSA P-256 (transparency-dev/witness): the public key is the DER
  SubjectPublicKeyInfo, key ID = SHA-256(SPKI DER)[:4], the signature is ASN.1 DER
  over SHA-256 of the note text. Its private key string (not defined by Go) is
  ``PRIVATE+KEY+<name>+<hex id>+base64(0x02 ‖ PKCS#8 DER)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature as _CryptoInvalidSignature
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from generator.tlog.errors import InvalidSignature, MalformedError

ALG_ED25519 = 0x01
ALG_ECDSA = 0x02
ALG_COSIGNATURE = 0x04  # C2SP tlog-cosignature; ignored by a log-key verifier

ALGORITHM_NAMES = {ALG_ED25519: "Ed25519", ALG_ECDSA: "ECDSA P-256"}

MAX_NOTE_SIZE = 1 << 20
"""Largest note accepted, in bytes (bounds text lines as well as signatures)."""

MAX_SIGNATURES = 100
"""Most signature lines accepted (the spec asks for at least 16; Go allows 100)."""

_SIG_PREFIX = "— "


def is_valid_name(name: str) -> bool:
    """Report whether ``name`` may be a key name: non-empty UTF-8, no spaces, no ``+``."""
    if not name or "+" in name or any(c.isspace() for c in name):
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: not representable in a note
        return False
    return True


def key_id(name: str, alg: int, public_key: bytes) -> int:
    """The uint32 key ID of a key (C2SP signed-note §Signatures, per type)."""
    if alg == ALG_ECDSA:
        digest = hashlib.sha256(public_key).digest()
    else:
        digest = hashlib.sha256(name.encode() + b"\n" + bytes([alg]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def _b64decode(text: str, what: str) -> bytes:
    # RFC 4648 §4 with padding, as Go's base64.StdEncoding: whole 4-character
    # quanta only (Python alone would accept "AAAA=" or "AAAA==").
    if len(text) % 4:
        raise MalformedError(f"{what}: invalid base64")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedError(f"{what}: invalid base64") from None


@dataclass(frozen=True)
class Verifier:
    """A public key that checks signatures on notes under one (name, key ID)."""

    name: str
    key_id: int
    alg: int
    public_key: bytes  # Ed25519: 32 raw bytes; ECDSA: SPKI DER
    _key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey = field(
        repr=False, compare=False
    )

    @property
    def algorithm(self) -> str:
        """Human name of the signature algorithm."""
        return ALGORITHM_NAMES[self.alg]

    @property
    def vkey(self) -> str:
        """The verifier key string ``name+hexid+base64(type ‖ key)``."""
        encoded = base64.b64encode(bytes([self.alg]) + self.public_key).decode()
        return f"{self.name}+{self.key_id:08x}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        """Report whether ``signature`` (without the key ID) signs ``message``."""
        try:
            if isinstance(self._key, ed25519.Ed25519PublicKey):
                self._key.verify(signature, message)
            else:
                self._key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        except (_CryptoInvalidSignature, ValueError):
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """A private key that signs notes under one (name, key ID)."""

    name: str
    key_id: int
    alg: int
    _key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey = field(
        repr=False, compare=False
    )

    def sign(self, message: bytes) -> bytes:
        """Sign ``message``; the result excludes the 4-byte key ID."""
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            return self._key.sign(message)
        return self._key.sign(message, ec.ECDSA(hashes.SHA256()))

    def verifier(self) -> Verifier:
        """The matching verifier."""
        return _make_verifier(self.name, self.alg, _public_bytes(self._key))

    @property
    def skey(self) -> str:
        """The private key string ``PRIVATE+KEY+name+hexid+base64(type ‖ key)``."""
        if isinstance(self._key, ed25519.Ed25519PrivateKey):
            raw = self._key.private_bytes(
                serialization.Encoding.Raw,
                serialization.PrivateFormat.Raw,
                serialization.NoEncryption(),
            )
        else:
            raw = self._key.private_bytes(
                serialization.Encoding.DER,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        encoded = base64.b64encode(bytes([self.alg]) + raw).decode()
        return f"PRIVATE+KEY+{self.name}+{self.key_id:08x}+{encoded}"


def _public_bytes(key: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey) -> bytes:
    return _public_bytes_of(key.public_key())


def _public_bytes_of(key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey) -> bytes:
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _make_verifier(name: str, alg: int, public_key: bytes) -> Verifier:
    key: ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey
    if alg == ALG_ED25519:
        if len(public_key) != 32:
            raise MalformedError("Ed25519 verifier key must be 32 bytes")
        key = ed25519.Ed25519PublicKey.from_public_bytes(public_key)
    elif alg == ALG_ECDSA:
        try:
            loaded = serialization.load_der_public_key(public_key)
        except (ValueError, UnsupportedAlgorithm):
            raise MalformedError("ECDSA verifier key is not a DER public key") from None
        if not isinstance(loaded, ec.EllipticCurvePublicKey) or not isinstance(
            loaded.curve, ec.SECP256R1
        ):
            raise MalformedError("ECDSA verifier key must be on NIST P-256")
        # One key, one key ID: only the uncompressed SPKI that Go's x509 accepts.
        if _public_bytes_of(loaded) != public_key:
            raise MalformedError("ECDSA verifier key is not an uncompressed DER SPKI")
        key = loaded
    else:
        raise MalformedError(f"unknown signature type 0x{alg:02x} in verifier key")
    return Verifier(name, key_id(name, alg, public_key), alg, public_key, key)


def _split_key_fields(text: str, what: str) -> tuple[str, int, bytes]:
    name, sep, rest = text.partition("+")
    id_hex, sep2, key64 = rest.partition("+")
    if not sep or not sep2:
        raise MalformedError(f"{what}: want name+hexid+base64key")
    if not is_valid_name(name):
        raise MalformedError(f"{what}: invalid key name {name!r}")
    if len(id_hex) != 8 or any(c not in "0123456789abcdef" for c in id_hex):
        raise MalformedError(f"{what}: key ID must be 8 lower-case hex digits")
    key = _b64decode(key64, what)
    if not key:
        raise MalformedError(f"{what}: empty key")
    return name, int(id_hex, 16), key


def parse_verifier(vkey: str) -> Verifier:
    """Parse a verifier key string; the key ID must match the key (C2SP signed-note)."""
    name, kid, key = _split_key_fields(vkey.strip(), "verifier key")
    verifier = _make_verifier(name, key[0], key[1:])
    if verifier.key_id != kid:
        raise MalformedError(f"verifier key {name}: key ID {kid:08x} does not match the key")
    return verifier


def parse_signer(skey: str) -> Signer:
    """Parse a ``PRIVATE+KEY+…`` signer key string."""
    text = skey.strip()
    if not text.startswith("PRIVATE+KEY+"):
        raise MalformedError("private key: must start with PRIVATE+KEY+")
    name, kid, key = _split_key_fields(text[len("PRIVATE+KEY+") :], "private key")
    alg, raw = key[0], key[1:]
    private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    if alg == ALG_ED25519:
        if len(raw) != 32:
            raise MalformedError("private key: Ed25519 seed must be 32 bytes")
        private = ed25519.Ed25519PrivateKey.from_private_bytes(raw)
    elif alg == ALG_ECDSA:
        try:
            loaded = serialization.load_der_private_key(raw, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):  # TypeError: encrypted
            raise MalformedError("private key: ECDSA key is not unencrypted PKCS#8 DER") from None
        if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(
            loaded.curve, ec.SECP256R1
        ):
            raise MalformedError("private key: ECDSA key must be on NIST P-256")
        private = loaded
    else:
        raise MalformedError(f"private key: unknown signature type 0x{alg:02x}")
    signer = Signer(name, key_id(name, alg, _public_bytes(private)), alg, private)
    if signer.key_id != kid:
        raise MalformedError(f"private key {name}: key ID {kid:08x} does not match the key")
    return signer


def generate_signer(name: str, *, ecdsa: bool = False) -> Signer:
    """Make a new random key pair named ``name``."""
    if not is_valid_name(name):
        raise MalformedError(f"invalid key name {name!r}: no spaces or '+' allowed")
    private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
    if ecdsa:
        private, alg = ec.generate_private_key(ec.SECP256R1()), ALG_ECDSA
    else:
        private, alg = ed25519.Ed25519PrivateKey.generate(), ALG_ED25519
    return Signer(name, key_id(name, alg, _public_bytes(private)), alg, private)


@dataclass(frozen=True)
class Signature:
    """One signature line of a note."""

    name: str
    key_id: int
    signature: bytes  # without the key ID

    @property
    def line(self) -> str:
        """The signature line, without its newline."""
        blob = base64.b64encode(self.key_id.to_bytes(4, "big") + self.signature).decode()
        return f"{_SIG_PREFIX}{self.name} {blob}"


@dataclass(frozen=True)
class Note:
    """A parsed note: its text and signature lines (nothing verified yet)."""

    text: str
    signatures: tuple[Signature, ...]

    def to_bytes(self) -> bytes:
        """The note in its wire form."""
        return format_note(self.text, self.signatures)


@dataclass(frozen=True)
class VerifiedNote:
    """A note whose text is vouched for by the ``verified`` signatures."""

    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]

    @property
    def signers(self) -> tuple[tuple[str, int], ...]:
        """(name, key ID) of each verified signature."""
        return tuple((s.name, s.key_id) for s in self.verified)


def _check_text(text: str, what: str) -> None:
    for ch in text:
        if ch < " " and ch != "\n":
            raise MalformedError(f"{what}: control character U+{ord(ch):04X} not allowed")


def parse_note(data: bytes) -> Note:
    """Split a note into text and signatures, rejecting malformed notes (C2SP signed-note).

    Nothing is verified: use :func:`open_note` for that.
    """
    if len(data) > MAX_NOTE_SIZE:
        raise MalformedError(f"note: larger than {MAX_NOTE_SIZE} bytes")
    try:
        msg = data.decode("utf-8")
    except UnicodeDecodeError:
        raise MalformedError("note: not valid UTF-8") from None
    _check_text(msg, "note")
    split = msg.rfind("\n\n")
    if split < 0:
        raise MalformedError("note: no blank line before the signatures")
    text, block = msg[: split + 1], msg[split + 2 :]
    if not block or not block.endswith("\n"):
        raise MalformedError("note: no signature lines, or they do not end in a newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedError(f"note: more than {MAX_SIGNATURES} signatures")
    return Note(text, tuple(_parse_signature_line(line) for line in lines))


def _parse_signature_line(line: str) -> Signature:
    if not line.startswith(_SIG_PREFIX):
        raise MalformedError("note: signature line does not start with '— '")
    name, sep, blob = line[len(_SIG_PREFIX) :].partition(" ")
    if not sep or not is_valid_name(name):
        raise MalformedError(f"note: malformed signature line for {name!r}")
    raw = _b64decode(blob, f"note: signature by {name}")
    if len(raw) < 5:
        raise MalformedError(f"note: signature by {name} is too short")
    return Signature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def verify_signatures(
    note: Note, verifiers: Iterable[Verifier], where: str = "note"
) -> VerifiedNote:
    """Check every signature line of ``note`` whose (name, key ID) ``verifiers`` know.

    Signatures from unknown (name, key ID) pairs are kept as unverified (repeated
    identical lines once, as Go's ``note.Open``); a known key whose signature fails
    rejects the whole note (C2SP signed-note §Signatures). No known key need have
    signed: :func:`open_note` adds that rule.
    """
    known = {(v.name, v.key_id): v for v in verifiers}
    message = note.text.encode()
    verified: list[Signature] = []
    unverified: list[Signature] = []
    seen: set[tuple[str, int]] = set()
    for sig in note.signatures:
        verifier = known.get((sig.name, sig.key_id))
        if verifier is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if (sig.name, sig.key_id) in seen:
            continue  # a duplicate of a verified line adds nothing
        if not verifier.verify(message, sig.signature):
            raise InvalidSignature(f"{where}: invalid signature by {sig.name}+{sig.key_id:08x}")
        seen.add((sig.name, sig.key_id))
        verified.append(sig)
    return VerifiedNote(note.text, tuple(verified), tuple(unverified))


def open_note(data: bytes, verifiers: Iterable[Verifier]) -> VerifiedNote:
    """Parse ``data`` and verify it against ``verifiers`` (C2SP signed-note §Signatures).

    As :func:`verify_signatures`, and at least one known key must have signed.
    """
    verifiers = list(verifiers)
    note = verify_signatures(parse_note(data), verifiers)
    if not note.verified:
        names = ", ".join(sorted({v.name for v in verifiers})) or "none"
        raise InvalidSignature(f"note: not signed by any trusted key (trusted: {names})")
    return note


def format_note(text: str, signatures: Sequence[Signature]) -> bytes:
    """The wire form of a note with the given signatures."""
    if not signatures:
        raise MalformedError("note: at least one signature is required")
    body = text + "\n" + "".join(s.line + "\n" for s in signatures)
    return body.encode()


def check_note_text(text: str) -> None:
    """Reject text that cannot be the text of a note (C2SP signed-note §Format)."""
    if not text.endswith("\n"):
        raise MalformedError("note text must end in a newline")
    if "\n\n" in text and text.endswith("\n\n"):
        raise MalformedError("note text must not end in a blank line")
    _check_text(text, "note text")


def sign_text(text: str, signer: Signer) -> Signature:
    """Sign note text with ``signer``."""
    check_note_text(text)
    return Signature(signer.name, signer.key_id, signer.sign(text.encode()))


def sign_note(text: str, signers: Sequence[Signer], existing: Sequence[Signature] = ()) -> bytes:
    """A note of ``text`` carrying ``existing`` signatures plus one from each signer."""
    return format_note(text, [*existing, *(sign_text(text, s) for s in signers)])
