"""Verify a file a relying party holds: is it a logged, authorised, current item version?

:func:`verify_file` asks the published site and trusts only the log key (and,
optionally, a pinned policy); :func:`verify_offline` needs nothing but a C2SP
tlog-proof file and the key. Both return a
:class:`~generator.client.outcome.Verification`; any data that does not verify
raises an error from :mod:`generator.errors` naming what failed.
"""

from __future__ import annotations

import hashlib

from generator.client.currency import follow
from generator.client.evidence import (
    consistency_path,
    parse_consistency,
    parse_evidence,
    prove_evidence,
    tile_evidence_path,
)
from generator.client.lookup import ITEM, SHA256, lookup, path_key
from generator.client.outcome import Authority, PolicyInForce, Status, Verification, Version
from generator.client.source import Source
from generator.errors import Error
from generator.repository.authorisation import Change, LodgedItem
from generator.repository.content import POLICY_PATH
from generator.repository.entries import (
    AmendEntry,
    Entry,
    LodgeEntry,
    NoteEntry,
    PolicyEntry,
    RatifyEntry,
    ViolationEntry,
    decode_entry,
    entry_summary,
    path_of,
    version_sha256,
)
from generator.repository.governance import Ledger, NoteRecord, ratification_of
from generator.tlog.checkpoint import SignedCheckpoint, parse_checkpoint
from generator.tlog.errors import MalformedError, NotFound, TileMismatch, VerificationError
from generator.tlog.merkle import leaf_hash, leaf_hashes, verify_inclusion
from generator.tlog.note import Verifier, parse_note
from generator.tlog.proof import parse_proof, verify_proof
from generator.tlog.reader import LogReader
from generator.tlog.store import CHECKPOINT_PATH, TileStore
from generator.tlog.tiles import ENTRIES, TILE_WIDTH, Tile, decode_bundle, parse_tile_path

MAX_MATCHES = 16
"""Most entries logging one SHA-256 that are checked (the latest ones)."""


# -- reading proven entries ------------------------------------------------------------------


class _SessionStore:
    """The log as one verification reads it: each file fetched at most once.

    A level-0 tile is computed from its entry bundle when that was fetched already;
    it is then authenticated against the tiles above like any other tile.
    """

    def __init__(self, store: TileStore) -> None:
        self.store = store
        self.files: dict[str, bytes] = {}

    def read(self, path: str) -> bytes:
        """The file at ``path``, from this session's copy if it was read before."""
        data = self.files.get(path)
        if data is None:
            data = self._tile_from_bundle(path)
            if data is None:
                data = self.store.read(path)
            self.files[path] = data
        return data

    def _tile_from_bundle(self, path: str) -> bytes | None:
        if not path.startswith("tile/0/"):
            return None
        tile = parse_tile_path(path)
        bundle = Tile(ENTRIES, tile.n, tile.width)
        data = self.files.get(bundle.path)
        if data is None:
            return None
        try:
            return b"".join(leaf_hashes(decode_bundle(data, bundle)))
        except MalformedError:
            return None  # fetch the real tile; the bundle is refused when it is compared


class _ProvenLog:
    """Entries of one signed checkpoint, each proven by an RFC 9162 inclusion proof.

    An entry comes from its bundle's evidence file where the site publishes one
    (all the entries it carries are proven at once, against a pinned checkpoint
    proven consistent with this one), else from the tiles.
    """

    def __init__(self, source: Source, verifier: Verifier) -> None:
        session = _SessionStore(source.log)
        session.files[CHECKPOINT_PATH] = source.checkpoint()
        self.source, self.verifier = source, verifier
        self.reader = LogReader(session, verifier)
        self.signed: SignedCheckpoint = self.reader.checkpoint()  # (1) signature and origin
        self.size = self.signed.checkpoint.size
        self._entries: dict[int, Entry] = {}
        self._proven: dict[int, bytes] = {}
        self._evidence: dict[int, frozenset[int]] = {}

    def entry(self, index: int) -> Entry:
        """Entry ``index``: read, its inclusion proof verified, decoded strictly."""
        if index in self._entries:
            return self._entries[index]
        tree = self.signed.checkpoint
        if not 0 <= index < tree.size:
            raise VerificationError(f"entry {index} is not in the log of {tree.size} entries")
        if index not in self._proven and index not in self.evidence(index // TILE_WIDTH):
            self._proven[index] = self._from_tiles(index)
        try:
            entry = decode_entry(self._proven[index])
        except MalformedError as error:
            raise MalformedError(f"entry {index}: {error}") from None
        self._entries[index] = entry
        return entry

    def evidence(self, n: int) -> frozenset[int]:
        """The entries bundle ``n``'s evidence proves (none if the site has none for it)."""
        if n not in self._evidence:
            self._evidence[n] = self._load_evidence(n)
        return self._evidence[n]

    def _load_evidence(self, n: int) -> frozenset[int]:
        try:
            evidence = parse_evidence(self.source.evidence.read(tile_evidence_path(n)), n)
        except NotFound:
            return frozenset()  # an older site, or none yet: prove from the tiles
        pinned = parse_checkpoint(parse_note(evidence.checkpoint).text)
        if pinned.size > self.size:
            return frozenset()  # published after the checkpoint we hold: prove from the tiles
        proven = prove_evidence(evidence, self.verifier, self.signed, self._consistency)
        self._proven.update(proven)
        return frozenset(proven)

    def _consistency(self, old: int) -> list[bytes]:
        """The consistency proof from tree ``old`` to this one: published, else from tiles."""
        try:
            data = self.source.evidence.read(consistency_path(old))
        except NotFound:
            data = None
        if data is not None:
            new, proof = parse_consistency(data, old)
            if new == self.size:
                return list(proof)
        return self.reader.consistency_proof(old, self.size)  # e.g. a newer publication's file

    def _from_tiles(self, index: int) -> bytes:
        tree = self.signed.checkpoint
        try:
            data = self.reader.entry(index)
            proof = self.reader.inclusion_proof(index)
        except TileMismatch as error:
            bundle = Tile(ENTRIES, index // TILE_WIDTH).path
            raise TileMismatch(
                f"entry {index}: {error} (its entry bundle {bundle} or a tile above it was "
                "altered: it does not match the signed checkpoint)"
            ) from None
        verify_inclusion(leaf_hash(data), index, tree.size, proof, tree.root_hash)  # RFC 9162
        return data

    def policy_chain(self, at: int, near: int) -> list[int]:
        """The indices of the ``policy`` entries before ``at`` (a hint: proven when read).

        From the evidence of the bundle holding entry ``near`` where the site
        publishes it, else from the lookup index of ``policy.note``.
        """
        proven = self.evidence(near // TILE_WIDTH)
        if proven:  # canonical JSON: only a policy entry holds this text outside a string
            indices = sorted(i for i in proven if b'"type":"policy"' in self._proven[i])
        else:
            indices = lookup(self.source.index, ITEM, path_key(POLICY_PATH), self.size)
        return [i for i in indices if i < at and isinstance(self.entry(i), PolicyEntry)]


# -- online ----------------------------------------------------------------------------------


def verify_file(
    data: bytes,
    source: Source,
    verifier: Verifier,
    *,
    policy: str | None = None,
    item: str | None = None,
) -> Verification:
    """Prove what ``data`` is in the log at ``source``, trusting only ``verifier``.

    (1) The checkpoint must verify with the key. (2) The lookup index gives the
    entries that log the file's SHA-256. (3) Each is read from its entry bundle,
    proven by its inclusion proof, and must log that SHA-256. (4) The item's
    later entries (from the index, each proven) say whether the version is
    current, superseded or withdrawn. (5) Its authorisation note (or, for a
    violation, its ratification) is proven and checked by the governance engine
    against the policy in force, whose chain back to genesis is proven and
    checked too; ``policy``, a policy note's SHA-256, must be in that chain.
    ``item``, if given, is the path the file must be logged as.
    """
    log = _ProvenLog(source, verifier)  # (1)
    digest = hashlib.sha256(data).hexdigest()
    candidates = lookup(source.index, SHA256, digest, log.size)[-MAX_MATCHES:]  # (2)
    latest: dict[str, int] = {}
    for index in candidates:  # (3)
        entry = log.entry(index)
        path = path_of(entry)
        if version_sha256(entry) != digest or path is None:
            raise VerificationError(
                f"the lookup index lists entry {index} for SHA-256 {digest}, but entry {index} "
                f"is: {entry_summary(entry)}"
            )
        latest[path] = index
    if item is not None:
        if latest and item not in latest:
            raise VerificationError(
                f"this file is logged as {', '.join(sorted(latest))}, not as {item}"
            )
        latest = {item: latest[item]} if item in latest else {}
    versions = tuple(
        _online_version(log, source, path, index, policy) for path, index in latest.items()
    )
    return Verification(digest, len(data), log.signed.checkpoint, versions)


def _online_version(
    log: _ProvenLog, source: Source, item: str, index: int, pin: str | None
) -> Version:
    entry = log.entry(index)
    assert isinstance(entry, LodgeEntry | AmendEntry | ViolationEntry) and entry.sha256
    history = lookup(source.index, ITEM, path_key(item), log.size)
    if index not in history:
        raise VerificationError(f"the lookup index of {item} does not list its entry {index}")
    currency = follow(item, index, entry, history, log.entry)  # (4)
    status, changed_by, ratify = currency.status, currency.changed_by, currency.ratify
    try:
        authority, in_force = _authority(log, source, entry, index, ratify, pin)  # (5)
    except Error as error:
        raise type(error)(f"entry {index} ({entry_summary(entry)}) is not validly authorised: "
                          f"{error}") from None
    return Version(
        item,
        entry.sha256,
        index,
        entry.TYPE,
        entry.commit,
        entry.time,
        status,
        size=entry.size,
        authorisation=None if isinstance(entry, ViolationEntry) else entry.authorisation,
        authority=authority,
        policy=in_force,
        changed_by=changed_by,
        history=tuple(history),
    )


def _authority(
    log: _ProvenLog,
    source: Source,
    entry: LodgeEntry | AmendEntry | ViolationEntry,
    index: int,
    ratify: tuple[int, RatifyEntry] | None,
    pin: str | None,
) -> tuple[Authority, PolicyInForce]:
    """Check what authorised the version at ``index`` through the governance engine."""
    if isinstance(entry, ViolationEntry):
        if ratify is None:
            raise VerificationError(
                f"entry {index} logs this version as a change nothing authorised "
                f"({entry.reason}) and no PMA ratification of it follows"
            )
        note_index = ratify[1].authorisation
        ledger, in_force = _ledger_at(log, source, ratify[0], note_index, pin, index)
        record = ledger.check_approval(note_index, ratification_of(entry))
    else:
        note_index = entry.authorisation
        ledger, in_force = _ledger_at(log, source, index, note_index, pin, index)
        old = entry.from_sha256 if isinstance(entry, AmendEntry) else None
        # As Ledger._authorise: a lodgement lists items, an approval names changes.
        if ledger.by_index[note_index].lodgement is not None:
            record = ledger.check_lodgement(note_index, LodgedItem(entry.item, entry.sha256, old))
        else:
            record = ledger.check_approval(note_index, Change(entry.TYPE, entry.item, old,
                                                              entry.sha256))
    signers = tuple(sorted(v.name for v in ledger.signers(record)))
    return _authority_of(record, log.entry(note_index), signers, ratify), in_force


def _authority_of(
    record: NoteRecord,
    note: Entry,
    signers: tuple[str, ...],
    ratify: tuple[int, RatifyEntry] | None,
) -> Authority:
    kind = "ratification" if ratify is not None else record.kind
    ratify_index = None if ratify is None else ratify[0]
    if record.approval is not None:
        a = record.approval
        return Authority(kind, a.id, record.index, note.time, signers, a.decision,
                         a.decision_ref, a.decided, ratify_index=ratify_index)
    lodged_by = record.lodgement.lodged_by if record.lodgement is not None else None
    return Authority(kind, record.id, record.index, note.time, signers, lodged_by=lodged_by)


def _ledger_at(
    log: _ProvenLog, source: Source, at: int, note_index: int, pin: str | None, near: int
) -> tuple[Ledger, PolicyInForce]:
    """A ledger that has taken the policy chain before entry ``at`` and the note at ``note_index``.

    ``near`` is the version's entry, whose evidence names the policy chain.

    Each entry is applied at its own index (the other entries do not matter to
    these checks), so the policy chain is checked from genesis by the same rules
    as a full replay, and the note's signatures against the policy in force.
    """
    if not 0 <= note_index < at:
        raise VerificationError(f"entry {at} names entry {note_index} as its authorisation")
    chain = log.policy_chain(at, near)  # a refused policy change is a violation: not in it
    if chain[:1] != [0]:
        raise VerificationError("the site does not list the genesis policy (entry 0)")
    policies = [(i, step) for i in chain if isinstance(step := log.entry(i), PolicyEntry)]
    note = log.entry(note_index)
    if not isinstance(note, NoteEntry):
        raise VerificationError(
            f"entry {at} names entry {note_index} as its authorisation, which is: "
            f"{entry_summary(note)}"
        )
    ledger = Ledger(manifests=source.object)
    steps: list[tuple[int, Entry]] = [*policies, (note_index, note)]
    for i, step in sorted(steps, key=lambda s: s[0]):
        ledger.size = i
        ledger.apply(step)
    digests = [hashlib.sha256(e.note.encode()).hexdigest() for _, e in policies]
    if pin is not None and pin not in digests:
        raise VerificationError(
            f"the policy chain in force at entry {at} does not include the pinned policy "
            f"{pin} (it holds {', '.join(digests)})"
        )
    policy = ledger.require_policy()
    return ledger, PolicyInForce(policy.version, ledger.policy_index, digests[-1], digests[0])


# -- offline ---------------------------------------------------------------------------------


def verify_offline(data: bytes, proof: bytes, verifier: Verifier) -> Verification:
    """Prove from a C2SP tlog-proof alone that ``data`` is the version its entry logs.

    (1) The proof's ``extra`` must be the entry's bytes; (2) its checkpoint must
    verify with the key and its inclusion proof lead from the entry's leaf hash to
    the checkpoint root (RFC 9162 §2.1.3.2); (3) the entry must log this file's
    SHA-256. Whether a later entry changed the item needs the log (online).
    """
    entry_bytes = parse_proof(proof).extra  # (1)
    if entry_bytes is None:
        raise MalformedError("the proof carries no log entry (no extra line) to prove a file with")
    index, signed = verify_proof(proof, verifier, entry=entry_bytes)  # (2)
    entry = decode_entry(entry_bytes)
    digest = hashlib.sha256(data).hexdigest()
    logged, item = version_sha256(entry), path_of(entry)
    if logged is None or item is None:
        raise VerificationError(
            f"the proof's entry {index} logs no item version: {entry_summary(entry)}"
        )
    if logged != digest:  # (3)
        raise VerificationError(
            f"this file's SHA-256 is {digest}, but the proof is for {item} at sha256 {logged} "
            f"(entry {index}): the file is not the logged one"
        )
    assert isinstance(entry, LodgeEntry | AmendEntry | ViolationEntry)
    authorisation = None if isinstance(entry, ViolationEntry) else entry.authorisation
    version = Version(item, logged, index, entry.TYPE, entry.commit, entry.time, Status.LOGGED,
                      size=entry.size, authorisation=authorisation)
    return Verification(digest, len(data), signed.checkpoint, (version,), offline=True)
