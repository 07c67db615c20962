"""Cross-references between logged certificates and CRLs.

Every certificate version gets its issuer (its AKI matched to the SKI of a
logged CA certificate, RFC 5280 §4.2.1.1, then the signature checked), its chain up
to a self-signed root, its DS/KA sibling (the party's or device's certificate
of the other key usage, GBCS §12) and its revocations (a logged CRL of the same
issuer listing its serial, RFC 5280 §5.1.2.6). Every CRL version gets its
issuer and, for each revoked serial, the certificates it names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from generator.site.facts import CertificateFacts, CrlFacts, ObjectFacts
from generator.site.model import Item, SiteModel, Version

MAX_CHAIN = 8
"""Longest issuer chain followed (SMKI chains have two or three links)."""

CA_PREFIX = "items/certificates/ca/"
"""Where the certificates that may issue others are logged."""


@dataclass(frozen=True)
class CertRef:
    """A logged certificate version, with its title for link text."""

    item: str
    number: int
    title: str


@dataclass(frozen=True)
class Issuer:
    """How a certificate or CRL's issuer was found.

    ``status`` is ``verified`` (AKI matches a logged certificate whose key signed
    it), ``self-signed``, ``bad-signature`` (an AKI match whose key did not sign
    it), ``not-logged`` (no logged certificate has that SKI) or ``no-aki``.
    """

    status: str
    ref: CertRef | None


@dataclass(frozen=True)
class Revocation:
    """A logged CRL version that lists a certificate's serial."""

    crl: CertRef
    date: str
    reason: str | None


@dataclass(frozen=True)
class CertificateLinks:
    """What a certificate version page links to."""

    issuer: Issuer
    chain: tuple[CertRef, ...]
    siblings: tuple[CertRef, ...]
    revocations: tuple[Revocation, ...]


@dataclass(frozen=True)
class RevokedRow:
    """One revoked serial of a CRL and the logged certificates it names."""

    serial: str
    date: str
    reason: str | None
    certificates: tuple[CertRef, ...]


@dataclass(frozen=True)
class CrlLinks:
    """What a CRL version page links to."""

    issuer: Issuer
    revoked: tuple[RevokedRow, ...]


@dataclass(frozen=True)
class PkiLinks:
    """The cross-references of every certificate and CRL version, by (item, version)."""

    certificates: Mapping[tuple[str, int], CertificateLinks]
    crls: Mapping[tuple[str, int], CrlLinks]


def _versions(items: Iterable[Item], kind: str) -> list[Version]:
    return [v for item in items if item.kind == kind for v in item.versions]


class _Resolver:
    def __init__(self, model: SiteModel, facts: ObjectFacts) -> None:
        self.facts = facts
        versions = _versions(model.items.values(), "certificate")
        self.by_ski: dict[str, list[tuple[Version, CertificateFacts]]] = {}
        for version in versions:  # issuers first: only a logged CA certificate issues
            if version.item.startswith(CA_PREFIX):
                f = facts.certificate(version.sha256)
                if f.ski is not None:
                    self.by_ski.setdefault(f.ski, []).append((version, f))
        self.certs: dict[tuple[str, int], tuple[Version, CertificateFacts, Issuer]] = {}
        self.by_serial: dict[tuple[str, str], list[CertRef]] = {}
        self.by_sibling: dict[tuple[str, ...], dict[str, tuple[CertRef, str | None]]] = {}
        for version in versions:  # each certificate is parsed once, then checked at once
            f = facts.certificate(version.sha256)
            issuer = self.issuer(version.sha256, f)
            self.certs[(version.item, version.number)] = (version, f, issuer)
            ref = CertRef(version.item, version.number, f.title)
            if f.serial is not None:
                self.by_serial.setdefault((f.issuer, f.serial), []).append(ref)
            if f.sibling is not None:  # the latest version of each item stands for it
                self.by_sibling.setdefault(f.sibling, {})[version.item] = (ref, f.usage)

    def issuer(self, sha256: str, f: CertificateFacts | CrlFacts) -> Issuer:
        crl = isinstance(f, CrlFacts)
        self_issued = isinstance(f, CertificateFacts) and f.self_issued
        if self_issued and self.facts.issued_by(sha256, sha256):
            return Issuer("self-signed", None)
        if f.aki is None:
            return Issuer("no-aki", None)
        candidates = self.by_ski.get(f.aki, [])
        for version, ca in candidates:
            if version.sha256 != sha256 and self.facts.issued_by(sha256, version.sha256, crl=crl):
                return Issuer("verified", CertRef(version.item, version.number, ca.title))
        if not candidates:
            return Issuer("not-logged", None)
        version, ca = candidates[0]
        return Issuer("bad-signature", CertRef(version.item, version.number, ca.title))

    def chain(self, first: Issuer) -> tuple[CertRef, ...]:
        chain: list[CertRef] = []
        issuer = first
        while issuer.status == "verified" and issuer.ref is not None and len(chain) < MAX_CHAIN:
            if issuer.ref in chain:
                break
            chain.append(issuer.ref)
            issuer = self.certs[(issuer.ref.item, issuer.ref.number)][2]
        return tuple(chain)

    def siblings(self, version: Version, f: CertificateFacts) -> tuple[CertRef, ...]:
        group = self.by_sibling.get(f.sibling, {}) if f.sibling is not None else {}
        return tuple(
            ref for path, (ref, usage) in sorted(group.items())
            if path != version.item and usage != f.usage
        )  # fmt: skip


def pki_links(model: SiteModel, facts: ObjectFacts) -> PkiLinks:
    """Resolve issuers, chains, siblings and revocations of every logged version."""
    r = _Resolver(model, facts)
    revoked_by: dict[tuple[str, str], list[Revocation]] = {}
    crl_links = {}
    for version in _versions(model.items.values(), "crl"):
        c = facts.crl(version.sha256)
        ref = CertRef(version.item, version.number, c.title)
        rows = []
        for row in c.revoked:
            revoked_by.setdefault((c.issuer, row.serial), []).append(
                Revocation(ref, row.date, row.reason)
            )
            named = tuple(r.by_serial.get((c.issuer, row.serial), ()))
            rows.append(RevokedRow(row.serial, row.date, row.reason, named))
        crl_links[(version.item, version.number)] = CrlLinks(
            r.issuer(version.sha256, c), tuple(rows)
        )
    cert_links = {}
    for key, (version, f, issuer) in r.certs.items():
        cert_links[key] = CertificateLinks(
            issuer=issuer,
            chain=r.chain(issuer),
            siblings=r.siblings(version, f),
            revocations=tuple(revoked_by.get((f.issuer, f.serial or ""), ())),
        )
    return PkiLinks(cert_links, crl_links)
