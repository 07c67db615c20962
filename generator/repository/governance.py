"""The governance engine (DESIGN §5, SEC L5.6A): the rules every log entry must meet.

:class:`Ledger` holds the state after a prefix of the log — the policy in force,
the current items, the authorisation notes and which of their changes are used —
and :meth:`Ledger.apply` checks the next entry against the rules before taking
it. The generator proposes entries from git history and the relying-party
auditor replays entries from a published log: both go through this one class.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from generator.errors import ContentError, GovernanceError, UnauthorisedChange
from generator.repository.authorisation import (
    Approval,
    Change,
    LodgedItem,
    Lodgement,
    parse_approval,
    parse_lodgement,
    parse_manifest,
    read_note,
    valid_signers,
)
from generator.repository.content import PathKind, classify, family_of, note_path, path_problem
from generator.repository.entries import (
    AmendEntry,
    Entry,
    LodgeEntry,
    NoteEntry,
    PolicyEntry,
    RatifyEntry,
    ViolationEntry,
    WithdrawEntry,
)
from generator.repository.policy import Policy, parse_policy
from generator.tlog.errors import InvalidSignature
from generator.tlog.note import Note, Verifier

ManifestSource = Callable[[str], bytes]
"""Returns the bytes of a lodgement manifest by its SHA-256 (raises if unavailable)."""


@dataclass(frozen=True)
class ItemState:
    """The current version of an item and the entry that made it so."""

    sha256: str
    size: int
    index: int


@dataclass(frozen=True)
class NoteRecord:
    """An authorisation note as logged at ``index``."""

    kind: str  # "approval" | "lodgement"
    id: str
    path: str
    note: Note
    index: int
    approval: Approval | None = None
    lodgement: Lodgement | None = None
    items: frozenset[LodgedItem] = frozenset()  # a lodgement's items, manifest resolved


@dataclass
class Ledger:
    """Governance state after ``size`` entries; :meth:`apply` takes the next one or refuses.

    The maps that grow with the log (items, notes, used authorisations, offers)
    are only looked up, assigned and deleted from, never iterated, so that a
    saved Ledger can be taken up with maps that read their rows lazily
    (:mod:`generator.repository.ledger_store`).
    """

    manifests: ManifestSource | None = None
    size: int = 0
    policy: Policy | None = None
    policy_index: int = -1
    items: dict[str, ItemState] = field(default_factory=dict)
    notes: dict[str, NoteRecord] = field(default_factory=dict)
    by_index: dict[int, NoteRecord] = field(default_factory=dict)
    used: set[tuple[str, object]] = field(default_factory=set)
    pending: dict[int, ViolationEntry] = field(default_factory=dict)
    ratified: dict[int, int] = field(default_factory=dict)
    _sealed_commit: str | None = None
    _folded: dict[str, str] = field(default_factory=dict)  # casefolded path -> path
    _offers: dict[object, list[str]] = field(default_factory=dict)  # change -> note paths
    _signed: dict[tuple[Note, int], frozenset[Verifier]] = field(default_factory=dict)

    # -- queries -----------------------------------------------------------------------

    def require_policy(self) -> Policy:
        """The policy in force; before genesis nothing can be applied."""
        if self.policy is None:
            raise GovernanceError("the log must start with the genesis policy entry")
        return self.policy

    def signers(self, record: NoteRecord) -> frozenset[Verifier]:
        """The distinct keys of the policy in force that validly signed ``record``'s note."""
        key = (record.note, self.policy_index)
        if key not in self._signed:
            policy = self.require_policy()
            keys = (*policy.pma_verifiers, *(g.verifier for g in policy.lodgers))
            self._signed[key] = valid_signers(record.note, keys, record.path)
        return self._signed[key]

    def check_approval(self, index: int, change: Change) -> NoteRecord:
        """The approval at entry ``index``, if it validly authorises ``change`` now (§5)."""
        policy = self.require_policy()
        record = self.by_index.get(index)
        if record is None or record.approval is None:
            raise UnauthorisedChange(f"entry {index} is not an approval note")
        approval = record.approval
        if not approval.authorises:
            raise UnauthorisedChange(f"approval {approval.id} is {approval.decision}")
        if change not in approval.changes:
            raise UnauthorisedChange(f"approval {approval.id} does not name {describe(change)}")
        if (record.path, change) in self.used:
            raise UnauthorisedChange(f"approval {approval.id} was already used for {change.item}")
        signed = self.signers(record) & set(policy.pma_verifiers)
        if len(signed) < policy.threshold:
            raise UnauthorisedChange(
                f"approval {approval.id} has {len(signed)} valid PMA signature(s), needs "
                f"{policy.threshold} of the {len(policy.pma)} keys of policy v{policy.version}"
            )
        return record

    def check_lodgement(self, index: int, lodged: LodgedItem) -> NoteRecord:
        """The lodgement at ``index``, if it validly authorises ``lodged`` now (§5)."""
        policy = self.require_policy()
        record = self.by_index.get(index)
        if record is None or record.lodgement is None:
            raise UnauthorisedChange(f"entry {index} is not a lodgement note")
        if lodged not in record.items:
            raise UnauthorisedChange(f"lodgement {record.id} does not list {lodged.item}")
        if (record.path, lodged) in self.used:
            raise UnauthorisedChange(f"lodgement {record.id} was already used for {lodged.item}")
        if lodged.from_sha256 is None and policy.needs_pma_to_lodge(lodged.item):
            raise UnauthorisedChange(
                f"lodging {lodged.item} needs a PMA approval (policy pma_lodge)"
            )
        if lodged.from_sha256 is not None and not policy.lodger_may_amend(lodged.item):
            raise UnauthorisedChange(f"replacing {lodged.item} needs a PMA approval")
        if not self.signers(record) & set(policy.lodgers_for(lodged.item)):
            raise UnauthorisedChange(
                f"lodgement {record.id} is not signed by a lodger allowed for {lodged.item}"
            )
        return record

    def find_authorisation(self, change: Change) -> tuple[int | None, str]:
        """The latest note entry that authorises ``change`` now, or None and why not.

        The generator uses this to choose an entry's ``authorisation``; :meth:`apply`
        checks the choice again, so a wrong choice can never be logged.
        """
        reasons: list[str] = []
        lodged = _as_lodged(change)
        for path in self._offers.get(change, []) + self._offers.get(lodged, []):
            record = self.notes[path]
            try:
                if record.approval is not None:
                    return self.check_approval(record.index, change).index, ""
                return self.check_lodgement(record.index, lodged).index, ""
            except (GovernanceError, InvalidSignature) as error:
                reasons.append(str(error))
        return None, "; ".join(reasons)

    # -- apply -------------------------------------------------------------------------

    def apply(self, entry: Entry) -> None:
        """Check ``entry`` as the next log entry and take it, or raise and change nothing."""
        if self._sealed_commit is not None and entry.commit == self._sealed_commit:
            raise GovernanceError(
                f"entry {self.size}: a commit that changes the policy cannot make other "
                "changes after it (it must not rely on the new policy)"
            )
        index = self.size
        if isinstance(entry, PolicyEntry):
            self._apply_policy(entry, index)
        elif self.policy is None:
            raise GovernanceError("the log must start with the genesis policy entry")
        elif isinstance(entry, NoteEntry):
            self._apply_note(entry, index)
        elif isinstance(entry, LodgeEntry):
            self._apply_lodge(entry, index)
        elif isinstance(entry, AmendEntry):
            self._apply_amend(entry, index)
        elif isinstance(entry, WithdrawEntry):
            self._apply_withdraw(entry, index)
        elif isinstance(entry, ViolationEntry):
            self._apply_violation(entry, index)
        else:
            self._apply_ratify(entry, index)
        self.size += 1

    def _apply_policy(self, entry: PolicyEntry, index: int) -> None:
        note = read_note(entry.note.encode(), "policy.note")
        new = parse_policy(note.text)
        if new.version != entry.version:
            raise GovernanceError(
                f"policy entry says version {entry.version}, note says {new.version}"
            )
        signed_new = valid_signers(note, new.pma_verifiers, "policy.note")
        if len(signed_new) < new.threshold:
            raise UnauthorisedChange(
                f"policy v{new.version} has {len(signed_new)} valid signature(s) of its own PMA "
                f"keys, needs {new.threshold}"
            )
        old = self.policy
        if old is None:
            if index != 0:
                raise GovernanceError("the genesis policy must be the first entry")
        else:
            if new.version != old.version + 1:
                raise GovernanceError(f"policy v{new.version} does not follow v{old.version}")
            if new.origin != old.origin:
                raise GovernanceError("a policy change cannot change the log origin")
            signed_old = valid_signers(note, old.pma_verifiers, "policy.note")
            if len(signed_old) < old.threshold:
                raise UnauthorisedChange(
                    f"policy v{new.version} has {len(signed_old)} valid signature(s) of the "
                    f"previous PMA keys, needs {old.threshold} (old and new thresholds both sign)"
                )
            self._sealed_commit = entry.commit
        self.policy, self.policy_index = new, index

    def _apply_note(self, entry: NoteEntry, index: int) -> None:
        kinds = {"approval": PathKind.APPROVAL, "lodgement": PathKind.LODGEMENT}
        if entry.kind not in kinds:
            raise GovernanceError(f"note entry of unknown kind {entry.kind!r}")
        path = note_path(kinds[entry.kind], entry.id)
        note = read_note(entry.note.encode(), path)
        record: NoteRecord
        if entry.kind == "approval":
            approval = parse_approval(note.text, path)
            record = NoteRecord("approval", approval.id, path, note, index, approval=approval)
        else:
            lodgement = parse_lodgement(note.text, path)
            items = frozenset(lodgement.items + self._manifest_items(lodgement, path))
            record = NoteRecord(
                "lodgement", lodgement.id, path, note, index, lodgement=lodgement, items=items
            )
        if record.id != entry.id:
            raise ContentError(f"{path}: id {record.id!r} does not match its file name")
        self.signers(record)  # a known key whose signature fails rejects the note now
        earlier = self.notes.get(path)
        if earlier is not None:
            old_lines = set(earlier.note.signatures)
            if earlier.note.text != note.text or not old_lines < set(note.signatures):
                raise GovernanceError(
                    f"{path}: a logged note may only gain signatures, never change or lose any"
                )
        else:
            offered = record.approval.changes if record.approval else record.items
            for offer in offered:  # assigned, not appended: the map may be stored
                self._offers[offer] = [*self._offers.get(offer, ()), path]
        self.notes[path] = record
        self.by_index[index] = record

    def _manifest_items(self, lodgement: Lodgement, where: str) -> tuple[LodgedItem, ...]:
        digest = lodgement.manifest_sha256
        if digest is None:
            return ()
        if self.manifests is None:
            raise GovernanceError(f"{where}: manifest {digest} is not available")
        return parse_manifest(self.manifests(digest), f"{where} manifest")

    def _new_item_problem(self, item: str) -> str | None:
        problem = path_problem(item)
        if problem or family_of(item) is None:
            return f"{item}: {problem or 'not in an item family folder'}"
        if item in self.items:
            return f"{item} is already lodged"
        clash = self._folded.get(item.casefold())
        if clash is not None:
            return f"{item} differs only in letter case from {clash}"
        return None

    def _check_new_item(self, item: str) -> None:
        problem = self._new_item_problem(item)
        if problem is not None:
            raise GovernanceError(problem)

    def _authorise(self, change: Change, index: int) -> None:
        record = self.by_index.get(index)
        if record is not None and record.lodgement is not None:
            lodged = _as_lodged(change)
            self.check_lodgement(index, lodged)
            self.used.add((record.path, lodged))
        else:
            record = self.check_approval(index, change)
            self.used.add((record.path, change))

    def _current(self, item: str, sha256: str) -> ItemState:
        state = self.items.get(item)
        if state is None:
            raise GovernanceError(f"{item} is not in the repository")
        if state.sha256 != sha256:
            raise GovernanceError(f"{item} is at {state.sha256}, not {sha256}")
        return state

    def _put(self, item: str, state: ItemState | None) -> None:
        if state is None:
            del self.items[item]
            del self._folded[item.casefold()]
        else:
            self.items[item] = state
            self._folded[item.casefold()] = item

    def _apply_lodge(self, entry: LodgeEntry, index: int) -> None:
        self._check_new_item(entry.item)
        self._authorise(Change("lodge", entry.item, None, entry.sha256), entry.authorisation)
        self._put(entry.item, ItemState(entry.sha256, entry.size, index))

    def _apply_amend(self, entry: AmendEntry, index: int) -> None:
        self._current(entry.item, entry.from_sha256)
        if entry.sha256 == entry.from_sha256:
            raise GovernanceError(f"{entry.item}: an amend must change the bytes")
        change = Change("amend", entry.item, entry.from_sha256, entry.sha256)
        self._authorise(change, entry.authorisation)
        self._put(entry.item, ItemState(entry.sha256, entry.size, index))

    def _apply_withdraw(self, entry: WithdrawEntry, index: int) -> None:
        self._current(entry.item, entry.from_sha256)
        change = Change("withdraw", entry.item, entry.from_sha256, None)
        self._authorise(change, entry.authorisation)
        self._put(entry.item, None)

    def _apply_violation(self, entry: ViolationEntry, index: int) -> None:
        if entry.change not in ("add", "modify", "delete"):
            raise GovernanceError(f"violation of unknown change {entry.change!r}")
        if classify(entry.path) is PathKind.ITEM and path_problem(entry.path) is None:
            if entry.change == "delete" and entry.path in self.items:
                self._current(entry.path, entry.from_sha256 or "")
                self._put(entry.path, None)
            elif entry.sha256 is not None and entry.size is not None:
                if entry.change == "modify":
                    self._current(entry.path, entry.from_sha256 or "")
                    self._put(entry.path, ItemState(entry.sha256, entry.size, index))
                elif self._new_item_problem(entry.path) is None:
                    self._put(entry.path, ItemState(entry.sha256, entry.size, index))
        self.pending[index] = entry

    def _apply_ratify(self, entry: RatifyEntry, index: int) -> None:
        violation = self.pending.get(entry.violation)
        if violation is None:
            raise GovernanceError(f"entry {entry.violation} is not an unratified violation")
        change = ratification_of(violation)
        record = self.check_approval(entry.authorisation, change)
        self.used.add((record.path, change))
        del self.pending[entry.violation]
        self.ratified[entry.violation] = index


def ratification_of(violation: ViolationEntry) -> Change:
    """The approval change that ratifies ``violation``."""
    return Change(
        "ratify", violation.path, violation.from_sha256, violation.sha256, violation.commit
    )


def _as_lodged(change: Change) -> LodgedItem:
    return LodgedItem(change.item, change.to_sha256 or "", change.from_sha256)


def describe(change: Change) -> str:
    """A change as the TOML an approval would need to carry."""
    parts = [f'action = "{change.action}"', f'item = "{change.item}"']
    if change.commit:
        parts.append(f'commit = "{change.commit}"')
    if change.from_sha256:
        parts.append(f'from = "{change.from_sha256}"')
    if change.to_sha256:
        parts.append(f'to = "{change.to_sha256}"')
    return "{" + ", ".join(parts) + "}"
