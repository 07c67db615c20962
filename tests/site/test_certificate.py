"""Certificate and CRL views: the eight real SMKI test certificates, a table of
profile violations, PEM/DER input rules, and fuzzing (nothing may raise)."""

from __future__ import annotations

import hashlib
import inspect
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import given, settings
from hypothesis import strategies as st

from generator.errors import MalformedError
from generator.site import der
from generator.site.certificate import (
    BasicConstraints,
    CertificateView,
    CrlView,
    Unparseable,
    ds_ka_sibling_key,
    find_issuer,
    issuer_candidates,
    issuer_key_id,
    parse_certificate,
    parse_crl,
    verify_issued_by,
)

# --- the real public SMKI test certificates (../shared/smki-samples/README.md) ----

Z1 = "ca-issuing-oca-Z1.pem"
SUPPLIER_DS = "org-supplier-90b3d51f30010000-ds.pem"
SUPPLIER_KA = "org-supplier-90b3d51f30010000-ka.pem"
ACB_DS = "org-acb-90b3d51f30000002-ds.pem"
NO_KA = "org-networkoperator-90b3d51f30020000-ka.pem"
DEVICE_DS = "device-00db123456789001-ds.pem"
DEVICE_KA = "device-00db123456789001-ka.pem"
XMLSIGN = "org-xmlsign-90b3d51f30010000-ds.pem"

ORG_EUI = "90-B3-D5-1F-30-01-00-00"
DEVICE_EUI = "00-DB-12-34-56-78-90-01"

# file, family, role code, role name, EUI-64, usage, serial, SHA-256 of the DER (README).
SAMPLE_FACTS = [
    (Z1, "ca", "07", "issuingAuthority", None, None, "71872BDBC82789BC1401CE01BA06ADA3",
     "5a4123e11e8674c4add753d52adcf039a291dc712d39bd486e280b705ca5844e"),
    (DEVICE_DS, "device", None, None, DEVICE_EUI, "DS", "71C56392CE9985DD1B78BE2EB23D610B",
     "13a1f29306c62f561d3b5fe9166d0ef2da4c1053fe589b65f4f2b75a017be76f"),
    (DEVICE_KA, "device", None, None, DEVICE_EUI, "KA", "413B126A6DF31823A31B4FF0D1145DD9",
     "c0952cdb0abd6fc08792daa1453ee1b8fc248745182929675722236418f874b6"),
    (ACB_DS, "organisation", "04", "accessControlBroker", "90-B3-D5-1F-30-00-00-02", "DS",
     "587FE59553E2675B0C0E2A5C402A9F61",
     "88eee2f7255230b0ea621f2c28f11f40cd28220b4ed07079f5c0c80280e23348"),
    (NO_KA, "organisation", "03", "networkOperator", "90-B3-D5-1F-30-02-00-00", "KA",
     "4BF733EEB936F53B7F91DC9B7F63DCFD",
     "a2e9d3497158acb2f9511f5d2b12518fc7af3cdfcae1b606e9e8c71fc214627b"),
    (SUPPLIER_DS, "organisation", "02", "supplier", ORG_EUI, "DS",
     "4FBC525201A1D7586C1BC1C4734DEB9F",
     "2f6ecd39b30197f37ecd33dabe70f1b7842053134d65dd5c4cc73748349225f3"),
    (SUPPLIER_KA, "organisation", "02", "supplier", ORG_EUI, "KA",
     "3B362657731E6B2BBE078650CFA14F15",
     "c63f77578e1954c34e3ad7040de4f31786f9bfca07670bfaff585fc870594ec0"),
    (XMLSIGN, "organisation", "87", "unknown (87)", ORG_EUI, "DS",
     "14BE4AD2EA1D0E4EC7F7156BD24624A7",
     "6484080e96ac3d51e791d6ff61de67ed9060b14c1d384c0742371e7bfbd11eb0"),
]  # fmt: skip

# Does the sample verify under the Z1 Issuing OCA? (README: "Checks already made".)
VERIFIED_BY_Z1 = {
    SUPPLIER_DS: True,
    SUPPLIER_KA: True,
    ACB_DS: True,
    NO_KA: True,
    XMLSIGN: False,  # its signature does not verify under Z1
    DEVICE_DS: False,  # issued by E357, which is not published
    DEVICE_KA: False,
    Z1: False,  # issued by the root ZA
}


@pytest.fixture(scope="module")
def views(samples: Path) -> dict[str, CertificateView]:
    """Every sample, parsed once: file name → view."""
    parsed = {p.name: parse_certificate(p.read_bytes()) for p in samples.glob("*.pem")}
    assert all(isinstance(v, CertificateView) for v in parsed.values()), parsed
    return {name: v for name, v in parsed.items() if isinstance(v, CertificateView)}


def method_2(cert: x509.Certificate) -> str:
    """RFC 5280 §4.2.1.2 method (2) computed independently of the module under test."""
    point = cert.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    low = hashlib.sha1(point).digest()[-8:]
    return (bytes([0x40 | (low[0] & 0x0F)]) + low[1:]).hex().upper()


def test_every_sample_is_in_the_table(samples: Path) -> None:
    assert sorted(p.name for p in samples.glob("*.pem")) == sorted(f[0] for f in SAMPLE_FACTS)


@pytest.mark.parametrize(
    ("name", "family", "role_code", "role_name", "eui", "usage", "serial", "sha256"),
    SAMPLE_FACTS,
    ids=[f[0] for f in SAMPLE_FACTS],
)
def test_sample_facts(
    samples: Path, name: str, family: str, role_code: str | None, role_name: str | None,
    eui: str | None, usage: str | None, serial: str, sha256: str,
) -> None:  # fmt: skip
    data = (samples / name).read_bytes()
    view = parse_certificate(data)
    assert isinstance(view, CertificateView)
    assert (view.family, view.role_code, view.role_name) == (family, role_code, role_name)
    assert (view.eui64, view.usage, view.serial, view.sha256) == (eui, usage, serial, sha256)
    cert = x509.load_pem_x509_certificate(data)
    assert view.der == cert.public_bytes(serialization.Encoding.DER)
    assert view.sha1 == hashlib.sha1(view.der).hexdigest()
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert view.spki_sha256 == hashlib.sha256(spki).hexdigest()
    assert (view.version, view.public_key) == (3, "EC P-256 (secp256r1)")
    assert view.signature_algorithm == "ecdsa-with-SHA256"
    # SKI: 8 octets by method (2); every AKI present is 8 octets too.
    assert view.subject_key_id == method_2(cert)
    assert len(bytes.fromhex(view.subject_key_id)) == 8
    if name != XMLSIGN:
        assert view.authority_key_id is not None
        assert len(bytes.fromhex(view.authority_key_id)) == 8
    # The same certificate as DER, and as the view's own PEM, gives the same view.
    assert parse_certificate(view.der) == view
    assert parse_certificate(view.pem.encode()) == view


@pytest.mark.parametrize("name", sorted(VERIFIED_BY_Z1))
def test_samples_verify_under_z1(views: dict[str, CertificateView], name: str) -> None:
    assert verify_issued_by(views[name], views[Z1]) is VERIFIED_BY_Z1[name]


@pytest.mark.parametrize("name", [f[0] for f in SAMPLE_FACTS if f[0] != XMLSIGN])
def test_gbcs_samples_lint_clean(views: dict[str, CertificateView], name: str) -> None:
    view = views[name]
    assert [f for f in view.lint if f.level != "ok"] == []
    assert {f.code for f in view.lint} >= {"key", "serial", "subject-key-identifier"}


def test_xmlsign_oddity_lint(views: dict[str, CertificateView]) -> None:
    view = views[XMLSIGN]
    findings = {(f.level, f.code) for f in view.lint if f.level != "ok"}
    assert findings == {
        ("error", "role"),  # 87 is no Remote Party Role
        ("error", "authority-key-identifier"),  # no AKI
        ("error", "issuer-name"),  # UTF8String, not PrintableString
        ("warning", "validity"),  # 100 years
    }
    assert (
        view.title == f"Organisation Certificate — unknown (87), EUI {ORG_EUI}, Digital Signature"
    )
    assert view.authority_key_id is None and issuer_key_id(view) is None


def test_sample_display_fields(views: dict[str, CertificateView]) -> None:
    z1 = views[Z1]
    assert z1.title == "CA Certificate — Issuing Authority (07), CN Z1"
    assert (z1.subject, z1.issuer) == ("CN=Z1,OU=07", "CN=ZA,OU=00")
    assert [(a.name, a.value, a.string_type) for a in z1.subject_attributes] == [
        ("OU", "07", "PrintableString"),
        ("CN", "Z1", "PrintableString"),
    ]
    assert z1.basic_constraints == BasicConstraints(ca=True, path_length=0)
    assert z1.key_usage == ("keyCertSign", "cRLSign")
    assert (z1.subject_key_id, z1.authority_key_id) == ("4F5688D7EC933BE2", "48CF1B32697C4669")
    assert z1.policies == ("1.2.826.0.1.8641679.1.2.1.4",)
    assert (z1.not_before, z1.not_after) == ("2015-10-29T00:00:00Z", "2040-10-28T23:59:59Z")
    assert z1.expiry_text == "2040-10-28T23:59:59Z"
    assert [(e.name, e.critical) for e in z1.extensions][:2] == [
        ("keyUsage", True),
        ("basicConstraints", True),
    ]

    supplier = views[SUPPLIER_DS]
    assert supplier.title == (
        f"Organisation Certificate — Supplier (02), EUI {ORG_EUI}, Digital Signature"
    )
    assert [a.name for a in supplier.subject_attributes] == ["CN", "OU", "x500UniqueIdentifier"]
    assert supplier.subject_attributes[2].value == "0090B3D51F30010000"
    assert supplier.authority_key_id == z1.subject_key_id
    assert supplier.basic_constraints is None

    device = views[DEVICE_KA]
    assert device.title == f"Device Certificate — EUI {DEVICE_EUI}, Key Agreement"
    assert (device.subject, device.subject_attributes, device.issuer) == ("", (), "CN=E357")
    assert device.not_after == "9999-12-31T23:59:59Z"
    assert device.expiry_text == "no well-defined expiry"
    assert device.subject_alt_names == (
        "hardwareModuleName: hwType 1.2.826.0.1.8641679.1.2.2.1, hwSerialNum 00DB123456789001",
    )
    assert views[DEVICE_DS].expiry_text == "no well-defined expiry"


def test_chain_linking(views: dict[str, CertificateView]) -> None:
    every = list(views.values())
    supplier, z1, xmlsign = views[SUPPLIER_DS], views[Z1], views[XMLSIGN]
    assert issuer_key_id(supplier) == z1.subject_key_id
    assert issuer_candidates(supplier, every) == (z1,)
    assert find_issuer(supplier, [xmlsign, z1]) is z1
    assert find_issuer(xmlsign, every) is None
    assert find_issuer(views[DEVICE_DS], every) is None
    assert find_issuer(z1, every) is None


def test_ds_ka_siblings(views: dict[str, CertificateView]) -> None:
    key = ds_ka_sibling_key
    assert key(views[SUPPLIER_DS]) == key(views[SUPPLIER_KA])
    assert key(views[SUPPLIER_DS]) == ("organisation", ORG_EUI, "02")
    assert key(views[DEVICE_DS]) == key(views[DEVICE_KA]) == ("device", DEVICE_EUI, "")
    assert key(views[XMLSIGN]) != key(views[SUPPLIER_DS])  # role 87, not 02
    assert key(views[Z1]) is None


# --- the profile lint, table-driven on certificates built here ----------------------

ISSUER_KEY = ec.derive_private_key(0x5EED, ec.SECP256R1())
SUBJECT_KEY = ec.derive_private_key(0xBEEF, ec.SECP256R1())
POLICY = x509.PolicyInformation(ObjectIdentifier("1.2.826.0.1.8641679.1.2.1.4"), None)
# HardwareModuleName { hwType 1.2.826.0.1.8641679.1.2.2.1, hwSerialNum 00DB123456789001 }
HW_NAME = bytes.fromhex("3019 060D 2A863A0001848FB90F01020201 0408 00DB123456789001")
EUI = bytes.fromhex("90B3D51F30010000")
AUTO = object()


def _printable(*pairs: tuple[ObjectIdentifier, str]) -> x509.Name:
    """A name in PrintableString, as CA names are."""
    return x509.Name([x509.NameAttribute(o, v, _ASN1Type.PrintableString) for o, v in pairs])


def _org_name(
    cn: str | None = "TEST SUPPLIER", ou: str = "02", uid: bytes = b"\0" + EUI
) -> x509.Name:
    """[CN,] OU, x500UniqueIdentifier — the Organisation subject."""
    attributes = [] if cn is None else [x509.NameAttribute(NameOID.COMMON_NAME, cn)]
    return x509.Name([
        *attributes,
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, ou),
        x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, uid, _ASN1Type.BitString),
    ])  # fmt: skip


ISSUER_NAME = _printable((NameOID.ORGANIZATIONAL_UNIT_NAME, "07"), (NameOID.COMMON_NAME, "T1"))


def _usage(**bits: bool) -> x509.KeyUsage:
    """keyUsage with the named bits set."""
    names = inspect.signature(x509.KeyUsage).parameters
    return x509.KeyUsage(**{name: bits.get(name, False) for name in names})


def _method_2(key: ec.EllipticCurvePrivateKey) -> bytes:
    """The 8-octet method (2) key identifier of ``key``."""
    point = key.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    low = hashlib.sha1(point).digest()[-8:]
    return bytes([0x40 | (low[0] & 0x0F)]) + low[1:]


def profile(family: str) -> dict[str, Any]:
    """The parameters of a certificate that conforms to the profile."""
    base: dict[str, Any] = {
        "subject": _org_name(),
        "issuer": ISSUER_NAME,
        "key": SUBJECT_KEY,
        "serial": 0x4FBC525201A1D7586C1BC1C4734DEB9F,
        "not_before": datetime(2024, 4, 1, tzinfo=UTC),
        "not_after": datetime(2034, 3, 31, 23, 59, 59, tzinfo=UTC),
        "ku": (_usage(digital_signature=True), True),
        "bc": None,
        "ski": AUTO,
        "san": None,
        "policies": (x509.CertificatePolicies([POLICY]), True),
        "aki": (x509.AuthorityKeyIdentifier(_method_2(ISSUER_KEY), None, None), False),
        "extra": [],
    }
    if family == "device":
        san = x509.SubjectAlternativeName(
            [x509.OtherName(ObjectIdentifier("1.3.6.1.5.5.7.8.4"), HW_NAME)]
        )
        never = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)
        base |= {"subject": x509.Name([]), "san": (san, True), "not_after": never}
    if family == "ca":
        base |= {
            "subject": ISSUER_NAME,
            "key": ISSUER_KEY,
            "ku": (_usage(key_cert_sign=True, crl_sign=True), True),
            "bc": (x509.BasicConstraints(ca=True, path_length=0), True),
        }
    return base


def build(params: dict[str, Any]) -> bytes:
    """DER of a certificate with ``params``, signed by ISSUER_KEY (ecdsa-with-SHA256)."""
    key = params["key"]
    ski = params["ski"]
    if ski is AUTO:
        ski = (x509.SubjectKeyIdentifier(_method_2(key)), False)
    builder = (
        x509.CertificateBuilder()
        .subject_name(params["subject"])
        .issuer_name(params["issuer"])
        .public_key(key.public_key())
        .serial_number(params["serial"])
        .not_valid_before(params["not_before"])
        .not_valid_after(params["not_after"])
    )
    for name in ("ku", "bc", "ski", "san", "policies", "aki"):
        if (ext := ski if name == "ski" else params[name]) is not None:
            builder = builder.add_extension(ext[0], critical=ext[1])
    for value, critical in params["extra"]:
        builder = builder.add_extension(value, critical=critical)
    cert = builder.sign(ISSUER_KEY, hashes.SHA256())
    return cert.public_bytes(serialization.Encoding.DER)


def problems(view: CertificateView | Unparseable) -> set[tuple[str, str]]:
    """The (level, code) of every finding that is not "ok"."""
    assert isinstance(view, CertificateView), view
    return {(f.level, f.code) for f in view.lint if f.level != "ok"}


P384 = ec.derive_private_key(0xC0FFEE, ec.SECP384R1())
WRONG_ORDER = x509.Name([
    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "02"),
    x509.NameAttribute(NameOID.COMMON_NAME, "X"),
    x509.NameAttribute(NameOID.X500_UNIQUE_IDENTIFIER, b"\0" + EUI, _ASN1Type.BitString),
])  # fmt: skip
UTF8_ISSUER = x509.Name([
    x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "07"),
    x509.NameAttribute(NameOID.COMMON_NAME, "T1"),
])  # fmt: skip
TWO_HW = x509.SubjectAlternativeName(
    [x509.OtherName(ObjectIdentifier("1.3.6.1.5.5.7.8.4"), HW_NAME)] * 2
)
BAD_HW = x509.SubjectAlternativeName(
    [x509.OtherName(ObjectIdentifier("1.3.6.1.5.5.7.8.4"), b"\x30\x03\x06\x01\x00")]
)
UNKNOWN_EXT = x509.UnrecognizedExtension(ObjectIdentifier("1.2.3.4"), b"\x05\x00")
E, W = "error", "warning"

# (case, family, changed parameters, expected (level, code) findings)
LINT_CASES: list[tuple[str, str, dict[str, Any], set[tuple[str, str]]]] = [
    ("organisation conforms", "organisation", {}, set()),
    ("organisation without CN conforms", "organisation", {"subject": _org_name(cn=None)}, set()),
    ("device conforms", "device", {}, set()),
    ("CA conforms", "ca", {}, set()),
    ("P-384 key", "organisation", {"key": P384}, {(E, "key")}),
    ("20-octet SKI, as pyca's from_public_key makes", "organisation",
     {"ski": (x509.SubjectKeyIdentifier.from_public_key(SUBJECT_KEY.public_key()), False)},
     {(E, "subject-key-identifier")}),
    ("8-octet SKI by another method", "organisation",
     {"ski": (x509.SubjectKeyIdentifier(b"\x40" * 8), False)}, {(E, "subject-key-identifier")}),
    ("SKI critical", "organisation",
     {"ski": (x509.SubjectKeyIdentifier(_method_2(SUBJECT_KEY)), True)},
     {(E, "subject-key-identifier")}),
    ("no SKI", "organisation", {"ski": None}, {(E, "subject-key-identifier")}),
    ("no AKI", "organisation", {"aki": None}, {(E, "authority-key-identifier")}),
    ("AKI of 20 octets", "organisation",
     {"aki": (x509.AuthorityKeyIdentifier(b"\1" * 20, None, None), False)},
     {(E, "authority-key-identifier")}),
    ("keyUsage not critical", "organisation",
     {"ku": (_usage(digital_signature=True), False)}, {(E, "key-usage")}),
    ("keyUsage DS and KA", "organisation",
     {"ku": (_usage(digital_signature=True, key_agreement=True), True)}, {(E, "key-usage")}),
    ("no keyUsage", "device", {"ku": None}, {(E, "key-usage")}),
    ("CA keyUsage with digitalSignature", "ca",
     {"ku": (_usage(digital_signature=True, key_cert_sign=True, crl_sign=True), True)},
     {(E, "key-usage")}),
    ("basicConstraints on an end entity", "organisation",
     {"bc": (x509.BasicConstraints(ca=False, path_length=None), True)},
     {(E, "basic-constraints")}),
    ("CA basicConstraints not critical", "ca",
     {"bc": (x509.BasicConstraints(ca=True, path_length=0), False)}, {(E, "basic-constraints")}),
    ("two policies", "organisation",
     {"policies": (x509.CertificatePolicies([POLICY, x509.PolicyInformation(
         ObjectIdentifier("1.2.3"), None)]), True)}, {(E, "certificate-policies")}),
    ("policies not critical", "device",
     {"policies": (x509.CertificatePolicies([POLICY]), False)}, {(E, "certificate-policies")}),
    ("8-octet serial", "organisation", {"serial": 0x0102030405060708}, {(W, "serial")}),
    ("17-octet serial (top bit set)", "organisation", {"serial": 1 << 127}, {(E, "serial")}),
    ("UTF8String issuer", "organisation", {"issuer": UTF8_ISSUER}, {(E, "issuer-name")}),
    ("OU before CN", "organisation", {"subject": WRONG_ORDER}, {(E, "subject-name")}),
    ("lower-case role", "organisation", {"subject": _org_name(ou="7f")},
     {(E, "subject-name"), (E, "role")}),
    ("unknown role 87", "organisation", {"subject": _org_name(ou="87")}, {(E, "role")}),
    ("EUI-64 of 7 octets", "organisation", {"subject": _org_name(uid=b"\0" + EUI[:7])},
     {(E, "eui-64")}),
    ("unused bits in the x500UniqueIdentifier", "organisation",
     {"subject": _org_name(uid=b"\4" + EUI)}, {(E, "eui-64")}),
    ("12-year Organisation validity", "organisation",
     {"not_after": datetime(2036, 4, 1, tzinfo=UTC)}, {(W, "validity")}),
    ("unknown critical extension", "organisation", {"extra": [(UNKNOWN_EXT, True)]},
     {(E, "extensions")}),
    ("unknown non-critical extension", "organisation", {"extra": [(UNKNOWN_EXT, False)]},
     {(W, "extensions")}),
    ("SAN on an Organisation", "organisation",
     {"san": (x509.SubjectAlternativeName([x509.DNSName("example.org")]), False)},
     {(W, "subject-alt-name")}),
    ("Device that expires", "device", {"not_after": datetime(2040, 1, 1, tzinfo=UTC)},
     {(E, "validity")}),
    ("Device SAN not critical", "device",
     {"san": (x509.SubjectAlternativeName([x509.OtherName(
         ObjectIdentifier("1.3.6.1.5.5.7.8.4"), HW_NAME)]), False)},
     {(E, "subject-alt-name")}),
    ("Device with two hardwareModuleNames", "device", {"san": (TWO_HW, True)},
     {(E, "subject-alt-name")}),
    ("Device hardwareModuleName malformed", "device", {"san": (BAD_HW, True)},
     {(E, "subject-alt-name"), (E, "eui-64")}),
    ("CA with a UTF8String subject", "ca", {"subject": UTF8_ISSUER}, {(E, "subject-name")}),
    ("no family fits", "organisation", {"subject": x509.Name([])}, {(E, "subject-name")}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("family", "changes", "expected"), [c[1:] for c in LINT_CASES], ids=[c[0] for c in LINT_CASES]
)
def test_profile_lint(family: str, changes: dict[str, Any], expected: set[tuple[str, str]]) -> None:
    view = parse_certificate(build(profile(family) | changes))
    assert problems(view) == expected


def test_family_from_profile() -> None:
    for family in ("ca", "organisation", "device"):
        view = parse_certificate(build(profile(family)))
        assert isinstance(view, CertificateView) and view.family == family
    other = parse_certificate(build(profile("organisation") | {"subject": x509.Name([])}))
    assert isinstance(other, CertificateView)
    assert (other.family, other.role_code, other.eui64, other.title) == (
        "other",
        None,
        None,
        "Certificate — Digital Signature",
    )


def test_hostile_names_are_kept_verbatim() -> None:
    cn = '<script>alert("x")</script> & \u202e\u0000'
    view = parse_certificate(build(profile("organisation") | {"subject": _org_name(cn=cn)}))
    assert isinstance(view, CertificateView)
    assert view.subject_attributes[0].value == cn
    assert problems(view) == set()


# --- PEM / DER input -----------------------------------------------------------


def _pem_block(label: str, body: bytes) -> bytes:
    """One PEM block around ``body``."""
    return der.pem_encode(body, label).encode()


@pytest.fixture(scope="module")
def supplier_der(views: dict[str, CertificateView]) -> bytes:
    """The supplier DS sample as DER."""
    return views[SUPPLIER_DS].der


def test_pem_with_explanatory_text(views: dict[str, CertificateView], supplier_der: bytes) -> None:
    text = b"Subject: supplier\r\n" + _pem_block("CERTIFICATE", supplier_der).replace(
        b"\n", b"\r\n"
    )
    assert parse_certificate(text) == views[SUPPLIER_DS]


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        ("empty", "empty input"),
        ("text", "neither DER"),
        ("two certificates", "expected one CERTIFICATE block, found 2"),
        ("certificate and key", "found 2 (CERTIFICATE, PRIVATE KEY)"),
        ("a CRL block", "the block is X509 CRL, not CERTIFICATE"),
        ("bad base64", "not valid base64"),
        ("no END", "has no END line"),
        ("END mismatch", "does not match BEGIN"),
        ("not ASCII", "not ASCII"),
        ("too large", "at most 131072"),
        ("truncated DER", "not a DER X.509 certificate"),
        ("trailing data", "not a DER X.509 certificate"),
        ("a bare SEQUENCE", "not a DER X.509 certificate"),
        ("empty PEM body", "is empty"),
    ],
)
def test_malformed_input_is_unparseable(supplier_der: bytes, case: str, reason: str) -> None:
    block = _pem_block("CERTIFICATE", supplier_der)
    data = {
        "empty": b"",
        "text": b"hello, certificate",
        "two certificates": block + block,
        "certificate and key": block + _pem_block("PRIVATE KEY", b"\x30\x00"),
        "a CRL block": _pem_block("X509 CRL", supplier_der),
        "bad base64": block.replace(b"MII", b"M!I", 1),
        "no END": block.split(b"-----END")[0],
        "END mismatch": block.replace(b"END CERTIFICATE", b"END CERTIFICATES"),
        "not ASCII": "-----BEGIN CERTIFICATE-----\nü\n-----END CERTIFICATE-----\n".encode(),
        "too large": b"\x30" + b"\0" * (1 << 17),
        "truncated DER": supplier_der[:-1],
        "trailing data": supplier_der + b"\0",
        "a bare SEQUENCE": b"\x30\x00",
        "empty PEM body": b"-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n",
    }[case]
    result = parse_certificate(data)
    assert isinstance(result, Unparseable)
    assert reason in result.reason


def test_crl_is_not_a_certificate(
    views: dict[str, CertificateView], crl_views: dict[str, CrlView]
) -> None:
    crl = crl_views["crl"]
    assert isinstance(parse_certificate(crl.der), Unparseable)
    assert isinstance(parse_crl(views[Z1].der), Unparseable)
    assert isinstance(parse_crl(views[Z1].pem.encode()), Unparseable)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x30\x80\x00\x00", "indefinite"),
        (b"\x30\x81\x05\x00\x00\x00\x00\x00", "not minimal"),
        (b"\x30\x05\x00", "runs past"),
        (b"\x1f\x01\x00", "high tag"),
        (b"\x30", "length missing"),
        (b"\x30\x84\x00\x00\x01\x00", "not minimal"),
        (b"\x30\x85\x01\x00\x00\x00\x00", "too long"),
    ],
)
def test_der_reader_rejects(data: bytes, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        der.items(data)


def test_der_reader_bounds_element_count() -> None:
    with pytest.raises(MalformedError, match="too many"):
        der.items(b"\x05\x00" * (der.MAX_ITEMS + 1))


@pytest.mark.parametrize(
    ("content", "dotted"),
    [
        (bytes.fromhex("55042D"), "2.5.4.45"),
        (bytes.fromhex("2A8648CE3D040302"), "1.2.840.10045.4.3.2"),
        (bytes.fromhex("2B06010505070804"), "1.3.6.1.5.5.7.8.4"),
        (bytes.fromhex("2A863A0001848FB90F01020201"), "1.2.826.0.1.8641679.1.2.2.1"),
        (bytes.fromhex("8837"), "2.999"),
    ],
)
def test_oid_text(content: bytes, dotted: str) -> None:
    assert der.oid_text(content) == dotted


@pytest.mark.parametrize(
    "content", [b"", b"\x2a\x86", b"\x2a\x80\x01", b"\x2a" + b"\xff" * 20 + b"\x01"]
)
def test_oid_text_rejects(content: bytes) -> None:
    with pytest.raises(MalformedError):
        der.oid_text(content)


def test_hardware_module_name() -> None:
    assert der.hardware_module_name(HW_NAME) == (
        "1.2.826.0.1.8641679.1.2.2.1",
        bytes.fromhex("00DB123456789001"),
    )
    with pytest.raises(MalformedError):
        der.hardware_module_name(HW_NAME[:-1])


# --- CRLs ----------------------------------------------------------------------


def _crl(issuer: x509.Name, number: int, serials: list[int]) -> bytes:
    """A CRL signed by ISSUER_KEY with one keyCompromise entry per serial."""
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer)
        .last_update(datetime(2025, 1, 6, 9, tzinfo=UTC))
        .next_update(datetime(2025, 7, 6, 9, tzinfo=UTC))
        .add_extension(x509.CRLNumber(number), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier(_method_2(ISSUER_KEY), None, None), False)
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(datetime(2024, 12, 1, 12, tzinfo=UTC))
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
    crl = builder.sign(ISSUER_KEY, hashes.SHA256())
    return crl.public_bytes(serialization.Encoding.DER)


@pytest.fixture(scope="module")
def crl_views() -> dict[str, CrlView]:
    """An Organisation CRL (OU=07) with one entry and an ARL (OU=00) with none."""
    root = _printable((NameOID.ORGANIZATIONAL_UNIT_NAME, "00"), (NameOID.COMMON_NAME, "TR"))
    views = {
        "crl": parse_crl(_crl(ISSUER_NAME, 7, [0x0ABC])),
        "arl": parse_crl(der.pem_encode(_crl(root, 1, []), "X509 CRL").encode()),
    }
    assert all(isinstance(v, CrlView) for v in views.values())
    return {k: v for k, v in views.items() if isinstance(v, CrlView)}


def test_crl_view(crl_views: dict[str, CrlView]) -> None:
    crl, arl = crl_views["crl"], crl_views["arl"]
    assert (crl.kind, crl.is_arl, crl.crl_number) == ("CRL", False, 7)
    assert crl.title == "Organisation CRL — number 7, issued by T1, 1 revoked"
    assert (crl.issuer, crl.this_update, crl.next_update) == (
        "CN=T1,OU=07",
        "2025-01-06T09:00:00Z",
        "2025-07-06T09:00:00Z",
    )
    assert [(r.serial, r.revocation_date, r.reason) for r in crl.revoked] == [
        ("0ABC", "2024-12-01T12:00:00Z", "keyCompromise")
    ]
    assert crl.authority_key_id == _method_2(ISSUER_KEY).hex().upper()
    assert crl.signature_algorithm == "ecdsa-with-SHA256"
    assert crl.sha256 == hashlib.sha256(crl.der).hexdigest()
    assert parse_crl(crl.pem.encode()) == crl
    assert (arl.kind, arl.revoked, arl.title) == (
        "ARL",
        (),
        "Organisation ARL — number 1, issued by TR, nothing revoked",
    )


def test_crl_verification(views: dict[str, CertificateView], crl_views: dict[str, CrlView]) -> None:
    ca = parse_certificate(build(profile("ca")))
    assert isinstance(ca, CertificateView)
    assert verify_issued_by(crl_views["crl"], ca)
    assert find_issuer(crl_views["crl"], [views[Z1], ca]) is ca
    assert not verify_issued_by(crl_views["crl"], views[Z1])  # other key, other name
    assert not verify_issued_by(crl_views["arl"], ca)  # right key, wrong issuer name


# --- fuzzing: hostile bytes never raise ----------------------------------------------


def _check_never_raises(data: bytes, z1: CertificateView) -> None:
    """Parse ``data`` both ways: no exception, and any view is self-consistent."""
    result = parse_certificate(data)
    assert isinstance(result, CertificateView | Unparseable)
    if isinstance(result, CertificateView):
        assert result.sha256 == hashlib.sha256(result.der).hexdigest()
        assert result.family in ("ca", "organisation", "device", "other")
        assert isinstance(verify_issued_by(result, z1), bool)
        assert find_issuer(result, [z1]) in (None, z1)
    crl = parse_crl(data)
    assert isinstance(crl, CrlView | Unparseable)
    if isinstance(crl, CrlView):
        assert isinstance(verify_issued_by(crl, z1), bool)


@given(data=st.binary(max_size=2048))
def test_fuzz_random_bytes(views: dict[str, CertificateView], data: bytes) -> None:
    _check_never_raises(data, views[Z1])
    _check_never_raises(b"\x30" + data, views[Z1])


@given(body=st.text(max_size=400))
def test_fuzz_random_pem(views: dict[str, CertificateView], body: str) -> None:
    for label in ("CERTIFICATE", "X509 CRL"):
        text = f"-----BEGIN {label}-----\n{body}\n-----END {label}-----\n"
        _check_never_raises(text.encode(), views[Z1])


@pytest.fixture(scope="module")
def fuzz_seeds(views: dict[str, CertificateView]) -> list[bytes]:
    """DER of every sample, of a built certificate of each family, and of a CRL."""
    built = [build(profile(family)) for family in ("ca", "organisation", "device")]
    return [*(v.der for v in views.values()), *built, _crl(ISSUER_NAME, 3, [1, 2, 3])]


@settings(max_examples=400, deadline=None)
@given(
    which=st.integers(min_value=0),
    flips=st.lists(st.tuples(st.integers(min_value=0), st.integers(0, 7)), max_size=4),
    cut=st.integers(min_value=0),
    splice=st.binary(max_size=8),
)
def test_fuzz_mutated_der(
    views: dict[str, CertificateView], fuzz_seeds: list[bytes],
    which: int, flips: list[tuple[int, int]], cut: int, splice: bytes,
) -> None:  # fmt: skip
    """Bit flips, truncation and splices of real and built DER never raise."""
    seed = bytearray(fuzz_seeds[which % len(fuzz_seeds)])
    for position, bit in flips:
        seed[position % len(seed)] ^= 1 << bit
    cut %= len(seed)
    for mutated in (bytes(seed), bytes(seed[:cut]), bytes(seed[:cut]) + splice + seed[cut:]):
        _check_never_raises(mutated, views[Z1])
