"""tools/sample_pki.py: the synthetic SMKI PKI lints clean, chains, and is deterministic."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from generator.site.certificate import (
    CertificateView,
    CrlView,
    find_issuer,
    parse_certificate,
    parse_crl,
    verify_issued_by,
)
from tests.conftest import ROOT


def _load_tool() -> ModuleType:
    """Import tools/sample_pki.py (a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("sample_pki", ROOT / "tools" / "sample_pki.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while defining
    spec.loader.exec_module(module)
    return module


sample_pki = _load_tool()
DEVICES = 3


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sample PKI (3 devices), generated once for this module."""
    out = tmp_path_factory.mktemp("pki")
    sample_pki.build_pki(out, devices=DEVICES)
    return out


def _certificate(path: Path) -> CertificateView:
    view = parse_certificate(path.read_bytes())
    assert isinstance(view, CertificateView), view
    return view


def _crl(path: Path) -> CrlView:
    view = parse_crl(path.read_bytes())
    assert isinstance(view, CrlView), view
    return view


def test_layout(pki: Path) -> None:
    names = sorted(p.relative_to(pki).as_posix() for p in pki.rglob("*") if p.is_file())
    assert [n for n in names if n.startswith("certificates/ca/")] == [
        "certificates/ca/issuing-dca.pem",
        "certificates/ca/issuing-oca.pem",
        "certificates/ca/root-dca.pem",
        "certificates/ca/root-oca.pem",
    ]
    assert len([n for n in names if n.startswith("certificates/organisation/")]) == 12
    assert len([n for n in names if n.startswith("certificates/device/")]) == 2 * DEVICES
    assert "certificates/organisation/supplier-90b3d51f30010001-ds.pem" in names
    assert "certificates/device/00db12345678a001-ka.pem" in names
    assert [n for n in names if "crl" in n.split("/")[0]] == [
        "crls-later/organisation-crl-0002.pem",
        "crls/organisation-arl-0001.pem",
        "crls/organisation-crl-0001.pem",
    ]
    assert not any(b"PRIVATE KEY" in (pki / n).read_bytes() for n in names)


def test_lints_clean_and_verifies(pki: Path) -> None:
    assert sample_pki.check_pki(pki) == []
    for path in pki.rglob("certificates/**/*.pem"):
        assert [f for f in _certificate(path).lint if f.level != "ok"] == [], path


def test_families_and_chains(pki: Path) -> None:
    ca = {p.stem: _certificate(p) for p in (pki / "certificates" / "ca").glob("*.pem")}
    cas = list(ca.values())
    assert find_issuer(ca["issuing-oca"], cas) is ca["root-oca"]
    assert find_issuer(ca["issuing-dca"], cas) is ca["root-dca"]
    assert find_issuer(ca["root-oca"], cas) is ca["root-oca"]  # self-signed
    assert (ca["root-oca"].role_code, ca["issuing-oca"].role_code) == ("00", "07")
    supplier = _certificate(pki / "certificates/organisation/supplier-90b3d51f30010001-ds.pem")
    assert supplier.title == (
        "Organisation Certificate — Supplier (02), EUI 90-B3-D5-1F-30-01-00-01, Digital Signature"
    )
    assert find_issuer(supplier, cas) is ca["issuing-oca"]
    device = _certificate(pki / "certificates/device/00db12345678a003-ka.pem")
    assert (device.family, device.eui64, device.usage) == (
        "device",
        "00-DB-12-34-56-78-A0-03",
        "KA",
    )
    assert device.expiry_text == "no well-defined expiry"
    assert find_issuer(device, cas) is ca["issuing-dca"]
    roles = {_certificate(p).role_name for p in (pki / "certificates/organisation").glob("*.pem")}
    assert roles == {
        "supplier", "networkOperator", "accessControlBroker", "wanProvider", "loadController"
    }  # fmt: skip


def test_crls(pki: Path) -> None:
    issuing_oca = _certificate(pki / "certificates/ca/issuing-oca.pem")
    root_oca = _certificate(pki / "certificates/ca/root-oca.pem")
    first = _crl(pki / "crls/organisation-crl-0001.pem")
    arl = _crl(pki / "crls/organisation-arl-0001.pem")
    second = _crl(pki / "crls-later/organisation-crl-0002.pem")
    assert (first.kind, first.crl_number, len(first.revoked)) == ("CRL", 1, 2)
    assert (arl.kind, arl.crl_number, arl.revoked) == ("ARL", 1, ())
    assert (second.kind, second.crl_number) == ("CRL", 2)
    assert second.this_update > first.this_update
    assert verify_issued_by(first, issuing_oca) and verify_issued_by(second, issuing_oca)
    assert verify_issued_by(arl, root_oca) and not verify_issued_by(first, root_oca)
    # CRL 0001 revokes nothing in the repository; CRL 0002 adds the withdrawn WAN Provider DS.
    serials = {_certificate(p).serial for p in pki.rglob("certificates/**/*.pem")}
    assert not {r.serial for r in first.revoked} & serials
    withdrawn = _certificate(pki / "certificates/organisation/wanprovider-90b3d51f30060001-ds.pem")
    added = [r for r in second.revoked if r not in first.revoked]
    assert [(r.serial, r.reason) for r in added] == [(withdrawn.serial, "keyCompromise")]


def test_deterministic(tmp_path: Path, pki: Path) -> None:
    summary = sample_pki.build_pki(tmp_path, devices=DEVICES)
    for path in pki.rglob("*.pem"):
        assert (tmp_path / path.relative_to(pki)).read_bytes() == path.read_bytes(), path
    assert summary.withdrawn_path == "certificates/organisation/wanprovider-90b3d51f30060001-ds.pem"


def test_command_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert sample_pki.main([str(tmp_path), "--devices", "1", "--check"]) == 0
    out = capsys.readouterr().out
    assert "4 CA, 12 organisation and 2 device certificates, 3 CRLs/ARLs" in out
    assert "CRL 0002 revokes certificates/organisation/wanprovider-90b3d51f30060001-ds.pem" in out
    assert "checked: no lint errors" in out
