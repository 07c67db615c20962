"""What a replay found, for people: the pull-request summary of ``smki check``.

Lists the events a change adds, each unauthorised change, and for every approval
the PMA keys that have signed and those that still can — "who still has to sign".
"""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass

from generator.repository.entries import NoteEntry, entry_summary
from generator.repository.governance import Ledger, NoteRecord
from generator.repository.replay import Replay


@dataclass(frozen=True)
class SignatureStatus:
    """How far an approval is from the threshold of the policy in force."""

    id: str
    signed: tuple[str, ...]  # "role (key name)" of each valid PMA signature
    missing: tuple[str, ...]  # PMA keys that have not signed yet
    threshold: int

    @property
    def met(self) -> bool:
        """Whether enough distinct PMA keys have signed."""
        return len(self.signed) >= self.threshold


def signature_status(ledger: Ledger, record: NoteRecord) -> SignatureStatus:
    """Which PMA keys of the policy in force signed ``record`` and which have not."""
    policy = ledger.require_policy()
    signed = ledger.signers(record)
    names = {g.verifier: f"{g.role} ({g.verifier.name})" for g in policy.pma}
    return SignatureStatus(
        record.id,
        tuple(sorted(names[v] for v in signed if v in names)),
        tuple(sorted(n for v, n in names.items() if v not in signed)),
        policy.threshold,
    )


def check_summary(replay: Replay, old_commits: Container[str]) -> str:
    """A Markdown summary of the events after ``old_commits``, the problems and the approvals."""
    lines = ["## smki check", ""]
    new = [(i, e) for i, e in enumerate(replay.entries) if e.commit not in old_commits]
    lines.append(f"{len(new)} new log entr{'y' if len(new) == 1 else 'ies'}:")
    lines.append("")
    lines += [f"* `{i}` {entry_summary(e)}" for i, e in new] or ["* (none)"]
    approvals = [
        replay.ledger.notes[f"approvals/{e.id}.note"]
        for _, e in new
        if isinstance(e, NoteEntry) and e.kind == "approval"
    ]
    if approvals:
        lines += [
            "",
            "### Approvals",
            "",
            "| approval | signed | still to sign | threshold |",
            "|---|---|---|---|",
        ]
        for record in dict.fromkeys(approvals):
            status = signature_status(replay.ledger, record)
            mark = (
                "met" if status.met else f"**{status.threshold - len(status.signed)} more needed**"
            )
            lines.append(
                f"| {status.id} | {', '.join(status.signed) or '—'} | "
                f"{', '.join(status.missing) or '—'} | {status.threshold}: {mark} |"
            )
    lines += ["", "### Problems", ""]
    lines += [f"* {p}" for p in replay.problems] or ["* none: every change is authorised"]
    return "\n".join(lines) + "\n"
