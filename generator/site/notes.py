"""Signed authorisations as the site shows them: approvals and lodgements, their signatures.

Every signature line is verified at build time against the keys of the policy in
force when the note was logged (C2SP signed-note: a known key's signature must
verify; an unknown key is shown as such, never trusted), and every change a note
names is matched with the log entry that used it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from generator.repository.authorisation import Approval, Lodgement
from generator.repository.entries import Entry
from generator.repository.governance import NoteRecord
from generator.repository.policy import Policy
from generator.tlog.note import ALGORITHM_NAMES, Note, Verifier


@dataclass(frozen=True)
class SignatureView:
    """One signature line of a note, checked at build time.

    ``valid`` is None when the key is not in the policy in force at ``index``
    (the entry that first carried this signature line).
    """

    name: str
    key_id: str
    algorithm: str | None
    role: str | None
    valid: bool | None
    index: int


@dataclass(frozen=True)
class ChangeView:
    """A change a note names, and the log entry that used it (if any)."""

    action: str
    item: str
    from_sha256: str | None
    to_sha256: str | None
    commit: str | None
    used_by: int | None


@dataclass(frozen=True)
class Authorisation:
    """An approval or lodgement, as last logged (a note may gain signatures)."""

    kind: str
    id: str
    indexes: tuple[int, ...]
    commit: str
    time: str
    note: str
    approval: Approval | None
    lodgement: Lodgement | None
    changes: tuple[ChangeView, ...]
    signatures: tuple[SignatureView, ...]
    pma_signatures: int
    threshold: int
    policy_version: int


def check_signatures(
    note: Note, keys: Iterable[Verifier], policies: Iterable[Policy], first_seen: Mapping[str, int]
) -> tuple[SignatureView, ...]:
    """Each signature line of ``note``, verified against ``keys`` (C2SP signed-note).

    ``first_seen`` gives the log index where each line (by text) first appeared.
    """
    known = {(k.name, k.key_id): k for k in keys}
    message = note.text.encode()
    out = []
    for sig in note.signatures:
        key = known.get((sig.name, sig.key_id))
        role = next((r for p in policies if (r := p.role_of(sig.name, sig.key_id))), None)
        out.append(
            SignatureView(
                name=sig.name,
                key_id=f"{sig.key_id:08x}",
                algorithm=ALGORITHM_NAMES.get(key.alg) if key else None,
                role=role,
                valid=key.verify(message, sig.signature) if key else None,
                index=first_seen[sig.line],
            )
        )
    return tuple(out)


def policy_keys(policy: Policy) -> tuple[Verifier, ...]:
    """Every key a policy knows: the PMA's and the lodgers'."""
    return (*policy.pma_verifiers, *(g.verifier for g in policy.lodgers))


def _changes(record: NoteRecord, used: Mapping[tuple[str, object], int]) -> tuple[ChangeView, ...]:
    if record.approval is not None:
        return tuple(
            ChangeView(c.action, c.item, c.from_sha256, c.to_sha256, c.commit,
                       used.get((record.path, (c.action, c.item, c.from_sha256, c.to_sha256))))
            for c in record.approval.changes
        )  # fmt: skip
    return tuple(
        ChangeView("replace" if i.from_sha256 else "lodge", i.item, i.from_sha256, i.sha256, None,
                   used.get((record.path, i)))
        for i in sorted(record.items, key=lambda i: i.item)
    )  # fmt: skip


def authorisation(
    records: Sequence[NoteRecord],
    first: Entry,
    policy: Policy,
    used: Mapping[tuple[str, object], int],
) -> Authorisation:
    """A note as last logged (``records``, oldest first), checked under ``policy``.

    ``first`` is the entry that first logged it; ``used`` maps (note path, change)
    to the entry that used the change.
    """
    last = records[-1]
    seen: dict[str, int] = {}
    for record in records:
        for sig in record.note.signatures:
            seen.setdefault(sig.line, record.index)
    signatures = check_signatures(last.note, policy_keys(policy), [policy], seen)
    pma = {(k.name, f"{k.key_id:08x}") for k in policy.pma_verifiers}
    return Authorisation(
        kind=last.kind,
        id=last.id,
        indexes=tuple(r.index for r in records),
        commit=first.commit,
        time=first.time,
        note=last.note.to_bytes().decode(),
        approval=last.approval,
        lodgement=last.lodgement,
        changes=_changes(last, used),
        signatures=signatures,
        pma_signatures=len({(s.name, s.key_id) for s in signatures if s.valid} & pma),
        threshold=policy.threshold,
        policy_version=policy.version,
    )
