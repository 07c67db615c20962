"""What became of an item version: current, superseded or withdrawn, and by which entry.

One walk over the item's later entries decides it; :mod:`~generator.client.verify`
follows it over proven entries, and the build follows the same walk to know which
later entries a version's evidence must carry (:mod:`~generator.client.evidence`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from generator.client.outcome import Status
from generator.repository.entries import (
    AmendEntry,
    Entry,
    RatifyEntry,
    VersionEntry,
    ViolationEntry,
    WithdrawEntry,
    entry_summary,
    path_of,
)
from generator.tlog.errors import VerificationError

MAX_LATER = 64
"""Most later entries of an item read to find what changed a version (and its ratification)."""

@dataclass(frozen=True)
class Currency:
    """What the item's later entries say about the version at one index."""

    status: Status
    changed_by: int | None
    ratify: tuple[int, RatifyEntry] | None  # a violation's ratification
    read: tuple[int, ...]  # the later entries the walk read, in order


def follow(
    item: str,
    index: int,
    entry: VersionEntry,
    history: Sequence[int],
    entry_at: Callable[[int], Entry],
) -> Currency:
    """Walk the entries of ``item`` after ``index`` (``history``: every entry of the item).

    The first change decides the status; a violation's walk goes on to its
    ratification. ``entry_at`` reads an entry (proven, for a relying party).
    Raises :class:`VerificationError` where the history contradicts itself.
    """
    assert entry.sha256 is not None
    status, changed_by, ratify = Status.CURRENT, None, None
    needs_ratify = isinstance(entry, ViolationEntry)
    read: list[int] = []
    for later in [i for i in history if i > index][:MAX_LATER]:
        other = entry_at(later)
        read.append(later)
        if isinstance(other, RatifyEntry):
            if other.violation == index:
                ratify = (later, other)
        elif path_of(other) != item:
            raise VerificationError(
                f"the lookup index of {item} lists entry {later}, which is: {entry_summary(other)}"
            )
        elif status is Status.CURRENT:
            status, changed_by = _change_status(other, item, entry.sha256, later)
        if status is not Status.CURRENT and (ratify is not None or not needs_ratify):
            break
    return Currency(status, changed_by, ratify, tuple(read))


def _change_status(entry: Entry, item: str, sha256: str, index: int) -> tuple[Status, int]:
    """How the first later entry of an item changes the version ``sha256``."""
    if isinstance(entry, AmendEntry | WithdrawEntry):
        old = entry.from_sha256
        status = Status.WITHDRAWN if isinstance(entry, WithdrawEntry) else Status.SUPERSEDED
    elif isinstance(entry, ViolationEntry):
        old = entry.from_sha256 or ""
        status = Status.WITHDRAWN if entry.change == "delete" else Status.SUPERSEDED
    else:
        raise VerificationError(
            f"entry {index} logs {item} again while its version {sha256[:16]}… is in force: "
            f"{entry_summary(entry)}"
        )
    if old != sha256:
        raise VerificationError(
            f"entry {index} changes {item} from sha256:{old[:16]}…, but the version in force "
            f"is sha256:{sha256[:16]}…: {entry_summary(entry)}"
        )
    return status, index
