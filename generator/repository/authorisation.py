"""PMA approvals (``smki-approval/v1``) and lodgements (``smki-lodgement/v1``).

Both are C2SP signed notes whose text is a kind line and a TOML body. An
approval binds a PMA decision to exact changes by SHA-256; a lodgement lists
new items (inline, or through a manifest whose SHA-256 it signs, so that one
signature can cover thousands of device certificates while every log entry
stays under 64 KiB).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from generator.errors import ContentError
from generator.repository.content import ITEMS_DIR, path_problem
from generator.repository.toml_body import Fields, dump_toml, split_kind
from generator.tlog.errors import MalformedError
from generator.tlog.note import Note, Verifier, parse_note, verify_signatures

APPROVAL_KIND = "smki-approval/v1"
LODGEMENT_KIND = "smki-lodgement/v1"

ACTIONS = ("lodge", "amend", "withdraw", "ratify")
DECISIONS = ("approved", "approved_with_conditions", "rejected", "withdrawn")
AUTHORISING_DECISIONS = ("approved", "approved_with_conditions")

_SHA256 = re.compile(r"[0-9a-f]{64}")
_COMMIT = re.compile(r"[0-9a-f]{40}")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def check_digest(value: str | None, where: str) -> str | None:
    """Check an optional lower-case hex SHA-256."""
    if value is not None and not _SHA256.fullmatch(value):
        raise ContentError(f"{where}: {value[:70]!r} is not a lower-case hex SHA-256")
    return value


def check_item_path(item: str, where: str) -> str:
    """Check a path named in a note: a well-formed path under ``items/``."""
    problem = path_problem(item)
    if problem or not item.startswith(ITEMS_DIR):
        raise ContentError(f"{where}: item {item[:80]!r}: {problem or 'must be under items/'}")
    return item


@dataclass(frozen=True)
class Change:
    """One change an approval authorises, bound by digests (absent: not applicable)."""

    action: str
    item: str
    from_sha256: str | None
    to_sha256: str | None
    commit: str | None = None  # only for "ratify": the commit that made the past change


@dataclass(frozen=True)
class Approval:
    """A PMA decision and the exact changes it covers."""

    id: str
    decision_ref: str
    decided: str
    decision: str
    legal_basis: str
    rationale: str
    requested_by: str | None
    changes: tuple[Change, ...]

    @property
    def authorises(self) -> bool:
        """Report whether the decision approves its changes (rejections are only recorded)."""
        return self.decision in AUTHORISING_DECISIONS


@dataclass(frozen=True)
class LodgedItem:
    """One item a lodgement covers; ``from_sha256`` set only for a lodger replacement."""

    item: str
    sha256: str
    from_sha256: str | None = None


@dataclass(frozen=True)
class Lodgement:
    """A lodger's authorisation of new items, inline or through a manifest."""

    id: str
    lodged_by: str | None
    items: tuple[LodgedItem, ...]
    manifest_sha256: str | None


def _change(f: Fields) -> Change:
    where = f.where
    action = f.need_text("action")
    if action not in ACTIONS:
        raise ContentError(f"{where}: action {action!r} is not one of {', '.join(ACTIONS)}")
    item = f.need_text("item")
    if action == "ratify":  # a past violation may be on any content path, not only an item
        problem = path_problem(item)
        if problem:
            raise ContentError(f"{where}: item {item[:80]!r}: {problem}")
    else:
        check_item_path(item, where)
    old = check_digest(f.text("from", required=False), where)
    new = check_digest(f.text("to", required=False), where)
    commit = f.text("commit", required=False)
    f.done()
    want = {"lodge": (False, True), "amend": (True, True), "withdraw": (True, False)}
    if action in want and (old is not None, new is not None) != want[action]:
        raise ContentError(
            f"{where}: a {action} needs "
            + {
                "lodge": "'to' and no 'from'",
                "amend": "both 'from' and 'to'",
                "withdraw": "'from' and no 'to'",
            }[action]
        )
    if action == "ratify":
        if commit is None or not _COMMIT.fullmatch(commit):
            raise ContentError(f"{where}: a ratify needs 'commit' (40 hex digits)")
        if old is None and new is None:
            raise ContentError(f"{where}: a ratify needs 'from' and/or 'to'")
    elif commit is not None:
        raise ContentError(f"{where}: only a ratify names a commit")
    return Change(action, item, old, new, commit)


def parse_approval(text: str, where: str) -> Approval:
    """Parse the text of an approval note."""
    f = Fields(split_kind(text, APPROVAL_KIND, where), where)
    approval = Approval(
        id=f.need_text("id"),
        decision_ref=f.need_text("decision_ref"),
        decided=f.need_text("decided"),
        decision=f.need_text("decision"),
        legal_basis=f.text("legal_basis", required=False) or "SEC L5.6A",
        rationale=f.text("rationale", required=False) or "",
        requested_by=f.text("requested_by", required=False),
        changes=tuple(_change(c) for c in f.tables("changes")),
    )
    f.done()
    if not _DATE.fullmatch(approval.decided):
        raise ContentError(f"{where}: decided {approval.decided!r} is not YYYY-MM-DD")
    if approval.decision not in DECISIONS:
        raise ContentError(f"{where}: decision must be one of {', '.join(DECISIONS)}")
    if not approval.changes:
        raise ContentError(f"{where}: an approval must name at least one change")
    if len(set(approval.changes)) != len(approval.changes):
        raise ContentError(f"{where}: the same change is listed twice")
    return approval


def parse_lodgement(text: str, where: str) -> Lodgement:
    """Parse the text of a lodgement note (manifest items are read separately)."""
    f = Fields(split_kind(text, LODGEMENT_KIND, where), where)
    items = []
    for t in f.tables("items"):
        items.append(
            LodgedItem(
                check_item_path(t.need_text("item"), t.where),
                check_digest(t.need_text("sha256"), t.where) or "",
                check_digest(t.text("from", required=False), t.where),
            )
        )
        t.done()
    lodgement = Lodgement(
        id=f.need_text("id"),
        lodged_by=f.text("lodged_by", required=False),
        items=tuple(items),
        manifest_sha256=check_digest(f.text("manifest", required=False), where),
    )
    f.done()
    if not lodgement.items and lodgement.manifest_sha256 is None:
        raise ContentError(f"{where}: a lodgement must list items or a manifest")
    return lodgement


def parse_manifest(data: bytes, where: str) -> tuple[LodgedItem, ...]:
    """Parse a lodgement manifest: ``<sha256>  <item path>`` lines, sorted, no duplicates."""
    try:
        text = data.decode("ascii")
    except UnicodeDecodeError:
        raise ContentError(f"{where}: manifest is not ASCII") from None
    if text and not text.endswith("\n"):
        raise ContentError(f"{where}: manifest must end in a newline")
    items = []
    for number, line in enumerate(text.splitlines(), 1):
        digest, sep, item = line.partition("  ")
        if not sep:
            raise ContentError(f"{where}:{number}: want '<sha256>  <path>'")
        items.append(
            LodgedItem(
                check_item_path(item, f"{where}:{number}"), check_digest(digest, where) or ""
            )
        )
    paths = [i.item for i in items]
    if paths != sorted(set(paths)):
        raise ContentError(f"{where}: manifest lines must be sorted by path, without duplicates")
    if not items:
        raise ContentError(f"{where}: empty manifest")
    return tuple(items)


def format_manifest(items: Iterable[LodgedItem]) -> bytes:
    """The manifest listing ``items`` (sorted by path)."""
    return "".join(f"{i.sha256}  {i.item}\n" for i in sorted(items, key=lambda i: i.item)).encode()


def approval_text(approval: Approval) -> str:
    """The note text of an approval."""
    changes = [
        {
            "action": c.action,
            "item": c.item,
            "from": c.from_sha256,
            "to": c.to_sha256,
            "commit": c.commit,
        }
        for c in approval.changes
    ]
    body = dump_toml(
        {
            "id": approval.id,
            "decision_ref": approval.decision_ref,
            "decided": approval.decided,
            "decision": approval.decision,
            "legal_basis": approval.legal_basis,
            "rationale": approval.rationale,
            "requested_by": approval.requested_by,
        },
        {"changes": changes},
    )
    text = f"{APPROVAL_KIND}\n{body}"
    parse_approval(text, approval.id)
    return text


def lodgement_text(lodgement: Lodgement) -> str:
    """The note text of a lodgement."""
    items = [{"item": i.item, "sha256": i.sha256, "from": i.from_sha256} for i in lodgement.items]
    body = dump_toml(
        {
            "id": lodgement.id,
            "lodged_by": lodgement.lodged_by,
            "manifest": lodgement.manifest_sha256,
        },
        {"items": items},
    )
    text = f"{LODGEMENT_KIND}\n{body}"
    parse_lodgement(text, lodgement.id)
    return text


def read_note(data: bytes, where: str) -> Note:
    """Parse an authorisation note's wire form, as a content error if malformed."""
    try:
        return parse_note(data)
    except MalformedError as error:
        raise ContentError(f"{where}: {error}") from None


def valid_signers(note: Note, verifiers: Iterable[Verifier], where: str) -> frozenset[Verifier]:
    """The distinct known keys whose signatures on ``note`` verify.

    Unknown keys are ignored; a known key whose signature fails is an error
    (C2SP signed-note §Signatures), so a forged line can never be skipped over.
    """
    known = {(v.name, v.key_id): v for v in verifiers}
    checked = verify_signatures(note, known.values(), where)
    return frozenset(known[(s.name, s.key_id)] for s in checked.verified)
