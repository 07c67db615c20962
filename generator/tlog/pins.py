"""Pinned checkpoints: signed checkpoints of earlier tree sizes, for proofs that never change.

A proof against the newest checkpoint goes stale with every append, so a site
that publishes one proof per entry would rewrite all of them on every build.
Instead each entry's proof is *pinned* to a chosen earlier size at or after it
(smki pins to the end of the commit that logged the entry): the checkpoint of
that size is signed with the log key when first needed, and because the size,
the root and an Ed25519 signature are all deterministic, every build of the
same history pins the same bytes. A relying party who wants more than
"this entry is in a log the key signed" proves the pinned tree consistent with
the newest one (RFC 9162 §2.1.4).
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence

from generator.tlog.checkpoint import Checkpoint, SignedCheckpoint, sign_checkpoint
from generator.tlog.note import Signer
from generator.tlog.proof import make_proof
from generator.tlog.reader import LogReader


class PinnedCheckpoints:
    """Signed checkpoints of the log in ``reader`` at the tree ``sizes`` proofs pin to.

    ``sizes`` ascend and end with the reader's checkpoint size; an entry's pin is
    the first of them greater than its index. The newest size pins to the
    reader's own (published) checkpoint; the others are signed with ``signer``
    on first use and kept.
    """

    def __init__(self, reader: LogReader, signer: Signer, sizes: Sequence[int]) -> None:
        latest = reader.latest
        size = latest.checkpoint.size
        if list(sizes) != sorted(set(sizes)) or (sizes and (sizes[0] < 1 or sizes[-1] != size)):
            raise ValueError(f"pin sizes must ascend from 1 to the checkpoint size {size}")
        if signer.name != latest.checkpoint.origin:
            raise ValueError(f"key {signer.name!r} does not sign {latest.checkpoint.origin!r}")
        self.reader, self.signer, self.sizes = reader, signer, tuple(sizes)
        self._signed: dict[int, SignedCheckpoint] = {size: latest}

    @property
    def size(self) -> int:
        """The newest tree size (the reader's checkpoint)."""
        return self.reader.latest.checkpoint.size

    def size_for(self, index: int) -> int:
        """The tree size entry ``index`` is pinned to."""
        at = bisect.bisect_right(self.sizes, index)
        if not 0 <= index < self.size or at == len(self.sizes):
            raise ValueError(f"entry {index} is not in the log of {self.size} entries")
        return self.sizes[at]

    def checkpoint(self, size: int) -> bytes:
        """The signed checkpoint of tree ``size``, one of :attr:`sizes`."""
        return self._opened(size).raw

    def _opened(self, size: int) -> SignedCheckpoint:
        """The checkpoint of ``size``, signed and verified once, then kept."""
        signed = self._signed.get(size)
        if signed is None:
            if size not in self.sizes:
                raise ValueError(f"tree size {size} is not a pinned size")
            tree = Checkpoint(self.reader.origin, size, self.reader.root_hash(size))
            note = sign_checkpoint(tree, self.signer)
            signed = self._signed[size] = self.reader.open_checkpoint(note)
        return signed

    def proof(self, index: int, *, extra: bytes | None = None) -> bytes:
        """The C2SP tlog-proof of entry ``index`` against its pinned checkpoint (verified)."""
        return make_proof(self.reader, index, self._opened(self.size_for(index)), extra=extra)
