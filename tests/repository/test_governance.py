"""Table-driven governance cases (DESIGN §5), each on a real git repository.

One line per case: what happens, and what the replay must conclude — ``None``
for "accepted", else a fragment of the refusal message.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from generator.errors import ContentError, GovernanceError
from generator.repository.authorisation import Change
from generator.repository.content import MAX_ITEM_SIZE
from generator.repository.entries import (
    AmendEntry,
    LodgeEntry,
    PolicyEntry,
    RatifyEntry,
    ViolationEntry,
    WithdrawEntry,
)
from tests.repository.gitrepo import ContentRepo, sha

A = "items/documents/a.md"
B = "items/documents/b.md"
V1, V2 = b"# A\n", b"# A, amended\n"

Scenario = Callable[[ContentRepo], None]


def amend(
    signers: tuple[str, ...] = ("pma-chair", "pma-member-b"),
    *,
    old: bytes = V1,
    new: bytes = V2,
    item: str = A,
    same_commit: bool = True,
) -> Scenario:
    """Genesis, then amend a.md V1→V2 under an approval naming ``item`` old→new."""

    def run(repo: ContentRepo) -> None:
        repo.genesis({A: V1})
        repo.approval("PMA-1", [Change("amend", item, sha(old), sha(new))], signers)
        if not same_commit:
            repo.commit("approval")
        repo.write(A, V2)
        repo.commit("amend")

    return run


def approval_after_change(repo: ContentRepo) -> None:
    repo.genesis({A: V1})
    repo.write(A, V2)
    repo.commit("unapproved amend")
    repo.approval("PMA-1", [Change("amend", A, sha(V1), sha(V2))])
    repo.commit("late approval")


def approval_reused(repo: ContentRepo) -> None:
    amend(same_commit=False)(repo)
    repo.approval("PMA-2", [Change("amend", A, sha(V2), sha(V1))])
    repo.write(A, V1)
    repo.commit("back")
    repo.write(A, V2)
    repo.commit("again, reusing PMA-1")


def approval_edited(signed: bool) -> Scenario:
    """Edit a logged approval's text: re-signed by the PMA, or with its old signatures."""

    def run(repo: ContentRepo) -> None:
        amend(same_commit=False)(repo)
        if signed:
            repo.approval("PMA-1", [Change("amend", A, sha(V1), sha(V1 + b"x"))])
        else:
            note = repo.read("approvals/PMA-1.note")
            repo.write("approvals/PMA-1.note", note.replace(b'"test"', b'"edited"'))
        repo.commit("edit a logged approval")

    return run


def approval_removed(repo: ContentRepo) -> None:
    amend(same_commit=False)(repo)
    repo.delete("approvals/PMA-1.note")
    repo.commit("remove a logged approval")


def approval_gains_signature(repo: ContentRepo) -> None:
    repo.genesis({A: V1})
    repo.approval("PMA-1", [Change("amend", A, sha(V1), sha(V2))], ("pma-chair",))
    repo.commit("one signature")
    repo.approval("PMA-1", [Change("amend", A, sha(V1), sha(V2))], ("pma-chair", "pma-member-c"))
    repo.write(A, V2)
    repo.commit("second signature, and the change")


def rejected_decision(repo: ContentRepo) -> None:
    repo.genesis({A: V1})
    repo.approval("PMA-1", [Change("amend", A, sha(V1), sha(V2))], decision="rejected")
    repo.write(A, V2)
    repo.commit("amend under a rejection")


def rotation(
    signers: tuple[str, ...],
    *,
    with_change: bool = False,
    new_pma: tuple[str, ...] = ("pma-chair", "pma-member-b", "pma-member-d"),
) -> Scenario:
    """Rotate member-c out for member-d, signed by ``signers``; maybe amend in that commit."""

    def run(repo: ContentRepo) -> None:
        repo.genesis({A: V1})
        repo.policy(version=2, pma=new_pma, threshold=2 if len(new_pma) > 1 else 1, signers=signers)
        if with_change:
            repo.approval(
                "PMA-1", [Change("amend", A, sha(V1), sha(V2))], ("pma-chair", "pma-member-d")
            )
            repo.write(A, V2)
        repo.commit("rotate")

    return run


def rotation_then_old_key(repo: ContentRepo) -> None:
    rotation(("pma-chair", "pma-member-b", "pma-member-d"))(repo)
    repo.approval("PMA-1", [Change("amend", A, sha(V1), sha(V2))], ("pma-chair", "pma-member-c"))
    repo.write(A, V2)
    repo.commit("approval signed with a rotated-out key")


def rename(approved: bool) -> Scenario:
    def run(repo: ContentRepo) -> None:
        repo.genesis({A: V1})
        repo.git("mv", A, B)
        if approved:
            repo.approval("PMA-1", [Change("withdraw", A, sha(V1), None)])
            repo.lodgement("LDG-1", [B])
        repo.commit("rename")

    return run


def case_rename(repo: ContentRepo) -> None:
    repo.genesis({A: V1})
    upper = "items/documents/A.md"
    repo.git("mv", A, upper)
    repo.approval("PMA-1", [Change("withdraw", A, sha(V1), None)])
    repo.lodgement("LDG-1", [upper])
    repo.commit("case-only rename, both authorised")


def case_clash(repo: ContentRepo) -> None:
    repo.genesis({A: V1})
    repo.write("items/documents/A.md", V2)
    repo.lodgement("LDG-1", ["items/documents/A.md"])
    repo.commit("a second item differing only in case")


def delete(approved: bool) -> Scenario:
    def run(repo: ContentRepo) -> None:
        repo.genesis({A: V1})
        if approved:
            repo.approval("PMA-1", [Change("withdraw", A, sha(V1), None)])
        repo.delete(A)
        repo.commit("withdraw")

    return run


def mode_change(repo: ContentRepo) -> None:
    repo.genesis({A: V1})
    os.chmod(repo.path / A, 0o755)
    repo.commit("chmod +x")


def symlink(repo: ContentRepo) -> None:
    repo.genesis({A: V1})
    os.symlink("/etc/passwd", repo.path / "items/documents/passwd.md")
    repo.commit("symlink to outside the repository")


def raw_approval(text: str | bytes) -> Scenario:
    """Commit an approval note with hand-written (hostile) text, signed by two PMA keys."""

    def run(repo: ContentRepo) -> None:
        from generator.tlog.note import Signature
        from tests.repository.gitrepo import key

        repo.genesis({A: V1})
        raw = text.encode() if isinstance(text, str) else text
        try:
            body = raw.decode()
            sigs = [
                Signature(k.name, k.key_id, k.sign(raw))
                for k in (key("pma-chair"), key("pma-member-b"))
            ]
            raw = (body + "\n" + "".join(s.line + "\n" for s in sigs)).encode()
        except UnicodeDecodeError:
            raw += b"\n\xe2\x80\x94 smki-pma.example/chair AAAAAAA=\n"
        repo.write("approvals/PMA-X.note", raw)
        repo.commit("hostile note")

    return run


TRAVERSAL = (
    'smki-approval/v1\nid = "PMA-X"\ndecision_ref = "r"\ndecided = "2026-01-01"\n'
    'decision = "approved"\n[[changes]]\naction = "withdraw"\n'
    'item = "items/../policy.note"\nfrom = "' + "0" * 64 + '"\n'
)


def lodge_by(signer: str, item: str) -> Scenario:
    def run(repo: ContentRepo) -> None:
        repo.policy(
            lodgers={
                "lodger-dcc": ["items/certificates/**"],
                "lodger-secas": ["items/documents/**"],
            }
        )
        repo.write(A, V1)
        repo.lodgement("LDG-0", [A], "lodger-secas")
        repo.commit("genesis")
        repo.write(item, b"new item\n")
        repo.lodgement("LDG-1", [item], signer)
        repo.commit("lodge")

    return run


def ca_lodged(with_approval: bool) -> Scenario:
    def run(repo: ContentRepo) -> None:
        repo.genesis({A: V1})
        ca = "items/certificates/ca/root.pem"
        data = repo.write(ca, b"root certificate\n")
        repo.lodgement("LDG-1", [ca])
        if with_approval:
            repo.approval("PMA-1", [Change("lodge", ca, None, sha(data))])
        repo.commit("new root CA")

    return run


def unlodged_genesis(repo: ContentRepo) -> None:
    repo.policy()
    repo.write(A, V1)
    repo.write(B, b"# B\n")
    repo.lodgement("LDG-0", [A])
    repo.commit("genesis with an unlodged item")


def binary_item(repo: ContentRepo) -> None:
    repo.genesis({"items/documents/scan.pdf": b"%PDF-1.7\n\x00\xff\xfe binary \x00\n"})


def big_lodgement(repo: ContentRepo) -> None:
    files = {f"items/certificates/device/{i:04d}.pem": f"device {i}\n" for i in range(300)}
    repo.policy()
    for path, data in files.items():
        repo.write(path, data)
    repo.lodgement("LDG-0", list(files), manifest=True)
    repo.commit("genesis: 300 devices through a manifest")


def ratified(signers: tuple[str, ...]) -> Scenario:
    def run(repo: ContentRepo) -> None:
        repo.genesis({A: V1})
        repo.write(A, V2)
        bad = repo.commit("unapproved edit (an incident)")
        repo.approval("PMA-R", [Change("ratify", A, sha(V1), sha(V2), bad)], signers)
        repo.commit("ratify the incident")

    return run


CASES: list[tuple[str, Scenario, str | None]] = [
    ("2-of-3, two distinct keys (Ed25519 + ECDSA P-256): accepted", amend(), None),
    ("2-of-3, Ed25519 keys only: accepted", amend(("pma-chair", "pma-member-c")), None),
    ("2-of-3, one key: refused", amend(("pma-chair",)), "1 valid PMA signature(s), needs 2"),
    ("2-of-3, same key twice: refused", amend(("pma-chair", "pma-chair")), "needs 2"),
    (
        "2-of-3, one known + one unknown key: refused",
        amend(("pma-chair", "pma-member-d")),
        "needs 2",
    ),
    ("approval in an earlier commit: accepted", amend(same_commit=False), None),
    ("wrong from-digest: refused", amend(old=b"other\n"), "amend without authorisation"),
    ("wrong to-digest: refused", amend(new=b"other\n"), "amend without authorisation"),
    ("approval for another item: refused", amend(item=B), "amend without authorisation"),
    ("approval reused for a second change: refused", approval_reused, "already used"),
    (
        "approval committed after the change: refused",
        approval_after_change,
        "amend without authorisation",
    ),
    (
        "approval edited and re-signed after logging: refused",
        approval_edited(True),
        "may only gain signatures",
    ),
    (
        "approval edited under its old signatures: refused",
        approval_edited(False),
        "invalid signature",
    ),
    ("approval removed after logging: refused", approval_removed, "never removed"),
    ("approval gains its second signature later: accepted", approval_gains_signature, None),
    ("rejected decision authorises nothing: refused", rejected_decision, "is rejected"),
    (
        "policy rotation signed by old and new thresholds: accepted",
        rotation(("pma-chair", "pma-member-b")),
        None,
    ),
    (
        "policy rotation signed only by the new key: refused",
        rotation(("pma-member-d",), new_pma=("pma-member-d",)),
        "of the previous PMA keys",
    ),
    (
        "policy rotation relying on itself in the same commit: refused",
        rotation(("pma-chair", "pma-member-b"), with_change=True),
        "needs 2",
    ),
    ("rotated-out key no longer counts: refused", rotation_then_old_key, "needs 2"),
    ("rename with withdraw + lodge: accepted", rename(True), None),
    ("rename without authorisation: refused", rename(False), "without authorisation"),
    ("case-only rename, both authorised: accepted", case_rename, None),
    ("second item differing only in case: refused", case_clash, "only in letter case"),
    ("approved delete: accepted", delete(True), None),
    ("unapproved delete: refused", delete(False), "withdraw without authorisation"),
    ("mode change to executable: refused", mode_change, "cannot be executable"),
    ("symlink to outside the repository: refused", symlink, "symbolic link"),
    ("path traversal in a note's item path: refused", raw_approval(TRAVERSAL), "not allowed"),
    (
        "invalid TOML in a note: refused",
        raw_approval("smki-approval/v1\nid = = 1\n"),
        "invalid TOML",
    ),
    (
        "invalid UTF-8 in a note: refused",
        raw_approval(b'smki-approval/v1\nid = "\xff"\n'),
        "not valid UTF-8",
    ),
    (
        "a note with a tab: refused",
        raw_approval('smki-approval/v1\nid =\t"x"\n'),
        "control character",
    ),
    (
        "a note with a CR: refused",
        raw_approval('smki-approval/v1\r\nid = "x"\n'),
        "control character",
    ),
    ("lodgement by the lodger allowed for the path: accepted", lodge_by("lodger-secas", B), None),
    (
        "lodgement by a key not allowed for the path: refused",
        lodge_by("lodger-secas", "items/crls/x.crl"),
        "not signed by a lodger allowed",
    ),
    ("new root CA lodged without PMA approval: refused", ca_lodged(False), "needs a PMA approval"),
    ("new root CA lodged with PMA approval: accepted", ca_lodged(True), None),
    ("item at genesis without a lodgement: refused", unlodged_genesis, "lodge without"),
    ("binary item: accepted", binary_item, None),
    ("300 items lodged through one signed manifest: accepted", big_lodgement, None),
    ("incident ratified by 2-of-3: accepted", ratified(("pma-chair", "pma-member-b")), None),
    (
        "incident ratification with one signature: refused",
        ratified(("pma-chair",)),
        "amend without authorisation",
    ),
]


@pytest.mark.parametrize(("scenario", "expect"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_governance_case(tmp_path: Path, scenario: Scenario, expect: str | None) -> None:
    repo = ContentRepo(tmp_path / "repo")
    scenario(repo)
    replay = repo.replay()
    problems = [str(p) for p in replay.problems]
    if expect is None:
        assert problems == []
    else:
        assert problems, "the change was accepted but should be refused"
        assert expect in problems[0], problems[0]


def test_refusal_names_commit_item_digests_and_needed_approval(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    repo.genesis({A: V1})
    repo.write(A, V2)
    bad = repo.commit("edit without approval")
    (problem,) = repo.replay().problems
    text = str(problem)
    assert bad[:12] in text and A in text
    assert sha(V1) in text and sha(V2) in text
    assert 'action = "amend"' in text and "2 of the 3 PMA keys" in text
    assert f"smki approve --ratify {bad}" in text


def test_entries_of_a_story(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    ratified(("pma-chair", "pma-member-b"))(repo)
    repo.approval("PMA-2", [Change("withdraw", A, sha(V2), None)])
    repo.delete(A)
    repo.commit("withdraw")
    entries = repo.replay().entries
    kinds = [type(e) for e in entries]
    assert kinds[0] is PolicyEntry
    assert LodgeEntry in kinds and WithdrawEntry in kinds and AmendEntry not in kinds
    violation = kinds.index(ViolationEntry)
    ratify = entries[kinds.index(RatifyEntry)]
    assert isinstance(ratify, RatifyEntry) and ratify.violation == violation
    assert all(e.time.endswith("Z") for e in entries)


def test_only_first_parent_commits_count(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    repo.genesis({A: V1})
    repo.git("checkout", "-q", "-b", "feature")
    repo.write(A, b"draft, never approved\n")
    repo.commit("work in progress on a branch")
    repo.write(A, V2)
    repo.approval("PMA-1", [Change("amend", A, sha(V1), sha(V2))])
    repo.commit("finished, approved")
    repo.git("checkout", "-q", "main")
    repo.git("merge", "-q", "--no-ff", "-m", "merge feature", "feature")
    replay = repo.replay()
    assert replay.problems == []
    assert sum(isinstance(e, AmendEntry) for e in replay.entries) == 1


def test_worktree_changes_are_checked(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    repo.genesis({A: V1})
    repo.write(A, V2)
    assert repo.replay().problems == []
    (problem,) = repo.replay(worktree=True).problems
    assert "the working tree" in str(problem)


def test_genesis_policy_must_meet_its_threshold(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    repo.policy(signers=("pma-chair",))
    repo.write(A, V1)
    repo.lodgement("LDG-0", [A])
    repo.commit("under-signed genesis")
    with pytest.raises(GovernanceError, match="cannot start the log"):
        repo.replay()


def test_oversized_item_has_a_clear_limit(tmp_path: Path) -> None:
    repo = ContentRepo(tmp_path / "repo")
    repo.genesis({A: V1})
    repo.write("items/documents/huge.pdf", b"\0" * (MAX_ITEM_SIZE + 1))
    repo.lodgement("LDG-1", ["items/documents/huge.pdf"])
    repo.commit("a 64 MiB + 1 byte item")
    with pytest.raises(ContentError, match="limit"):
        repo.replay()
