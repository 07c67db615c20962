"""PEM input and a tiny bounded DER reader, for certificates that may be hostile.

cryptography parses certificates and CRLs; this module does what it does not
expose: split PEM (RFC 7468) strictly, walk a certificate to its
SubjectPublicKeyInfo (RFC 5280 §4.1), and decode a HardwareModuleName (RFC 4108
§5). The reader handles definite lengths and low tag numbers only (X.690 §8.1),
bounds every loop, and raises :class:`~generator.errors.MalformedError` on
anything else.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from generator.errors import MalformedError

MAX_ITEMS = 4096
"""Most elements one constructed value may hold."""

MAX_OID_ARC_OCTETS = 16
"""Longest OBJECT IDENTIFIER arc accepted, in octets (no real arc comes near)."""

TAG_BIT_STRING = 0x03
TAG_OCTET_STRING = 0x04
TAG_OID = 0x06
TAG_SEQUENCE = 0x30
TAG_VERSION = 0xA0  # [0] EXPLICIT Version in a tbsCertificate (RFC 5280 §4.1)


def input_der(data: bytes, label: str, limit: int) -> bytes:
    """The DER in ``data``: DER as given, or PEM holding exactly one ``label`` block."""
    if not data:
        raise MalformedError("empty input")
    if len(data) > limit:
        raise MalformedError(f"input is {len(data)} bytes; at most {limit} are accepted")
    if data[0] == TAG_SEQUENCE:
        return bytes(data)
    if b"-----BEGIN " not in data:
        raise MalformedError("neither DER (no leading SEQUENCE) nor PEM (no -----BEGIN line)")
    try:
        text = bytes(data).decode("ascii")
    except UnicodeDecodeError:
        raise MalformedError("PEM input is not ASCII") from None
    blocks = pem_blocks(text)
    if len(blocks) != 1:
        labels = ", ".join(name for name, _ in blocks)
        raise MalformedError(f"PEM: expected one {label} block, found {len(blocks)} ({labels})")
    found, body = blocks[0]
    if found != label:
        raise MalformedError(f"PEM: the block is {found}, not {label}")
    try:
        der = base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise MalformedError(f"PEM: the {label} body is not valid base64") from None
    if not der:
        raise MalformedError(f"PEM: the {label} block is empty")
    return der


def pem_blocks(text: str) -> list[tuple[str, str]]:
    """The (label, base64 body) of each PEM block in ``text`` (RFC 7468 §2), in one pass."""
    blocks: list[tuple[str, str]] = []
    label: str | None = None
    body: list[str] = []
    for raw_line in text.splitlines():
        line = raw_line.strip()
        if label is None:
            if line.startswith("-----BEGIN "):
                if not line.endswith("-----") or len(line) <= len("-----BEGIN -----"):
                    raise MalformedError("PEM: malformed BEGIN line")
                label, body = line[len("-----BEGIN ") : -len("-----")], []
            elif line.startswith("-----END "):
                raise MalformedError("PEM: END line without BEGIN")
        elif line.startswith("-----END "):
            if line != f"-----END {label}-----":
                raise MalformedError(f"PEM: END line does not match BEGIN {label}")
            blocks.append((label, "".join(body)))
            label = None
        elif line.startswith("-----"):
            raise MalformedError(f"PEM: boundary line inside the {label} block")
        else:
            body.append(line)
    if label is not None:
        raise MalformedError(f"PEM: the {label} block has no END line")
    return blocks


def pem_encode(der: bytes, label: str) -> str:
    """``der`` as one canonical PEM block (RFC 7468 §2: 64-character lines)."""
    body = base64.b64encode(der).decode("ascii")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "\n".join([f"-----BEGIN {label}-----", *lines, f"-----END {label}-----", ""])


@dataclass(frozen=True)
class Tlv:
    """One DER element: its tag octet, its contents and its whole encoding."""

    tag: int
    content: bytes
    encoded: bytes


def items(data: bytes) -> list[Tlv]:
    """Split ``data`` into consecutive DER elements (X.690 §8.1.1)."""
    found: list[Tlv] = []
    pos = 0
    while pos < len(data):
        if len(found) >= MAX_ITEMS:
            raise MalformedError("DER: too many elements")
        start, tag = pos, data[pos]
        if tag & 0x1F == 0x1F:
            raise MalformedError("DER: high tag numbers are not used here")
        if pos + 1 >= len(data):
            raise MalformedError("DER: length missing")
        first, pos = data[pos + 1], pos + 2
        if first < 0x80:
            length = first
        else:  # X.690 §10.1: definite, minimal long form
            count = first & 0x7F
            if count == 0 or count > 4 or pos + count > len(data):
                raise MalformedError("DER: length is indefinite or too long")
            length = int.from_bytes(data[pos : pos + count], "big")
            if length < 0x80 or data[pos] == 0:
                raise MalformedError("DER: length is not minimal")
            pos += count
        end = pos + length
        if end > len(data):
            raise MalformedError("DER: an element runs past its container")
        found.append(Tlv(tag, data[pos:end], data[start:end]))
        pos = end
    return found


def single(data: bytes, tag: int) -> Tlv:
    """The one DER element that ``data`` holds, which must carry ``tag``."""
    found = items(data)
    if len(found) != 1 or found[0].tag != tag:
        raise MalformedError(f"DER: expected one element with tag 0x{tag:02X}")
    return found[0]


def oid_text(content: bytes) -> str:
    """The dotted form of an OBJECT IDENTIFIER's contents (X.690 §8.19)."""
    if not content or content[-1] & 0x80:
        raise MalformedError("DER: OBJECT IDENTIFIER is empty or truncated")
    arcs: list[int] = []
    value = octets = 0
    for byte in content:
        if octets == 0 and byte == 0x80:
            raise MalformedError("DER: OBJECT IDENTIFIER arc is not minimal")
        value, octets = (value << 7) | (byte & 0x7F), octets + 1
        if octets > MAX_OID_ARC_OCTETS:
            raise MalformedError("DER: OBJECT IDENTIFIER arc is too long")
        if not byte & 0x80:
            arcs.append(value)
            value = octets = 0
    head = min(arcs[0] // 40, 2)  # X.690 §8.19.4: the first two arcs share a subidentifier
    return ".".join(str(arc) for arc in (head, arcs[0] - 40 * head, *arcs[1:]))


def hardware_module_name(value: bytes) -> tuple[str, bytes]:
    """Decode a HardwareModuleName into (hwType OID, hwSerialNum) (RFC 4108 §5).

    ``value`` is the otherName value without its ``[0]`` wrapper, as cryptography
    gives it: ``SEQUENCE { hwType OBJECT IDENTIFIER, hwSerialNum OCTET STRING }``.
    """
    fields = items(single(value, TAG_SEQUENCE).content)
    if len(fields) != 2 or (fields[0].tag, fields[1].tag) != (TAG_OID, TAG_OCTET_STRING):
        raise MalformedError("HardwareModuleName is not SEQUENCE { OID, OCTET STRING }")
    return oid_text(fields[0].content), fields[1].content


@dataclass(frozen=True)
class CertificateParts:
    """What a certificate's DER says that cryptography does not expose."""

    spki: bytes
    public_key_bits: bytes
    signature_parameters_absent: bool
    signature_algorithms_match: bool


def certificate_parts(der: bytes) -> CertificateParts:
    """Walk Certificate → tbsCertificate → SubjectPublicKeyInfo (RFC 5280 §4.1).

    ``public_key_bits`` is the subjectPublicKey BIT STRING value without its
    unused-bits octet; the signature flags compare the outer signatureAlgorithm
    with tbsCertificate.signature (RFC 5280 §4.1.1.2) and look for parameters.
    """
    parts = items(single(der, TAG_SEQUENCE).content)
    if len(parts) != 3 or parts[1].tag != TAG_SEQUENCE:
        raise MalformedError("Certificate is not SEQUENCE { tbs, algorithm, signature }")
    tbs = items(parts[0].content)
    first = 1 if tbs and tbs[0].tag == TAG_VERSION else 0
    if len(tbs) < first + 6:
        raise MalformedError("tbsCertificate is too short")
    spki = tbs[first + 5]
    key_parts = items(spki.content)
    if len(key_parts) != 2 or key_parts[1].tag != TAG_BIT_STRING or not key_parts[1].content:
        raise MalformedError("SubjectPublicKeyInfo is malformed")
    return CertificateParts(
        spki=spki.encoded,
        public_key_bits=key_parts[1].content[1:],
        signature_parameters_absent=len(items(parts[1].content)) == 1,
        signature_algorithms_match=parts[1].encoded == tbs[first + 1].encoded,
    )
