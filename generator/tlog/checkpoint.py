"""C2SP tlog-checkpoint: the signed tree head of a log.

The note text is the origin line, the tree size in decimal, the base64 root
hash, then zero or more non-empty extension lines (C2SP tlog-checkpoint §Note text).
"""

from __future__ import annotations

import base64
from collections.abc import Iterable
from dataclasses import dataclass

from generator.tlog.errors import MalformedError
from generator.tlog.note import (
    Signer,
    VerifiedNote,
    Verifier,
    check_note_text,
    open_note,
    sign_note,
)

MAX_TREE_SIZE = (1 << 63) - 1
_MAX_SIZE_DIGITS = len(str(MAX_TREE_SIZE))


@dataclass(frozen=True)
class Checkpoint:
    """A tree head: origin, size and RFC 9162 root hash, plus extension lines."""

    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        """The checkpoint body as note text."""
        root = base64.b64encode(self.root_hash).decode()
        lines = [self.origin, str(self.size), root, *self.extensions]
        return "".join(line + "\n" for line in lines)


def parse_checkpoint(text: str) -> Checkpoint:
    """Parse checkpoint note text (C2SP tlog-checkpoint), rejecting anything malformed."""
    if not text.endswith("\n"):
        raise MalformedError("checkpoint: text must end in a newline")
    check_note_text(text)  # a checkpoint is note text: no control characters
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise MalformedError("checkpoint: want origin, size and root hash lines")
    origin, size_text, root_text, *extensions = lines
    if not origin:
        raise MalformedError("checkpoint: empty origin line")
    if not size_text.isascii() or not size_text.isdigit() or (
        len(size_text) > 1 and size_text[0] == "0"
    ):
        raise MalformedError(f"checkpoint: tree size {size_text[:40]!r} is not a decimal number")
    # Count digits before int(): past 4300 Python raises a bare ValueError.
    size = int(size_text) if len(size_text) <= _MAX_SIZE_DIGITS else MAX_TREE_SIZE + 1
    if size > MAX_TREE_SIZE:
        raise MalformedError("checkpoint: tree size out of range")
    try:
        root = base64.b64decode(root_text.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        raise MalformedError("checkpoint: root hash is not base64") from None
    if len(root) != 32:
        raise MalformedError(f"checkpoint: root hash is {len(root)} bytes, want 32")
    if base64.b64encode(root).decode() != root_text:
        raise MalformedError("checkpoint: root hash is not canonical base64")
    if any(not line for line in extensions):
        raise MalformedError("checkpoint: empty extension line")
    return Checkpoint(origin, size, root, tuple(extensions))


@dataclass(frozen=True)
class SignedCheckpoint:
    """A checkpoint together with the verified note that carries it."""

    checkpoint: Checkpoint
    note: VerifiedNote
    raw: bytes


def open_checkpoint(
    data: bytes, verifier: Verifier | Iterable[Verifier], *, origin: str | None = None
) -> SignedCheckpoint:
    """Verify a signed checkpoint against the log's key(s).

    ``origin``, when given, must be the checkpoint's origin line (smki logs use the
    key name; sum.golang.org predates that convention). Extra signatures
    (witness cosignatures, unknown keys) are ignored.
    """
    verifiers = [verifier] if isinstance(verifier, Verifier) else list(verifier)
    note = open_note(data, verifiers)
    checkpoint = parse_checkpoint(note.text)
    if origin is not None and checkpoint.origin != origin:
        raise MalformedError(
            f"checkpoint: origin {checkpoint.origin!r}, want {origin!r}"
        )
    return SignedCheckpoint(checkpoint, note, data)


def sign_checkpoint(checkpoint: Checkpoint, signer: Signer) -> bytes:
    """The signed checkpoint note; the signer's name must be the origin."""
    if signer.name != checkpoint.origin:
        raise MalformedError(
            f"checkpoint: origin {checkpoint.origin!r} differs from key name {signer.name!r}"
        )
    return sign_note(checkpoint.text(), [signer])
