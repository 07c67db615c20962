"""A content repository in a temporary git repo, driven step by step by tests."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterable, Mapping
from pathlib import Path

from generator.repository.authorisation import (
    Approval,
    Change,
    LodgedItem,
    Lodgement,
    approval_text,
    format_manifest,
    lodgement_text,
)
from generator.repository.history import GitHistory
from generator.repository.policy import policy_text
from generator.repository.replay import Replay, replay_history
from generator.tlog.note import Signer, parse_signer, sign_note

KEYS = Path(__file__).resolve().parents[1] / "keys"


def key(name: str) -> Signer:
    """A published demo key from tests/keys."""
    return parse_signer((KEYS / f"{name}.key").read_text())


PMA3 = ("pma-chair", "pma-member-b", "pma-member-c")
DCC = "lodger-dcc"


def sha(data: bytes) -> str:
    """Hex SHA-256."""
    return hashlib.sha256(data).hexdigest()


class ContentRepo:
    """A git repository whose root is a content root."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.clock = 1_700_000_000
        path.mkdir(parents=True, exist_ok=True)
        self.git("init", "-q", "-b", "main")

    def git(self, *args: str) -> str:
        """Run git in the repository; return stdout."""
        env = {
            **os.environ,
            "GIT_AUTHOR_NAME": "t",
            "GIT_AUTHOR_EMAIL": "t@example.org",
            "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@example.org",
            "GIT_AUTHOR_DATE": f"{self.clock} +0000",
            "GIT_COMMITTER_DATE": f"{self.clock} +0000",
        }
        return subprocess.run(
            ["git", *args], cwd=self.path, env=env, check=True, capture_output=True, text=True
        ).stdout

    def write(self, rel: str, data: bytes | str) -> bytes:
        """Write a file (bytes or text) and return its bytes."""
        raw = data.encode() if isinstance(data, str) else data
        target = self.path / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(raw)
        return raw

    def read(self, rel: str) -> bytes:
        """The bytes of a file in the working tree."""
        return (self.path / rel).read_bytes()

    def delete(self, rel: str) -> None:
        """Remove a file from the working tree."""
        (self.path / rel).unlink()

    def commit(self, message: str = "change") -> str:
        """Commit everything; return the commit id."""
        self.clock += 60
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message)
        return self.git("rev-parse", "HEAD").strip()

    def policy(
        self,
        *,
        version: int = 1,
        pma: Iterable[str] = PMA3,
        threshold: int = 2,
        signers: Iterable[str] | None = None,
        lodgers: Mapping[str, Iterable[str]] | None = None,
        pma_lodge: Iterable[str] = ("items/certificates/ca/**",),
        lodger_amend: Iterable[str] = (),
    ) -> None:
        """Write policy.note signed by ``signers`` (default: all PMA keys)."""
        pma = tuple(pma)
        lodgers = lodgers if lodgers is not None else {DCC: ["items/**"]}
        text = policy_text(
            version=version,
            origin="smki.example/test-log",
            threshold=threshold,
            pma=[(key(k).verifier().vkey, k) for k in pma],
            lodgers=[(key(k).verifier().vkey, k, p) for k, p in lodgers.items()],
            pma_lodge=pma_lodge,
            lodger_amend=lodger_amend,
        )
        who = pma if signers is None else tuple(signers)
        self.write("policy.note", sign_note(text, [key(k) for k in who]))

    def lodgement(
        self, note_id: str, items: Iterable[str], signer: str = DCC, *, manifest: bool = False
    ) -> None:
        """Lodge the named working-tree files."""
        lodged = tuple(LodgedItem(p, sha(self.read(p))) for p in sorted(items))
        if manifest:
            data = format_manifest(lodged)
            self.write(f"lodgements/{note_id}.manifest", data)
            lodgement = Lodgement(note_id, signer, (), sha(data))
        else:
            lodgement = Lodgement(note_id, signer, lodged, None)
        self.write(
            f"lodgements/{note_id}.note", sign_note(lodgement_text(lodgement), [key(signer)])
        )

    def approval(
        self,
        note_id: str,
        changes: Iterable[Change],
        signers: Iterable[str] = ("pma-chair", "pma-member-b"),
        decision: str = "approved",
    ) -> bytes:
        """Write an approval of ``changes`` signed by ``signers``; return the note bytes."""
        approval = Approval(
            note_id,
            "SMKI_PMA_TEST",
            "2026-01-01",
            decision,
            "SEC L5.6A",
            "test",
            None,
            tuple(changes),
        )
        return self.write(
            f"approvals/{note_id}.note",
            sign_note(approval_text(approval), [key(k) for k in signers]),
        )

    def genesis(self, files: Mapping[str, bytes | str] | None = None) -> str:
        """Commit a signed policy and lodged items; return the commit id."""
        self.policy()
        for path, data in (files or {"items/documents/a.md": "# A\n"}).items():
            self.write(path, data)
        self.lodgement("LDG-0", list((files or {"items/documents/a.md": ""}).keys()))
        return self.commit("genesis")

    def replay(self, *, worktree: bool = False) -> Replay:
        """Replay the repository's history."""
        with GitHistory(self.path) as history:
            return replay_history(history, worktree=worktree)
