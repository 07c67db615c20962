"""The trust policy (``policy.note``, ``smki-policy/v1``): who may approve and lodge.

The policy names the log origin, the SMKI PMA keys and their threshold, the
lodger keys with the item paths each may lodge, and two rules: paths whose
lodging needs a PMA approval (``pma_lodge``) and paths a lodger may replace
without one (``lodger_amend``, e.g. a CRL kept at one path; the recommended
model lodges each CRL as a new item, so it is empty by default).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from generator.errors import ContentError
from generator.repository.content import glob_match, matches_any
from generator.repository.toml_body import Fields, dump_toml, split_kind
from generator.tlog.errors import MalformedError
from generator.tlog.note import Verifier, is_valid_name, parse_verifier

POLICY_KIND = "smki-policy/v1"


@dataclass(frozen=True)
class KeyGrant:
    """A key the policy trusts, with the role of its holder."""

    verifier: Verifier
    role: str


@dataclass(frozen=True)
class LodgerGrant:
    """A lodger key and the item path patterns it may lodge."""

    verifier: Verifier
    role: str
    paths: tuple[str, ...]


@dataclass(frozen=True)
class Policy:
    """A parsed trust policy (its signatures are checked by the governance engine)."""

    version: int
    origin: str
    threshold: int
    pma: tuple[KeyGrant, ...]
    lodgers: tuple[LodgerGrant, ...]
    pma_lodge: tuple[str, ...]
    lodger_amend: tuple[str, ...]

    @property
    def pma_verifiers(self) -> tuple[Verifier, ...]:
        """The PMA members' verifier keys."""
        return tuple(g.verifier for g in self.pma)

    def lodgers_for(self, item: str) -> tuple[Verifier, ...]:
        """The lodger keys allowed to lodge ``item``."""
        return tuple(g.verifier for g in self.lodgers if matches_any(g.paths, item))

    def needs_pma_to_lodge(self, item: str) -> bool:
        """Report whether lodging ``item`` needs a PMA approval (a lodgement is not enough)."""
        return matches_any(self.pma_lodge, item)

    def lodger_may_amend(self, item: str) -> bool:
        """Report whether a lodgement may replace ``item`` without a PMA approval."""
        return matches_any(self.lodger_amend, item)

    def role_of(self, name: str, key_id: int) -> str | None:
        """The role recorded for a key, or None if the policy does not know it."""
        grants: list[KeyGrant | LodgerGrant] = [*self.pma, *self.lodgers]
        for grant in grants:
            if (grant.verifier.name, grant.verifier.key_id) == (name, key_id):
                return grant.role
        return None


def _verifier(fields: Fields, where: str) -> Verifier:
    try:
        return parse_verifier(fields.need_text("key"))
    except MalformedError as error:
        raise ContentError(f"{where}: {error}") from None


def _patterns(patterns: Iterable[str], where: str) -> tuple[str, ...]:
    out = tuple(patterns)
    for pattern in out:
        if not pattern.startswith("items/") or ".." in pattern:
            raise ContentError(f"{where}: path pattern {pattern!r} must start with items/")
        glob_match(pattern, "items/x")  # compiles the pattern
    return out


def parse_policy(text: str, where: str = "policy.note") -> Policy:
    """Parse the text of a policy note, checking its structure and keys."""
    fields = Fields(split_kind(text, POLICY_KIND, where), where)
    version = fields.integer("version")
    origin = fields.need_text("origin")
    threshold = fields.integer("threshold")
    pma_tables, lodger_tables = fields.tables("pma"), fields.tables("lodger")
    pma = tuple(
        KeyGrant(_verifier(f, where), f.text("role", required=False) or "SMKI PMA member")
        for f in pma_tables
    )
    lodgers = tuple(
        LodgerGrant(
            _verifier(f, where),
            f.text("role", required=False) or "lodger",
            _patterns(f.texts("paths"), where),
        )
        for f in lodger_tables
    )
    policy = Policy(
        version,
        origin,
        threshold,
        pma,
        lodgers,
        _patterns(fields.texts("pma_lodge"), where),
        _patterns(fields.texts("lodger_amend"), where),
    )
    for f in (*pma_tables, *lodger_tables):
        f.done()
    fields.done()
    if version < 1:
        raise ContentError(f"{where}: version must be 1 or more")
    if not is_valid_name(origin):
        raise ContentError(f"{where}: origin {origin!r} is not a valid key name")
    if not pma:
        raise ContentError(f"{where}: no PMA keys")
    if not 1 <= threshold <= len(pma):
        raise ContentError(f"{where}: threshold {threshold} must be 1–{len(pma)}")
    ids = [(g.verifier.name, g.verifier.key_id) for g in pma]
    if len(set(ids)) != len(ids):
        raise ContentError(f"{where}: a PMA key is listed twice")
    return policy


def policy_text(
    *,
    version: int,
    origin: str,
    threshold: int,
    pma: Iterable[tuple[str, str]],
    lodgers: Iterable[tuple[str, str, Iterable[str]]],
    pma_lodge: Iterable[str] = ("items/certificates/ca/**",),
    lodger_amend: Iterable[str] = (),
) -> str:
    """The text of a policy note: ``pma`` as (vkey, role), ``lodgers`` as (vkey, role, paths)."""
    body = dump_toml(
        {
            "version": version,
            "origin": origin,
            "threshold": threshold,
            "pma_lodge": list(pma_lodge),
            "lodger_amend": list(lodger_amend),
        },
        {
            "pma": [{"key": k, "role": r} for k, r in pma],
            "lodger": [{"key": k, "role": r, "paths": list(p)} for k, r, p in lodgers],
        },
    )
    text = f"{POLICY_KIND}\n{body}"
    parse_policy(text)
    return text
