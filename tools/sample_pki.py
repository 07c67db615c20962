"""Generate a synthetic SMKI PKI in the GBCS §12 certificate profile, for the sample site.

Usage: ``python tools/sample_pki.py OUT_DIR [--devices N] [--seed TEXT] [--check]``

Writes, under OUT_DIR (no private keys, ever)::

    certificates/ca/{root-oca,issuing-oca,root-dca,issuing-dca}.pem
    certificates/organisation/<role>-<eui>-<ds|ka>.pem   six parties, DS + KA each
    certificates/device/<eui>-<ds|ka>.pem                N devices (default 50), DS + KA
    crls/organisation-crl-0001.pem                       Issuing OCA; two pre-history serials
    crls/organisation-arl-0001.pem                       Root OCA; nothing revoked
    crls-later/organisation-crl-0002.pem                 also revokes the WAN Provider DS

The profile follows SMKI.md ("Certificate profile"): P-256 keys, ecdsa-with-SHA256,
positive 16-octet serials, 8-octet SKI/AKI by RFC 5280 §4.2.1.2 method (2), critical
keyUsage / certificatePolicies / subjectAltName, PrintableString issuer names, the
x500UniqueIdentifier as a BIT STRING, no basicConstraints on end entities. Keys and
serials derive from the seed and all dates are fixed; signatures are RFC 6979
deterministic (cryptography ≥ 45), so the same seed gives the same bytes.
``--check`` re-reads everything with :mod:`generator.site.certificate`: no lint
errors, and each certificate and CRL verifies under its issuer.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

from generator.site.certificate import (
    CertificateView,
    CrlView,
    parse_certificate,
    parse_crl,
    verify_issued_by,
)

DEFAULT_SEED = "smki-transparency sample PKI v1"
POLICY_OID = "1.2.826.0.1.8641679.1.2.1.4"  # the test PKI's policy (SMKI.md)
HW_TYPE_OID = "1.2.826.0.1.8641679.1.2.2.1"  # test hwType (SMKI.md)
HARDWARE_MODULE_NAME = "1.3.6.1.5.5.7.8.4"  # id-on-hardwareModuleName, RFC 4108 §5
NO_WELL_DEFINED_EXPIRY = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # RFC 5280 §4.1.2.5
_P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551


@dataclass(frozen=True)
class Party:
    """An organisation holding a DS and a KA Organisation certificate."""

    role: str  # Remote Party Role code (GBCS §12)
    role_name: str
    common_name: str
    eui64: str  # 16 hex digits


PARTIES = (
    Party("02", "supplier", "BRIGHTWATER ENERGY", "90B3D51F30010001"),
    Party("02", "supplier", "NORTHFIELD POWER SUPPLY", "90B3D51F30010002"),
    Party("03", "networkOperator", "EASTERN VALE DISTRIBUTION", "90B3D51F30020001"),
    Party("04", "accessControlBroker", "SMKI SAMPLE ACCESS CONTROL BROKER", "90B3D51F30040001"),
    Party("06", "wanProvider", "CENTRAL WAN SERVICES", "90B3D51F30060001"),
    Party("08", "loadController", "GRIDFLEX LOAD CONTROL", "90B3D51F30080001"),
)
WITHDRAWN = ("06", "ds")
"""The certificate the story withdraws: the WAN Provider's DS, revoked by CRL 0002."""


@dataclass(frozen=True)
class Issuer:
    """A CA certificate with its key (the key stays in memory, never on disk)."""

    certificate: x509.Certificate
    key: ec.EllipticCurvePrivateKey


@dataclass(frozen=True)
class Summary:
    """What was written: counts and the certificate that CRL 0002 revokes."""

    ca: int
    organisation: int
    device: int
    crls: int
    withdrawn_path: str
    withdrawn_serial: str


def private_key(seed: str, label: str) -> ec.EllipticCurvePrivateKey:
    """A P-256 key derived from the seed and a label (sample data: not a real KDF)."""
    digest = hashlib.sha256(f"{seed}/key/{label}".encode()).digest()
    return ec.derive_private_key(int.from_bytes(digest) % (_P256_ORDER - 1) + 1, ec.SECP256R1())


def serial_number(seed: str, label: str) -> int:
    """A positive serial of exactly 16 octets in DER: top bit clear, first octet non-zero."""
    digest = bytearray(hashlib.sha256(f"{seed}/serial/{label}".encode()).digest()[:16])
    digest[0] = (digest[0] & 0x7F) or 0x01
    return int.from_bytes(digest)


def key_identifier(key: ec.EllipticCurvePublicKey) -> bytes:
    """8 octets by RFC 5280 §4.2.1.2 method (2): 0100 ‖ low 60 bits of SHA-1(key bits)."""
    point = key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    digest = hashlib.sha1(point).digest()
    return bytes([0x40 | (digest[-8] & 0x0F)]) + digest[-7:]


def _der(tag: int, content: bytes) -> bytes:
    """One DER element, definite length (X.690 §8.1.3)."""
    size = len(content)
    if size < 0x80:
        return bytes([tag, size]) + content
    octets = size.to_bytes((size.bit_length() + 7) // 8)
    return bytes([tag, 0x80 | len(octets)]) + octets + content


def _der_oid(dotted: str) -> bytes:
    """An OBJECT IDENTIFIER element (X.690 §8.19): base-128 arcs, first two combined."""
    first, second, *rest = (int(arc) for arc in dotted.split("."))
    content = bytearray()
    for arc in (40 * first + second, *rest):
        chunk = [arc & 0x7F]
        while arc := arc >> 7:
            chunk.append(0x80 | (arc & 0x7F))
        content += bytes(reversed(chunk))
    return _der(0x06, bytes(content))


def hardware_module_name(eui64: bytes) -> bytes:
    """HardwareModuleName DER (RFC 4108 §5), without the [0] that cryptography adds."""
    return _der(0x30, _der_oid(HW_TYPE_OID) + _der(0x04, eui64))


def _printable(*attributes: tuple[ObjectIdentifier, str]) -> x509.Name:
    """A name of single-attribute RDNs in PrintableString, as CA names are (GBCS §12)."""
    return x509.Name(
        [x509.NameAttribute(oid, value, _ASN1Type.PrintableString) for oid, value in attributes]
    )


def _organisation_name(party: Party) -> x509.Name:
    """CN (UTF8String), OU = role code, x500UniqueIdentifier = BIT STRING 0x00 ‖ EUI-64."""
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, party.common_name),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, party.role),
            x509.NameAttribute(
                NameOID.X500_UNIQUE_IDENTIFIER,
                b"\x00" + bytes.fromhex(party.eui64),  # the unused-bits octet, then the EUI-64
                _ASN1Type.BitString,
            ),
        ]
    )


def _key_usage(*, ds: bool = False, ka: bool = False, ca: bool = False) -> x509.KeyUsage:
    """keyUsage: digitalSignature, keyAgreement, or keyCertSign + cRLSign."""
    return x509.KeyUsage(
        digital_signature=ds,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=ka,
        key_cert_sign=ca,
        crl_sign=ca,
        encipher_only=False,
        decipher_only=False,
    )


def _authority_key_id(issuer: ec.EllipticCurvePrivateKey) -> x509.AuthorityKeyIdentifier:
    """An AKI carrying only the issuer's 8-octet keyIdentifier."""
    return x509.AuthorityKeyIdentifier(key_identifier(issuer.public_key()), None, None)


def _certificate(
    seed: str,
    label: str,
    subject: x509.Name,
    issuer: Issuer | None,
    validity: tuple[datetime, datetime],
    usage: x509.KeyUsage,
    *,
    path_length: int | None = None,
    ca: bool = False,
    san: x509.SubjectAlternativeName | None = None,
) -> Issuer:
    """Issue one certificate in the profile; self-signed when ``issuer`` is None.

    Extensions in the samples' order: keyUsage, [basicConstraints], SKI,
    [subjectAltName], certificatePolicies, AKI. Signed ecdsa-with-SHA256 without
    parameters, RFC 6979 deterministic.
    """
    key = private_key(seed, label)
    signer = issuer.key if issuer else key
    extensions: list[tuple[x509.ExtensionType, bool]] = [(usage, True)]
    if ca:
        extensions.append((x509.BasicConstraints(ca=True, path_length=path_length), True))
    extensions.append((x509.SubjectKeyIdentifier(key_identifier(key.public_key())), False))
    if san is not None:
        extensions.append((san, True))
    policy = x509.PolicyInformation(ObjectIdentifier(POLICY_OID), None)
    extensions.append((x509.CertificatePolicies([policy]), True))
    extensions.append((_authority_key_id(signer), False))
    builder = (
        x509.CertificateBuilder()
        .issuer_name(issuer.certificate.subject if issuer else subject)
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(serial_number(seed, label))
        .not_valid_before(validity[0])
        .not_valid_after(validity[1])
    )
    for value, critical in extensions:
        builder = builder.add_extension(value, critical=critical)
    return Issuer(builder.sign(signer, hashes.SHA256(), ecdsa_deterministic=True), key)


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    """A fixed UTC time."""
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@dataclass(frozen=True)
class Revocation:
    """One CRL entry: a serial, when and why (RFC 5280 §5.3.1)."""

    serial: int
    date: datetime
    reason: x509.ReasonFlags


def _crl(
    issuer: Issuer,
    number: int,
    this_update: datetime,
    next_update: datetime,
    revoked: Sequence[Revocation],
) -> x509.CertificateRevocationList:
    """A v2 CRL with CRL number and 8-octet AKI, signed ecdsa-with-SHA256."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(this_update)
        .next_update(next_update)
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(_authority_key_id(issuer.key), critical=False)
    )
    for entry in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(entry.serial)
            .revocation_date(entry.date)
            .add_extension(x509.CRLReason(entry.reason), critical=False)
            .build()
        )
    return builder.sign(issuer.key, hashes.SHA256(), ecdsa_deterministic=True)


def _write(path: Path, pem: bytes) -> None:
    """Write one PEM file, creating its folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(pem)


def _pem(item: x509.Certificate | x509.CertificateRevocationList) -> bytes:
    """PEM of a certificate or CRL."""
    return item.public_bytes(serialization.Encoding.PEM)


def device_eui64(index: int) -> bytes:
    """The EUI-64 of sample device ``index`` (1-based): 00-DB-12-34-56-78-A0-01 onwards."""
    return bytes.fromhex("00DB12345678") + (0xA000 + index).to_bytes(2)


def _ca_name(common_name: str, role: str | None = None) -> x509.Name:
    """A CA name in PrintableString: [OU = role code,] CN = CA id (GBCS §12)."""
    unit = [] if role is None else [(NameOID.ORGANIZATIONAL_UNIT_NAME, role)]
    return _printable(*unit, (NameOID.COMMON_NAME, common_name))


def issue_cas(seed: str) -> dict[str, Issuer]:
    """Root and Issuing OCA (OU 00 and 07) and Root and Issuing DCA, by file stem."""
    root_validity = (_utc(2016, 1, 4), _utc(2045, 12, 31, 23, 59, 59))
    issuing_validity = (_utc(2016, 1, 5), _utc(2040, 12, 31, 23, 59, 59))
    usage = _key_usage(ca=True)
    root_oca = _certificate(
        seed, "root-oca", _ca_name("SR", "00"), None, root_validity, usage, ca=True
    )
    root_dca = _certificate(seed, "root-dca", _ca_name("D000"), None, root_validity, usage, ca=True)
    issuing = {
        "issuing-oca": (_ca_name("S1", "07"), root_oca),
        "issuing-dca": (_ca_name("D357"), root_dca),
    }
    cas = {"root-oca": root_oca, "root-dca": root_dca}
    for stem, (name, root) in issuing.items():
        cas[stem] = _certificate(
            seed, stem, name, root, issuing_validity, usage, ca=True, path_length=0
        )
    return cas


def issue_organisations(out_dir: Path, seed: str, issuer: Issuer) -> tuple[str, int]:
    """Write each party's DS and KA certificates; return the WITHDRAWN one's path and serial."""
    validity = (_utc(2024, 4, 1), _utc(2034, 3, 31, 23, 59, 59))  # about 10 years
    withdrawn: tuple[str, int] | None = None
    for party in PARTIES:
        for usage in ("ds", "ka"):
            stem = f"{party.role_name.lower()}-{party.eui64.lower()}-{usage}"
            key_usage = _key_usage(ds=usage == "ds", ka=usage == "ka")
            name = _organisation_name(party)
            issued = _certificate(seed, f"organisation/{stem}", name, issuer, validity, key_usage)
            path = f"certificates/organisation/{stem}.pem"
            _write(out_dir / path, _pem(issued.certificate))
            if (party.role, usage) == WITHDRAWN:
                withdrawn = (path, issued.certificate.serial_number)
    if withdrawn is None:
        raise RuntimeError("WITHDRAWN names no certificate of PARTIES")
    return withdrawn


def issue_devices(out_dir: Path, seed: str, issuer: Issuer, devices: int) -> None:
    """Write DS and KA Device certificates: empty subject, hardwareModuleName, no expiry."""
    for index in range(1, devices + 1):
        eui = device_eui64(index)
        other = x509.OtherName(ObjectIdentifier(HARDWARE_MODULE_NAME), hardware_module_name(eui))
        validity = (_utc(2024, 6, 3) + timedelta(days=index), NO_WELL_DEFINED_EXPIRY)
        for usage in ("ds", "ka"):
            issued = _certificate(
                seed,
                f"device/{eui.hex()}-{usage}",
                x509.Name([]),
                issuer,
                validity,
                _key_usage(ds=usage == "ds", ka=usage == "ka"),
                san=x509.SubjectAlternativeName([other]),
            )
            path = out_dir / "certificates" / "device" / f"{eui.hex()}-{usage}.pem"
            _write(path, _pem(issued.certificate))


def issue_crls(out_dir: Path, seed: str, cas: dict[str, Issuer], withdrawn_serial: int) -> int:
    """Write CRL 0001 and ARL 0001 (crls/) and CRL 0002 (crls-later/); return the count."""
    # Serials revoked before the repository's history starts: in no file here.
    earlier = [
        Revocation(
            serial_number(seed, "retired-1"), _utc(2024, 9, 16, 10), x509.ReasonFlags.superseded
        ),
        Revocation(
            serial_number(seed, "retired-2"),
            _utc(2024, 11, 4, 14, 30),
            x509.ReasonFlags.cessation_of_operation,
        ),
    ]
    withdrawal = Revocation(
        withdrawn_serial, _utc(2025, 3, 3, 8, 30), x509.ReasonFlags.key_compromise
    )
    oca, root = cas["issuing-oca"], cas["root-oca"]
    crls = {
        "crls/organisation-crl-0001.pem": _crl(
            oca, 1, _utc(2025, 1, 6, 9), _utc(2025, 7, 6, 9), earlier
        ),
        "crls/organisation-arl-0001.pem": _crl(
            root, 1, _utc(2025, 1, 6, 9), _utc(2026, 1, 6, 9), []
        ),
        "crls-later/organisation-crl-0002.pem": _crl(
            oca, 2, _utc(2025, 3, 3, 9), _utc(2025, 9, 3, 9), [*earlier, withdrawal]
        ),
    }
    for relative, crl in crls.items():
        _write(out_dir / relative, _pem(crl))
    return len(crls)


def build_pki(out_dir: Path, *, devices: int = 50, seed: str = DEFAULT_SEED) -> Summary:
    """Generate the whole sample PKI under ``out_dir`` (layout in the module docstring)."""
    cas = issue_cas(seed)
    for stem, ca in cas.items():
        _write(out_dir / "certificates" / "ca" / f"{stem}.pem", _pem(ca.certificate))
    withdrawn_path, withdrawn_serial = issue_organisations(out_dir, seed, cas["issuing-oca"])
    issue_devices(out_dir, seed, cas["issuing-dca"], devices)
    crls = issue_crls(out_dir, seed, cas, withdrawn_serial)
    return Summary(
        ca=len(cas),
        organisation=2 * len(PARTIES),
        device=2 * devices,
        crls=crls,
        withdrawn_path=withdrawn_path,
        withdrawn_serial=f"{withdrawn_serial:032X}",
    )


def check_pki(out_dir: Path) -> list[str]:
    """Problems found re-reading ``out_dir``: unparseable, lint errors, or unverified."""
    problems: list[str] = []
    views: dict[Path, CertificateView | CrlView] = {}
    for path in sorted(out_dir.rglob("*.pem")):
        parse = parse_crl if path.parts[-2].startswith("crls") else parse_certificate
        view = parse(path.read_bytes())
        if isinstance(view, CertificateView | CrlView):
            views[path] = view
        else:
            problems.append(f"{path}: {view.reason}")
    cas = [v for v in views.values() if isinstance(v, CertificateView) and v.family == "ca"]
    for path, view in views.items():
        if isinstance(view, CertificateView):
            problems += [f"{path}: {f.code}: {f.message}" for f in view.lint_errors]
        issuers = [ca for ca in cas if ca.subject_key_id == view.authority_key_id]
        if not any(verify_issued_by(view, ca) for ca in issuers):
            problems.append(f"{path}: does not verify under its issuer")
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: generate, report, and with --check re-read everything."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--devices", type=int, default=50, help="devices (2 certificates each)")
    parser.add_argument("--seed", default=DEFAULT_SEED, help="seed for keys and serials")
    parser.add_argument("--check", action="store_true", help="lint and verify the output")
    args = parser.parse_args(argv)
    if args.devices < 0:
        parser.error("--devices must not be negative")
    summary = build_pki(args.out_dir, devices=args.devices, seed=args.seed)
    print(
        f"wrote {summary.ca} CA, {summary.organisation} organisation and {summary.device} "
        f"device certificates, {summary.crls} CRLs/ARLs to {args.out_dir}"
    )
    print(f"CRL 0002 revokes {summary.withdrawn_path} (serial {summary.withdrawn_serial})")
    if args.check:
        problems = check_pki(args.out_dir)
        for problem in problems:
            print(problem, file=sys.stderr)
        if problems:
            return 1
        print("checked: no lint errors; every certificate and CRL verifies under its issuer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
