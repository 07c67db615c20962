"""The sample repository in content/ replays clean and tells its story (docs/sample.md)."""

from __future__ import annotations

from collections import Counter

from generator.repository.entries import (
    LodgeEntry,
    NoteEntry,
    PolicyEntry,
    RatifyEntry,
    ViolationEntry,
    WithdrawEntry,
)
from generator.repository.history import GitHistory
from generator.repository.replay import replay_history
from tests.conftest import ROOT


def test_sample_history_replays_clean_and_tells_its_story() -> None:
    with GitHistory(ROOT / "content") as history:
        replay = replay_history(history)
    assert replay.problems == []
    kinds = Counter(type(e).__name__ for e in replay.entries)
    assert kinds["LodgeEntry"] >= 4 + 12 + 100 + 2 + 12 + 1
    policies = [e for e in replay.entries if isinstance(e, PolicyEntry)]
    assert [p.version for p in policies] == [1, 2]
    (violation,) = [e for e in replay.entries if isinstance(e, ViolationEntry)]
    assert violation.path == "items/documents/smki-code-of-connection.md"
    (ratify,) = [e for e in replay.entries if isinstance(e, RatifyEntry)]
    assert replay.entries[ratify.violation] == violation
    (withdraw,) = [e for e in replay.entries if isinstance(e, WithdrawEntry)]
    assert "wanprovider" in withdraw.item
    assert any(isinstance(e, LodgeEntry) and e.item.endswith("organisation-crl-0002.pem")
               for e in replay.entries)
    rejected = replay.ledger.notes["approvals/PMA-2026-004.note"].approval
    assert rejected is not None and rejected.decision == "rejected"
    notes = {e.id for e in replay.entries if isinstance(e, NoteEntry)}
    assert {"PMA-2019-001", "PMA-2019-052", "PMA-2019-073", "PMA-2025-011"} <= notes
