"""The GBCS §12 certificate profile: SMKI vocabulary, families and the profile lint.

The rules are those SMKI.md ("Certificate profile") gathers from GBCS §12 and the
public test certificates. :func:`lint` runs every check that applies to a
certificate's family and reports, per check, its problems ("error", "warning")
or a single "ok" finding, so a page can show the whole list.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import ExtensionOID, NameOID

from generator.errors import MalformedError
from generator.site import der

# Remote Party Role codes, carried as the subject OU (GBCS §12; SMKI.md).
ROLE_NAMES = {
    "00": "root",
    "01": "recovery",
    "02": "supplier",
    "03": "networkOperator",
    "04": "accessControlBroker",
    "05": "transitionalCoS",
    "06": "wanProvider",
    "07": "issuingAuthority",
    "08": "loadController",
    "7F": "other",
}
ROLE_LABELS = {
    "00": "Root",
    "01": "Recovery",
    "02": "Supplier",
    "03": "Network Operator",
    "04": "Access Control Broker",
    "05": "Transitional CoS",
    "06": "WAN Provider",
    "07": "Issuing Authority",
    "08": "Load Controller",
    "7F": "Other",
}
FAMILIES = ("ca", "organisation", "device", "other")

OID_HARDWARE_MODULE_NAME = "1.3.6.1.5.5.7.8.4"  # id-on-hardwareModuleName, RFC 4108 §5
OID_ECDSA_WITH_SHA256 = "1.2.840.10045.4.3.2"  # RFC 5758 §3.2
NO_WELL_DEFINED_EXPIRY = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # RFC 5280 §4.1.2.5
KEY_ID_OCTETS = 8  # SKI and AKI (GBCS §12)
SERIAL_OCTETS = 16  # "16 random octets, positive" (GBCS §12)
EUI64_OCTETS = 8
ORGANISATION_VALIDITY = timedelta(days=3653)  # "about 10 years": ten, with three leap days

PROFILE_EXTENSIONS = frozenset(
    {
        ExtensionOID.KEY_USAGE,
        ExtensionOID.BASIC_CONSTRAINTS,
        ExtensionOID.CERTIFICATE_POLICIES,
        ExtensionOID.SUBJECT_KEY_IDENTIFIER,
        ExtensionOID.AUTHORITY_KEY_IDENTIFIER,
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME,
    }
)
ATTRIBUTE_NAMES = {
    NameOID.COMMON_NAME: "CN",
    NameOID.ORGANIZATIONAL_UNIT_NAME: "OU",
    NameOID.ORGANIZATION_NAME: "O",
    NameOID.COUNTRY_NAME: "C",
    NameOID.LOCALITY_NAME: "L",
    NameOID.STATE_OR_PROVINCE_NAME: "ST",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.X500_UNIQUE_IDENTIFIER: "x500UniqueIdentifier",
}


@dataclass(frozen=True)
class LintFinding:
    """One result of the profile lint: level "error", "warning" or "ok"."""

    level: str
    code: str
    message: str


@dataclass(frozen=True)
class CertificateFacts:
    """What the lint needs, read once from a certificate that cryptography loaded."""

    cert: x509.Certificate
    parts: der.CertificateParts
    extensions: x509.Extensions
    family: str
    is_p256: bool
    not_before: datetime
    not_after: datetime
    hardware_serials: tuple[bytes | None, ...]


def key_identifier(public_key_bits: bytes) -> bytes:
    """The 8-octet key identifier of RFC 5280 §4.2.1.2 method (2), as GBCS §12 uses.

    A 0100 nibble, then the low 60 bits of SHA-1 over the subjectPublicKey BIT
    STRING value (without tag, length and unused-bits octet).
    """
    digest = hashlib.sha1(public_key_bits).digest()
    return bytes([0x40 | (digest[-8] & 0x0F)]) + digest[-7:]


def format_eui64(octets: bytes) -> str:
    """An EUI-64 as 8 hyphenated upper-case hex pairs: 90-B3-D5-1F-30-01-00-00."""
    return "-".join(f"{b:02X}" for b in octets)


def oid_name(oid: x509.ObjectIdentifier) -> str:
    """An OID's conventional name where cryptography knows one, else its dotted form."""
    name = oid._name
    return oid.dotted_string if not name or name == "Unknown OID" else name


_E = TypeVar("_E", bound=x509.ExtensionType)


def find_extension(extensions: x509.Extensions, kind: type[_E]) -> x509.Extension[_E] | None:
    """The extension of class ``kind``, or None."""
    try:
        return extensions.get_extension_for_class(kind)
    except x509.ExtensionNotFound:
        return None


def key_usage_names(usage: x509.KeyUsage) -> tuple[str, ...]:
    """The keyUsage bits that are set, by their RFC 5280 §4.2.1.3 names."""
    flags = [
        ("digitalSignature", usage.digital_signature),
        ("contentCommitment", usage.content_commitment),
        ("keyEncipherment", usage.key_encipherment),
        ("dataEncipherment", usage.data_encipherment),
        ("keyAgreement", usage.key_agreement),
        ("keyCertSign", usage.key_cert_sign),
        ("cRLSign", usage.crl_sign),
    ]
    if usage.key_agreement:  # the two bits below are only defined with keyAgreement
        flags += [("encipherOnly", usage.encipher_only), ("decipherOnly", usage.decipher_only)]
    return tuple(name for name, on in flags if on)


def usage_code(key_usage: tuple[str, ...]) -> str | None:
    """The usage code: DS for exactly digitalSignature, KA for exactly keyAgreement."""
    usages: dict[tuple[str, ...], str] = {("digitalSignature",): "DS", ("keyAgreement",): "KA"}
    return usages.get(key_usage)


def hardware_serials(san: x509.SubjectAlternativeName | None) -> tuple[bytes | None, ...]:
    """The hwSerialNum of each hardwareModuleName in ``san`` (None where malformed)."""
    serials: list[bytes | None] = []
    for other in san.get_values_for_type(x509.OtherName) if san else []:
        if other.type_id.dotted_string == OID_HARDWARE_MODULE_NAME:
            try:
                serials.append(der.hardware_module_name(other.value)[1])
            except MalformedError:
                serials.append(None)
    return tuple(serials)


def family(cert: x509.Certificate, extensions: x509.Extensions, hardware_names: int) -> str:
    """The SMKI family the profile puts a certificate in (GBCS §12; SMKI.md).

    CA:TRUE makes a CA; an empty subject with a hardwareModuleName a Device; a
    subject with an OU and an x500UniqueIdentifier an Organisation; else "other".
    """
    constraints = find_extension(extensions, x509.BasicConstraints)
    if constraints is not None and constraints.value.ca:
        return "ca"
    if not cert.subject.rdns and hardware_names:
        return "device"
    oids = {attribute.oid for attribute in cert.subject}
    if {NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.X500_UNIQUE_IDENTIFIER} <= oids:
        return "organisation"
    return "other"


def role_code(cert: x509.Certificate, family: str) -> str | None:
    """The Remote Party Role code: the subject OU of a CA or Organisation certificate."""
    if family not in ("ca", "organisation"):
        return None
    units = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    return units[0].value if units and isinstance(units[0].value, str) else None


def role_name(code: str) -> str:
    """The role's GBCS name ("supplier"), or "unknown (87)" for a code not in the list."""
    return ROLE_NAMES.get(code, f"unknown ({code[:32]})")


def eui64(facts: CertificateFacts) -> str | None:
    """The EUI-64 of an Organisation (x500UniqueIdentifier) or a Device (hwSerialNum)."""
    if facts.family == "organisation":
        for uid in facts.cert.subject.get_attributes_for_oid(NameOID.X500_UNIQUE_IDENTIFIER):
            value = uid.value  # BIT STRING contents: the unused-bits octet, which must be 0
            if isinstance(value, bytes) and len(value) == 1 + EUI64_OCTETS and value[0] == 0:
                return format_eui64(value[1:])
    if facts.family == "device":
        for serial in facts.hardware_serials:
            if serial is not None and len(serial) == EUI64_OCTETS:
                return format_eui64(serial)
    return None


# --- the checks: each yields (level, message) problems; none means "ok" -----------

_Problem = tuple[str, str]


def _check_version(f: CertificateFacts) -> Iterator[_Problem]:
    """X.509 v3 (RFC 5280 §4.1.2.1)."""
    if f.cert.version != x509.Version.v3:
        yield "error", "not X.509 v3 (RFC 5280 §4.1.2.1)"


def _check_key(f: CertificateFacts) -> Iterator[_Problem]:
    """EC P-256 with an uncompressed point."""
    bits = f.parts.public_key_bits
    if not f.is_p256:
        yield "error", "the subject key is not EC P-256"
    elif len(bits) != 65 or bits[0] != 0x04:
        yield "error", "the P-256 point is not uncompressed"


def _check_signature_algorithm(f: CertificateFacts) -> Iterator[_Problem]:
    """ecdsa-with-SHA256 without parameters, the same inside and outside the TBS."""
    if f.cert.signature_algorithm_oid.dotted_string != OID_ECDSA_WITH_SHA256:
        yield "error", f"signed with {oid_name(f.cert.signature_algorithm_oid)}"
    elif not f.parts.signature_parameters_absent:
        yield "error", "ecdsa-with-SHA256 has parameters (RFC 5758 §3.2: absent)"
    if not f.parts.signature_algorithms_match:
        yield (
            "error",
            "tbsCertificate.signature differs from signatureAlgorithm (RFC 5280 §4.1.1.2)",
        )


def _check_serial(f: CertificateFacts) -> Iterator[_Problem]:
    """Positive (RFC 5280 §4.1.2.2), at most, and ideally exactly, 16 octets."""
    serial = f.cert.serial_number
    octets = serial.bit_length() // 8 + 1  # DER INTEGER contents length of a positive value
    if serial <= 0:
        yield "error", "the serial number is not positive (RFC 5280 §4.1.2.2)"
    elif octets > SERIAL_OCTETS:
        yield "error", f"the serial number is {octets} octets; at most {SERIAL_OCTETS}"
    elif octets != SERIAL_OCTETS:
        yield "warning", f"the serial number is {octets} octets, not {SERIAL_OCTETS}"


def _check_subject_key_identifier(f: CertificateFacts) -> Iterator[_Problem]:
    """Present, non-critical (RFC 5280 §4.2.1.2), 8 octets, computed by method (2)."""
    ski = find_extension(f.extensions, x509.SubjectKeyIdentifier)
    if ski is None:
        yield "error", "no subjectKeyIdentifier"
        return
    if ski.critical:
        yield "error", "subjectKeyIdentifier is critical (RFC 5280 §4.2.1.2)"
    if len(ski.value.digest) != KEY_ID_OCTETS:
        yield "error", f"subjectKeyIdentifier is {len(ski.value.digest)} octets, not 8"
    expected = key_identifier(f.parts.public_key_bits)
    if ski.value.digest != expected:
        yield "error", f"subjectKeyIdentifier is not method (2): expected {expected.hex().upper()}"


def _check_authority_key_identifier(f: CertificateFacts) -> Iterator[_Problem]:
    """Present (optional on a self-signed root), non-critical, an 8-octet keyIdentifier."""
    aki = find_extension(f.extensions, x509.AuthorityKeyIdentifier)
    if aki is None:
        root = f.family == "ca" and f.cert.subject == f.cert.issuer
        yield ("warning" if root else "error"), "no authorityKeyIdentifier (RFC 5280 §4.2.1.1)"
        return
    key_id = aki.value.key_identifier
    if aki.critical:
        yield "error", "authorityKeyIdentifier is critical (RFC 5280 §4.2.1.1)"
    if key_id is None or len(key_id) != KEY_ID_OCTETS:
        yield "error", "authorityKeyIdentifier has no keyIdentifier of 8 octets"
    if aki.value.authority_cert_issuer or aki.value.authority_cert_serial_number is not None:
        yield "warning", "authorityKeyIdentifier carries more than the keyIdentifier"


def _check_key_usage(f: CertificateFacts) -> Iterator[_Problem]:
    """Critical; keyCertSign + cRLSign on a CA, else exactly one of DS and KA."""
    usage = find_extension(f.extensions, x509.KeyUsage)
    if usage is None:
        yield "error", "no keyUsage"
        return
    if not usage.critical:
        yield "error", "keyUsage is not critical"
    names = set(key_usage_names(usage.value))
    if f.family == "ca" and names != {"keyCertSign", "cRLSign"}:
        yield "error", "a CA's keyUsage must be exactly keyCertSign + cRLSign"
    if f.family != "ca" and names not in ({"digitalSignature"}, {"keyAgreement"}):
        yield "error", "keyUsage must be exactly one of digitalSignature, keyAgreement"


def _check_basic_constraints(f: CertificateFacts) -> Iterator[_Problem]:
    """CA:TRUE and critical on a CA (RFC 5280 §4.2.1.9); absent on an end entity."""
    constraints = find_extension(f.extensions, x509.BasicConstraints)
    if f.family == "ca" and constraints is not None and not constraints.critical:
        yield "error", "basicConstraints is not critical (RFC 5280 §4.2.1.9)"
    if f.family != "ca" and constraints is not None:
        yield "error", "an end-entity certificate carries basicConstraints"


def _check_policies(f: CertificateFacts) -> Iterator[_Problem]:
    """certificatePolicies critical, with exactly one policy OID."""
    policies = find_extension(f.extensions, x509.CertificatePolicies)
    if policies is None:
        yield "error", "no certificatePolicies"
        return
    if not policies.critical:
        yield "error", "certificatePolicies is not critical"
    if len(policies.value) != 1:
        yield "error", f"{len(policies.value)} policy OIDs, not exactly one"


def _check_extensions(f: CertificateFacts) -> Iterator[_Problem]:
    """No unknown critical extension (RFC 5280 §4.2); unknown others are noted."""
    for ext in f.extensions:
        if ext.oid not in PROFILE_EXTENSIONS:
            if ext.critical:
                yield "error", f"unknown critical extension {oid_name(ext.oid)} (RFC 5280 §4.2)"
            else:
                yield "warning", f"extension {oid_name(ext.oid)} is not in the GBCS profile"


def _check_issuer_name(f: CertificateFacts) -> Iterator[_Problem]:
    """Non-empty (RFC 5280 §4.1.2.4), every attribute a PrintableString."""
    if not f.cert.issuer.rdns:
        yield "error", "the issuer name is empty (RFC 5280 §4.1.2.4)"
    types = sorted({a._type.name for a in f.cert.issuer} - {"PrintableString"})
    if types:
        yield "error", f"the issuer name uses {', '.join(types)}, not PrintableString"


def _check_validity(f: CertificateFacts) -> Iterator[_Problem]:
    """notBefore < notAfter; Devices never expire; Organisations last about 10 years."""
    if f.not_before >= f.not_after:
        yield "error", "notBefore is not before notAfter"
    if f.family == "device" and f.not_after != NO_WELL_DEFINED_EXPIRY:
        yield "error", "a Device certificate's notAfter must be 99991231235959Z"
    if f.family == "organisation" and f.not_after - f.not_before > ORGANISATION_VALIDITY:
        yield "warning", f"valid for about {(f.not_after - f.not_before).days // 365} years"


def _check_subject(f: CertificateFacts) -> Iterator[_Problem]:
    """Organisation: [CN,] OU (2 upper-case hex), x500UniqueIdentifier; CA: PrintableString."""
    subject = f.cert.subject
    if f.family == "other":
        yield "error", "fits no family: not CA:TRUE, no OU + x500UniqueIdentifier, no device SAN"
    if f.family == "ca" and (
        not subject.rdns or any(a._type != _ASN1Type.PrintableString for a in subject)
    ):
        yield "error", "a CA subject (the issuer name of what it signs) must be PrintableString"
    if f.family == "ca":
        yield from _check_role(f)
    if f.family != "organisation":
        return
    if any(len(rdn) != 1 for rdn in subject.rdns):
        yield "error", "the subject has a multi-valued RDN"
    order = [a.oid for a in subject]
    tail = [NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.X500_UNIQUE_IDENTIFIER]
    if order not in (tail, [NameOID.COMMON_NAME, *tail]):
        names = ", ".join(ATTRIBUTE_NAMES.get(o, o.dotted_string) for o in order)
        yield "error", f"the subject is {names}, not [CN,] OU, x500UniqueIdentifier"
    for unit in subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME):
        code = unit.value
        if not (isinstance(code, str) and len(code) == 2 and set(code) <= set("0123456789ABCDEF")):
            yield "error", "the OU is not a role code of 2 upper-case hex digits"


def _check_role(f: CertificateFacts) -> Iterator[_Problem]:
    """A known Remote Party Role code in the OU (a CA may have no OU)."""
    code = role_code(f.cert, f.family)
    if f.family == "organisation" and code is None:
        yield "error", "no Remote Party Role (OU)"
    if code is not None and code not in ROLE_NAMES:
        yield "error", f"unknown Remote Party Role code {code[:32]!r}"


def _check_eui64(f: CertificateFacts) -> Iterator[_Problem]:
    """An 8-octet EUI-64 in the x500UniqueIdentifier (0x00 ‖ 8 octets) or hwSerialNum."""
    if eui64(f) is None:
        where = "x500UniqueIdentifier BIT STRING" if f.family == "organisation" else "hwSerialNum"
        yield "error", f"no 8-octet EUI-64 in the {where}"


def _check_subject_alt_name(f: CertificateFacts) -> Iterator[_Problem]:
    """Devices: critical, exactly one hardwareModuleName (RFC 4108 §5); others: none."""
    san = find_extension(f.extensions, x509.SubjectAlternativeName)
    if f.family != "device":
        if san is not None:
            yield "warning", "a subjectAltName outside a Device certificate"
        return
    if san is None or not san.critical:
        yield "error", "subjectAltName must be present and critical"
    elif len(san.value) != 1 or len(f.hardware_serials) != 1:
        yield "error", "subjectAltName must hold exactly one hardwareModuleName"
    if None in f.hardware_serials:
        yield "error", "the hardwareModuleName is malformed (RFC 4108 §5)"


_ALL = frozenset(FAMILIES)
_CA = frozenset({"ca"})
_END_ENTITY = _ALL - _CA
_Check = Callable[[CertificateFacts], Iterator[_Problem]]

CHECKS: tuple[tuple[str, frozenset[str], str, _Check], ...] = (
    ("version", _ALL, "X.509 v3", _check_version),
    ("key", _ALL, "EC P-256, uncompressed point", _check_key),
    ("signature-algorithm", _ALL, "ecdsa-with-SHA256, no parameters", _check_signature_algorithm),
    ("serial", _ALL, "positive, 16 octets", _check_serial),
    ("subject-key-identifier", _ALL, "8 octets, method (2)", _check_subject_key_identifier),
    ("authority-key-identifier", _ALL, "8-octet keyIdentifier", _check_authority_key_identifier),
    ("key-usage", _CA, "critical, keyCertSign + cRLSign", _check_key_usage),
    ("key-usage", _END_ENTITY, "critical, digitalSignature or keyAgreement", _check_key_usage),
    ("basic-constraints", _CA, "CA:TRUE, critical", _check_basic_constraints),
    ("basic-constraints", _END_ENTITY, "absent", _check_basic_constraints),
    ("certificate-policies", _ALL, "critical, one policy OID", _check_policies),
    ("extensions", _ALL, "only profile extensions", _check_extensions),
    ("issuer-name", _ALL, "PrintableString", _check_issuer_name),
    ("validity", _ALL, "as the profile expects", _check_validity),
    ("subject-name", _ALL, "as the profile orders it", _check_subject),
    ("role", frozenset({"organisation"}), "a known Remote Party Role", _check_role),
    ("eui-64", frozenset({"organisation", "device"}), "8-octet EUI-64", _check_eui64),
    ("subject-alt-name", _ALL, "as the profile expects", _check_subject_alt_name),
)
"""The profile checks, in display order: (code, families it applies to, ok text, check)."""


def lint(facts: CertificateFacts) -> tuple[LintFinding, ...]:
    """Run every check that applies to the family: its problems, or one "ok" finding."""
    findings: list[LintFinding] = []
    for code, families, ok, check in CHECKS:
        if facts.family in families:
            problems = [LintFinding(level, code, message) for level, message in check(facts)]
            findings += problems or [LintFinding("ok", code, ok)]
    return tuple(findings)
