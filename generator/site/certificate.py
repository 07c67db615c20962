"""SMKI-aware views of X.509 certificates and CRLs, for display.

:func:`parse_certificate` and :func:`parse_crl` turn PEM or DER bytes into frozen
views of plain values (no cryptography objects), or an :class:`Unparseable` with a
specific reason: they never raise on hostile input. A certificate view carries its
SMKI family and Remote Party Role, the party's or device's EUI-64, and the GBCS
§12 profile lint of :mod:`generator.site.gbcs`.

Values read from a certificate (names, CNs) are kept verbatim, whatever they
contain: escaping is the template's job.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa
from cryptography.utils import CryptographyDeprecationWarning
from cryptography.x509.oid import NameOID

from generator.errors import MalformedError
from generator.site import der, gbcs
from generator.site.gbcs import LintFinding

__all__ = [
    "BasicConstraints",
    "CertificateView",
    "CrlView",
    "ExtensionEntry",
    "LintFinding",
    "NameEntry",
    "RevokedEntry",
    "Unparseable",
    "ds_ka_sibling_key",
    "find_issuer",
    "issuer_candidates",
    "issuer_key_id",
    "parse_certificate",
    "parse_crl",
    "verify_issued_by",
]

MAX_CERTIFICATE_BYTES = 1 << 17
"""Largest certificate input accepted, PEM or DER (GBCS certificates are < 1 KiB)."""

MAX_CRL_BYTES = 1 << 25
"""Largest CRL input accepted, PEM or DER."""

NO_EXPIRY_TEXT = "no well-defined expiry"
"""How a notAfter of 99991231235959Z is shown (RFC 5280 §4.1.2.5), not as year 9999."""

FAMILY_TITLES = {
    "ca": "CA Certificate",
    "organisation": "Organisation Certificate",
    "device": "Device Certificate",
    "other": "Certificate",
}
USAGE_LABELS = {"DS": "Digital Signature", "KA": "Key Agreement"}

_MAX_REASON = 200
_CURVE_LABELS = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}


@dataclass(frozen=True)
class Unparseable:
    """Input that cannot be shown as a certificate (or CRL), and why."""

    reason: str


@dataclass(frozen=True)
class NameEntry:
    """One attribute of a distinguished name, in DER order; ``rdn`` is its RDN's index."""

    rdn: int
    name: str
    oid: str
    value: str
    string_type: str


@dataclass(frozen=True)
class ExtensionEntry:
    """One extension of a certificate: its name, OID and criticality."""

    name: str
    oid: str
    critical: bool


@dataclass(frozen=True)
class BasicConstraints:
    """The basicConstraints extension (RFC 5280 §4.2.1.9)."""

    ca: bool
    path_length: int | None


@dataclass(frozen=True)
class CertificateView:
    """A certificate as the site shows it: plain values, SMKI facts and the profile lint.

    ``subject`` and ``issuer`` are RFC 4514 strings (last RDN first);
    ``subject_attributes`` and ``issuer_attributes`` keep DER order. Hex values are
    upper case without separators, except the digests (lower-case SHA-256 / SHA-1 hex).
    """

    family: str
    role_code: str | None
    role_name: str | None
    eui64: str | None
    usage: str | None
    title: str
    subject: str
    subject_attributes: tuple[NameEntry, ...]
    issuer: str
    issuer_attributes: tuple[NameEntry, ...]
    self_issued: bool
    version: int
    serial: str
    not_before: str
    not_after: str
    expiry_text: str
    key_usage: tuple[str, ...]
    extended_key_usage: tuple[str, ...]
    policies: tuple[str, ...]
    subject_key_id: str | None
    authority_key_id: str | None
    subject_alt_names: tuple[str, ...]
    basic_constraints: BasicConstraints | None
    extensions: tuple[ExtensionEntry, ...]
    public_key: str
    signature_algorithm: str
    sha256: str
    spki_sha256: str
    sha1: str
    lint: tuple[LintFinding, ...]
    der: bytes = field(repr=False)
    pem: str = field(repr=False)

    @property
    def lint_errors(self) -> tuple[LintFinding, ...]:
        """The lint findings of level "error"."""
        return tuple(f for f in self.lint if f.level == "error")


@dataclass(frozen=True)
class RevokedEntry:
    """One revoked certificate in a CRL: serial (upper-case hex), date and reason."""

    serial: str
    revocation_date: str
    reason: str | None


@dataclass(frozen=True)
class CrlView:
    """A CRL or ARL as the site shows it (RFC 5280 §5)."""

    is_arl: bool
    title: str
    issuer: str
    issuer_attributes: tuple[NameEntry, ...]
    this_update: str
    next_update: str | None
    crl_number: int | None
    authority_key_id: str | None
    revoked: tuple[RevokedEntry, ...]
    signature_algorithm: str
    sha256: str
    der: bytes = field(repr=False)
    pem: str = field(repr=False)

    @property
    def kind(self) -> str:
        """The list's kind: ARL when a root issued it (authority revocation list), else CRL."""
        return "ARL" if self.is_arl else "CRL"


class _Reject(Exception):
    """Parsing stops: the message becomes the Unparseable reason."""


def _clip(text: str, limit: int = _MAX_REASON) -> str:
    """``text`` cut to ``limit`` characters (hostile inputs make long messages)."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _describe(exc: BaseException) -> str:
    """A one-line description of an exception raised while reading hostile input."""
    text = " ".join(str(exc).split())
    if text and isinstance(exc, ValueError):
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


@contextmanager
def _reading(what: str) -> Iterator[None]:
    """Turn any exception raised in the block into ``_Reject("<what>: <error>")``."""
    try:
        yield
    except _Reject:
        raise
    except Exception as exc:  # cryptography decodes lazily: hostile DER fails anywhere
        raise _Reject(f"{what}: {_describe(exc)}") from exc


def _hex(data: bytes) -> str:
    """Upper-case hex without separators."""
    return data.hex().upper()


def _serial_hex(serial: int) -> str:
    """A serial number in upper-case hex, whole octets, no colons (a negative keeps "-")."""
    digits = f"{abs(serial):X}"
    digits = "0" * (len(digits) % 2) + digits
    return f"-{digits}" if serial < 0 else digits


def _rfc3339(moment: datetime) -> str:
    """A UTC time as RFC 3339 with a Z suffix (years zero-padded to four digits)."""
    return (
        f"{moment.year:04d}-{moment.month:02d}-{moment.day:02d}"
        f"T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}Z"
    )


def _name_entries(name: x509.Name) -> tuple[NameEntry, ...]:
    """The attributes of ``name`` in DER order (BIT STRING contents as upper-case hex)."""
    return tuple(
        NameEntry(
            rdn=index,
            name=gbcs.ATTRIBUTE_NAMES.get(attribute.oid, gbcs.oid_name(attribute.oid)),
            oid=attribute.oid.dotted_string,
            value=attribute.value if isinstance(attribute.value, str) else _hex(attribute.value),
            string_type=attribute._type.name,
        )
        for index, rdn in enumerate(name.rdns)
        for attribute in rdn
    )


def _rfc4514(name: x509.Name) -> str:
    """``name`` as an RFC 4514 string (last RDN first, as that RFC orders them)."""
    return name.rfc4514_string({NameOID.X500_UNIQUE_IDENTIFIER: "x500UniqueIdentifier"})


def _general_name_text(name: x509.GeneralName) -> str:
    """One subjectAltName entry as display text."""
    if isinstance(name, x509.OtherName):
        if name.type_id.dotted_string != gbcs.OID_HARDWARE_MODULE_NAME:
            return f"otherName {name.type_id.dotted_string}: {_hex(name.value)}"
        try:
            hw_type, hw_serial = der.hardware_module_name(name.value)
        except MalformedError as exc:
            return f"hardwareModuleName (malformed: {exc})"
        return f"hardwareModuleName: hwType {hw_type}, hwSerialNum {_hex(hw_serial)}"
    if isinstance(name, x509.DirectoryName):
        return f"DirName: {_rfc4514(name.value)}"
    if isinstance(name, x509.RegisteredID):
        return f"RID: {name.value.dotted_string}"
    if isinstance(name, x509.IPAddress):
        return f"IP: {name.value}"
    if isinstance(name, x509.DNSName | x509.RFC822Name | x509.UniformResourceIdentifier):
        return f"{type(name).__name__}: {name.value}"
    return type(name).__name__


def _public_key_text(cert: x509.Certificate) -> tuple[str, bool]:
    """The subject key as text ("EC P-256 (secp256r1)") and whether it is P-256."""
    try:
        key = cert.public_key()
    except Exception:  # an algorithm or curve that cryptography does not support
        return f"unsupported ({gbcs.oid_name(cert.public_key_algorithm_oid)})", False
    if isinstance(key, ec.EllipticCurvePublicKey):
        curve = key.curve.name
        label = _CURVE_LABELS.get(curve)
        return (f"EC {label} ({curve})" if label else f"EC {curve}"), curve == "secp256r1"
    if isinstance(key, rsa.RSAPublicKey):
        return f"RSA {key.key_size}-bit", False
    if isinstance(key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
        return type(key).__name__.removesuffix("PublicKey"), False
    return type(key).__name__, False


def _title(
    family: str, role: str | None, eui: str | None, usage: str | None, subject: x509.Name
) -> str:
    """The one-line title: family, then role, EUI-64, CA name and usage where they apply.

    E.g. "Organisation Certificate — Supplier (02), EUI 90-B3-D5-1F-30-01-00-00,
    Digital Signature".
    """
    parts = []
    if role is not None:
        label = gbcs.ROLE_LABELS.get(role)
        parts.append(f"{label} ({role})" if label else gbcs.role_name(role))
    if eui is not None:
        parts.append(f"EUI {eui}")
    common = subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if family in ("ca", "other") and common and isinstance(common[0].value, str):
        parts.append(f"CN {_clip(common[0].value, 64)}")
    if usage is not None:
        parts.append(USAGE_LABELS[usage])
    head = FAMILY_TITLES[family]
    return f"{head} — {', '.join(parts)}" if parts else head


def parse_certificate(data: bytes) -> CertificateView | Unparseable:
    """Parse a DER certificate, or PEM with exactly one CERTIFICATE block; never raise."""
    try:
        with _reading("not a certificate"):
            certificate_der = der.input_der(data, "CERTIFICATE", MAX_CERTIFICATE_BYTES)
        with warnings.catch_warnings():
            # A non-positive serial only warns in cryptography 48; the lint reports it.
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            with _reading("not a DER X.509 certificate"):
                cert = x509.load_der_x509_certificate(certificate_der)
            return _certificate_view(cert, certificate_der)
    except _Reject as exc:
        return Unparseable(_clip(str(exc)))
    except Exception as exc:  # a backstop: hostile input must never escape as an error
        return Unparseable(_clip(f"the certificate cannot be read: {_describe(exc)}"))


def _certificate_view(cert: x509.Certificate, encoded: bytes) -> CertificateView:
    """Build the view of a certificate that cryptography loaded from ``encoded``."""
    with _reading("the DER structure cannot be walked"):
        parts = der.certificate_parts(encoded)
    with _reading("the names cannot be decoded"):
        subject, issuer = _rfc4514(cert.subject), _rfc4514(cert.issuer)
        subject_entries, issuer_entries = _name_entries(cert.subject), _name_entries(cert.issuer)
        self_issued = cert.subject == cert.issuer
    with _reading("the validity cannot be decoded"):
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
    with _reading("the extensions cannot be decoded"):
        extensions = cert.extensions
        san = gbcs.find_extension(extensions, x509.SubjectAlternativeName)
        hardware = gbcs.hardware_serials(san.value if san else None)
        family = gbcs.family(cert, extensions, len(hardware))
        usage_ext = gbcs.find_extension(extensions, x509.KeyUsage)
        eku = gbcs.find_extension(extensions, x509.ExtendedKeyUsage)
        policies = gbcs.find_extension(extensions, x509.CertificatePolicies)
        ski = gbcs.find_extension(extensions, x509.SubjectKeyIdentifier)
        aki = gbcs.find_extension(extensions, x509.AuthorityKeyIdentifier)
        constraints = gbcs.find_extension(extensions, x509.BasicConstraints)
    key_text, is_p256 = _public_key_text(cert)
    facts = gbcs.CertificateFacts(
        cert, parts, extensions, family, is_p256, not_before, not_after, hardware
    )
    with _reading("the profile lint cannot read the certificate"):
        lint = gbcs.lint(facts)
        role = gbcs.role_code(cert, family)
        eui = gbcs.eui64(facts)
    key_usage = gbcs.key_usage_names(usage_ext.value) if usage_ext else ()
    usage = gbcs.usage_code(key_usage) if family != "ca" else None
    aki_id = aki.value.key_identifier if aki else None
    return CertificateView(
        family=family,
        role_code=role,
        role_name=gbcs.role_name(role) if role is not None else None,
        eui64=eui,
        usage=usage,
        title=_title(family, role, eui, usage, cert.subject),
        subject=subject,
        subject_attributes=subject_entries,
        issuer=issuer,
        issuer_attributes=issuer_entries,
        self_issued=self_issued,
        version=cert.version.value + 1,
        serial=_serial_hex(cert.serial_number),
        not_before=_rfc3339(not_before),
        not_after=_rfc3339(not_after),
        expiry_text=NO_EXPIRY_TEXT
        if not_after == gbcs.NO_WELL_DEFINED_EXPIRY
        else _rfc3339(not_after),
        key_usage=key_usage,
        extended_key_usage=tuple(gbcs.oid_name(oid) for oid in eku.value) if eku else (),
        policies=tuple(p.policy_identifier.dotted_string for p in policies.value)
        if policies
        else (),
        subject_key_id=_hex(ski.value.digest) if ski else None,
        authority_key_id=_hex(aki_id) if aki_id is not None else None,
        subject_alt_names=tuple(_general_name_text(n) for n in san.value) if san else (),
        basic_constraints=BasicConstraints(constraints.value.ca, constraints.value.path_length)
        if constraints
        else None,
        extensions=tuple(
            ExtensionEntry(gbcs.oid_name(e.oid), e.oid.dotted_string, e.critical)
            for e in extensions
        ),
        public_key=key_text,
        signature_algorithm=gbcs.oid_name(cert.signature_algorithm_oid),
        sha256=hashlib.sha256(encoded).hexdigest(),
        spki_sha256=hashlib.sha256(parts.spki).hexdigest(),
        sha1=hashlib.sha1(encoded).hexdigest(),
        lint=lint,
        der=encoded,
        pem=der.pem_encode(encoded, "CERTIFICATE"),
    )


# --- chain linking and signatures ------------------------------------------------


def issuer_key_id(item: CertificateView | CrlView) -> str | None:
    """The AKI keyIdentifier (hex) that names the issuer's SKI (RFC 5280 §4.2.1.1)."""
    return item.authority_key_id


def issuer_candidates(
    item: CertificateView | CrlView, cas: Iterable[CertificateView]
) -> tuple[CertificateView, ...]:
    """The certificates whose SKI equals ``item``'s AKI: possible issuers, not verified."""
    wanted = issuer_key_id(item)
    return tuple(ca for ca in cas if wanted is not None and ca.subject_key_id == wanted)


def find_issuer(
    item: CertificateView | CrlView, cas: Iterable[CertificateView]
) -> CertificateView | None:
    """The first candidate issuer (AKI → SKI) whose signature on ``item`` verifies."""
    return next((ca for ca in issuer_candidates(item, cas) if verify_issued_by(item, ca)), None)


def ds_ka_sibling_key(view: CertificateView) -> tuple[str, str, str] | None:
    """(family, EUI-64, role code or "") that a party's or device's DS and KA share."""
    if view.family not in ("organisation", "device") or view.eui64 is None or not view.usage:
        return None
    return view.family, view.eui64, view.role_code or ""


def verify_issued_by(child: CertificateView | CrlView, issuer: CertificateView) -> bool:
    """Report whether ``issuer`` issued ``child``: names match and its EC key signed it.

    The issuer's subject must equal the child's issuer name (compared as
    cryptography compares names, ignoring string types, as RFC 5280 §7.1 allows)
    and the ECDSA signature (GBCS §12) must verify. Any failure gives False.
    """
    try:
        ca = x509.load_der_x509_certificate(issuer.der)
        key = ca.public_key()
        if not isinstance(key, ec.EllipticCurvePublicKey):
            return False
        if isinstance(child, CrlView):
            crl = x509.load_der_x509_crl(child.der)
            return crl.issuer == ca.subject and crl.is_signature_valid(key)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            cert = x509.load_der_x509_certificate(child.der)
        algorithm = cert.signature_algorithm_parameters
        if cert.issuer != ca.subject or not isinstance(algorithm, ec.ECDSA):
            return False
        key.verify(cert.signature, cert.tbs_certificate_bytes, algorithm)
        return True
    except Exception:  # InvalidSignature, or whatever hostile DER provokes
        return False


# --- CRLs (RFC 5280 §5) --------------------------------------------------------


def parse_crl(data: bytes) -> CrlView | Unparseable:
    """Parse a DER CRL, or PEM with exactly one X509 CRL block; never raise."""
    try:
        with _reading("not a CRL"):
            crl_der = der.input_der(data, "X509 CRL", MAX_CRL_BYTES)
        with _reading("not a DER X.509 CRL"):
            crl = x509.load_der_x509_crl(crl_der)
        return _crl_view(crl, crl_der)
    except _Reject as exc:
        return Unparseable(_clip(str(exc)))
    except Exception as exc:  # a backstop: hostile input must never escape as an error
        return Unparseable(_clip(f"the CRL cannot be read: {_describe(exc)}"))


def _crl_view(crl: x509.CertificateRevocationList, encoded: bytes) -> CrlView:
    """Build the view of a CRL that cryptography loaded from ``encoded``."""
    with _reading("the issuer name cannot be decoded"):
        issuer, issuer_entries = _rfc4514(crl.issuer), _name_entries(crl.issuer)
        units = [
            u.value for u in crl.issuer.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
        ]
        common = [c.value for c in crl.issuer.get_attributes_for_oid(NameOID.COMMON_NAME)]
    with _reading("the update times cannot be decoded"):
        this_update, next_update = crl.last_update_utc, crl.next_update_utc
    with _reading("the extensions cannot be decoded"):
        number = gbcs.find_extension(crl.extensions, x509.CRLNumber)
        aki = gbcs.find_extension(crl.extensions, x509.AuthorityKeyIdentifier)
    with _reading("the revoked certificates cannot be decoded"):
        revoked = tuple(_revoked_entry(entry) for entry in crl)
    is_arl = "00" in units  # heuristic: issued by a root (OU=00), so the ARL (SMKI.md)
    crl_number = number.value.crl_number if number else None
    aki_id = aki.value.key_identifier if aki else None
    head = ("Organisation " if {"00", "07"} & set(units) else "") + ("ARL" if is_arl else "CRL")
    parts = [f"number {crl_number}" if crl_number is not None else "no CRL number"]
    if common and isinstance(common[0], str):
        parts.append(f"issued by {_clip(common[0], 64)}")
    parts.append(f"{len(revoked)} revoked" if revoked else "nothing revoked")
    return CrlView(
        is_arl=is_arl,
        title=f"{head} — {', '.join(parts)}",
        issuer=issuer,
        issuer_attributes=issuer_entries,
        this_update=_rfc3339(this_update),
        next_update=_rfc3339(next_update) if next_update else None,
        crl_number=crl_number,
        authority_key_id=_hex(aki_id) if aki_id is not None else None,
        revoked=revoked,
        signature_algorithm=gbcs.oid_name(crl.signature_algorithm_oid),
        sha256=hashlib.sha256(encoded).hexdigest(),
        der=encoded,
        pem=der.pem_encode(encoded, "X509 CRL"),
    )


def _revoked_entry(entry: x509.RevokedCertificate) -> RevokedEntry:
    """One revokedCertificates entry, with its reasonCode if any (RFC 5280 §5.3.1)."""
    reason = gbcs.find_extension(entry.extensions, x509.CRLReason)
    return RevokedEntry(
        serial=_serial_hex(entry.serial_number),
        revocation_date=_rfc3339(entry.revocation_date_utc),
        reason=reason.value.reason.value if reason else None,
    )
