"""Writing authorisations: ``smki init``, ``sign``, ``lodge`` and ``approve``.

These are the steps PMA members and lodgers take; they only write files in
the content root (the governance engine judges them when they are committed).
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from generator.errors import ContentError, HistoryError, UsageError
from generator.files import atomic_write
from generator.repository.authorisation import (
    APPROVAL_KIND,
    LODGEMENT_KIND,
    Approval,
    Change,
    LodgedItem,
    Lodgement,
    approval_text,
    format_manifest,
    lodgement_text,
)
from generator.repository.content import (
    APPROVALS_DIR,
    FAMILIES,
    ITEMS_DIR,
    LODGEMENTS_DIR,
    MANIFEST_SUFFIX,
    POLICY_PATH,
    PathKind,
    classify,
    is_valid_note_id,
    path_problem,
)
from generator.repository.governance import ratification_of
from generator.repository.history import GitHistory
from generator.repository.policy import POLICY_KIND, Policy, parse_policy, policy_text
from generator.repository.replay import replay_history
from generator.tlog.errors import MalformedError
from generator.tlog.note import Signature, Signer, Verifier, parse_note, parse_verifier, sign_text

INLINE_LODGEMENT_LIMIT = 100
"""A lodgement of more items than this lists them in a manifest (one log entry ≤ 64 KiB)."""


@dataclass(frozen=True)
class DraftNote:
    """A note file as written by hand or by us: text, possibly no signatures yet."""

    text: str
    signatures: tuple[Signature, ...]

    @classmethod
    def parse(cls, data: bytes, where: str) -> DraftNote:
        """Parse a note that may not be signed yet (then all of it is text)."""
        try:
            note = parse_note(data)
            return cls(note.text, note.signatures)
        except MalformedError as error:
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError:
                raise ContentError(f"{where}: not valid UTF-8") from None
            if "\n— " in text or text.startswith("— "):
                raise ContentError(f"{where}: {error}") from None
            return cls(text, ())

    @classmethod
    def read(cls, path: Path) -> DraftNote:
        """Read a note file that may not be signed yet."""
        return cls.parse(path.read_bytes(), str(path))

    def signed(self, signer: Signer) -> bytes:
        """The note with one more signature, by ``signer``."""
        sig = sign_text(self.text, signer)
        lines = "".join(s.line + "\n" for s in (*self.signatures, sig))
        return f"{self.text}\n{lines}".encode()


def init_repository(
    root: Path,
    *,
    origin: str,
    pma: Sequence[str],
    threshold: int,
    lodgers: Sequence[tuple[str, str]],
) -> list[Path]:
    """Lay out a new content root with an unsigned ``policy.note``; return what was written.

    ``lodgers`` are (path pattern, verifier key) pairs; one key may have many patterns.
    """
    policy_path = root / POLICY_PATH
    if policy_path.exists():
        raise UsageError(f"{policy_path} exists: this is already a content repository")
    patterns: dict[str, list[str]] = {}
    for pattern, vkey in lodgers:
        patterns.setdefault(vkey.strip(), []).append(pattern)
    text = policy_text(
        version=1,
        origin=origin,
        threshold=threshold,
        pma=[(k.strip(), "SMKI PMA member") for k in pma],
        lodgers=[(k, "lodger", p) for k, p in patterns.items()],
    )
    for family in FAMILIES:
        (root / ITEMS_DIR / family).mkdir(parents=True, exist_ok=True)
    (root / APPROVALS_DIR).mkdir(exist_ok=True)
    (root / LODGEMENTS_DIR).mkdir(exist_ok=True)
    atomic_write(policy_path, text.encode())
    return [policy_path]


def known_policies(root: Path) -> list[Policy]:
    """The working-tree policy and the committed one (HEAD), as far as they exist."""
    policies = []
    draft = root / POLICY_PATH
    if draft.exists():
        policies.append(parse_policy(DraftNote.read(draft).text, str(draft)))
    try:
        with GitHistory(root) as history:
            entry = history.tree("HEAD").get(POLICY_PATH)
            if entry is not None:
                where = f"HEAD:{POLICY_PATH}"
                committed = DraftNote.parse(history.read_blob(entry[1]), where)
                policies.append(parse_policy(committed.text, where))
    except HistoryError:
        pass
    if not policies:
        raise UsageError(f"no {POLICY_PATH} in {root}: run smki init first")
    return policies


def sign_note_file(path: Path, signer: Signer, root: Path) -> str:
    """Add ``signer``'s signature to the note at ``path``; return its kind line.

    Refuses a key that the policy does not know for this kind of note, and a
    key that has already signed it.
    """
    draft = DraftNote.read(path)
    kind = draft.text.partition("\n")[0]
    policies = known_policies(root)
    keys: list[Verifier]
    if kind == POLICY_KIND:
        new = parse_policy(draft.text, str(path))
        keys = [*new.pma_verifiers, *(v for p in policies for v in p.pma_verifiers)]
    elif kind == APPROVAL_KIND:
        keys = [v for p in policies for v in p.pma_verifiers]
    elif kind == LODGEMENT_KIND:
        keys = [g.verifier for p in policies for g in p.lodgers]
    else:
        raise ContentError(f"{path}: unknown note kind {kind[:60]!r}")
    me = signer.verifier()
    if me not in keys:
        raise UsageError(
            f"{signer.name}+{signer.key_id:08x} is not a key the policy trusts to sign {kind} notes"
        )
    if any((s.name, s.key_id) == (signer.name, signer.key_id) for s in draft.signatures):
        raise UsageError(f"{path} is already signed by {signer.name}+{signer.key_id:08x}")
    atomic_write(path, draft.signed(signer))
    return kind


def _sha256_file(path: Path) -> tuple[str, int]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def content_path(root: Path, given: Path) -> str:
    """The content-relative POSIX path of ``given`` (a path on disk), checked for form."""
    try:
        rel = given.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = given.as_posix()
        if not (root / rel).exists() and not rel.startswith(ITEMS_DIR):
            raise UsageError(f"{given} is not inside the content root {root}") from None
    problem = path_problem(rel)
    if problem or classify(rel) is not PathKind.ITEM:
        raise UsageError(f"{rel}: {problem or 'not an item path (items/<family>/…)'}")
    return rel


def today() -> str:
    """Today's date (UTC) as YYYY-MM-DD: authoring records when a decision was taken."""
    return datetime.datetime.now(datetime.UTC).date().isoformat()


def lodge_items(
    root: Path, paths: Iterable[Path], signer: Signer, note_id: str | None = None
) -> Path:
    """Write a signed lodgement for new items; return the note's path."""
    items = []
    for given in paths:
        rel = content_path(root, given)
        sha256, _ = _sha256_file(root / rel)
        items.append(LodgedItem(rel, sha256))
    if not items:
        raise UsageError("name at least one item to lodge")
    policy = known_policies(root)[0]
    for lodged in items:
        if signer.verifier() not in policy.lodgers_for(lodged.item):
            raise UsageError(f"{signer.name} is not a lodger allowed for {lodged.item}")
    manifest = format_manifest(items)
    note_id = note_id or f"LDG-{today()}-{hashlib.sha256(manifest).hexdigest()[:8]}"
    if not is_valid_note_id(note_id):
        raise UsageError(f"invalid lodgement id {note_id!r}")
    note = root / LODGEMENTS_DIR / f"{note_id}.note"
    if note.exists():
        raise UsageError(f"{note} exists: choose another --id")
    if len(items) > INLINE_LODGEMENT_LIMIT:
        atomic_write(root / LODGEMENTS_DIR / f"{note_id}{MANIFEST_SUFFIX}", manifest)
        lodgement = Lodgement(note_id, signer.name, (), hashlib.sha256(manifest).hexdigest())
    else:
        lodgement = Lodgement(
            note_id, signer.name, tuple(sorted(items, key=lambda i: i.item)), None
        )
    atomic_write(note, DraftNote(lodgement_text(lodgement), ()).signed(signer))
    return note


def pending_changes(root: Path, history: GitHistory, paths: Sequence[str]) -> list[Change]:
    """The item changes in the working tree against HEAD, as an approval would name them."""
    head = history.tree("HEAD")
    changes = []
    for change in history.worktree_changes("HEAD"):
        if classify(change.path) is not PathKind.ITEM or (paths and change.path not in paths):
            continue
        old = _blob_sha256(history, head[change.path][1]) if change.path in head else None
        new = None if change.deleted else _sha256_file(root / change.path)[0]
        if old == new:
            continue
        action = "lodge" if old is None else "withdraw" if new is None else "amend"
        changes.append(Change(action, change.path, old, new))
    return changes


def _blob_sha256(history: GitHistory, blob: str) -> str:
    return hashlib.sha256(history.read_blob(blob)).hexdigest()


def approve_changes(
    root: Path,
    signer: Signer,
    *,
    note_id: str,
    decision_ref: str,
    rationale: str = "",
    paths: Sequence[Path] = (),
    withdraw: Sequence[Path] = (),
    ratify: Sequence[str] = (),
    decision: str = "approved",
    decided: str | None = None,
    requested_by: str | None = None,
) -> Path:
    """Write an approval of the named changes, signed by ``signer``; return its path.

    With no paths, it covers every changed item in the working tree against HEAD;
    ``withdraw`` approves deleting items that are still present; ``ratify`` names
    past commits whose unauthorised changes the decision ratifies.
    """
    if not is_valid_note_id(note_id):
        raise UsageError(f"invalid approval id {note_id!r}")
    note = root / APPROVALS_DIR / f"{note_id}.note"
    if note.exists():
        raise UsageError(f"{note} exists: an approval is never edited; choose another --id")
    policy = known_policies(root)[0]
    if signer.verifier() not in policy.pma_verifiers:
        raise UsageError(f"{signer.name} is not a PMA key of the policy")
    changes: list[Change] = []
    with GitHistory(root) as history:
        named = [content_path(root, p) for p in paths]
        if (not withdraw and not ratify) or named:
            changes += pending_changes(root, history, named)
        head = history.tree("HEAD")
        for given in withdraw:
            rel = content_path(root, given)
            if rel not in head:
                raise UsageError(f"{rel} is not in HEAD: nothing to withdraw")
            change = Change("withdraw", rel, _blob_sha256(history, head[rel][1]), None)
            if change not in changes:
                changes.append(change)
        if ratify:
            pending = replay_history(history).ledger.pending.values()
            for rev in ratify:
                commit = history.resolve(rev)
                found = [ratification_of(v) for v in pending if v.commit == commit]
                if not found:
                    raise UsageError(f"commit {commit[:12]} has no unratified violation")
                changes += found
    if not changes:
        raise UsageError("no changes to approve (edit, add or delete items first, or name them)")
    approval = Approval(
        id=note_id,
        decision_ref=decision_ref,
        decided=decided or today(),
        decision=decision,
        legal_basis="SEC L5.6A",
        rationale=rationale,
        requested_by=requested_by,
        changes=tuple(changes),
    )
    atomic_write(note, DraftNote(approval_text(approval), ()).signed(signer))
    return note


def parse_vkeys(values: Iterable[str]) -> list[str]:
    """Check verifier key strings given on the command line (or files holding one)."""
    out = []
    for value in values:
        text = Path(value).read_text().strip() if Path(value).is_file() else value.strip()
        parse_verifier(text)
        out.append(text)
    return out
