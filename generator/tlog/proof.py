"""C2SP tlog-proof (``c2sp.org/tlog-proof@v1``): offline proofs that an entry is logged.

A proof is the header line, an optional ``extra`` line (base64, unauthenticated),
``index <n>``, the RFC 9162 inclusion proof one base64 hash a line, a blank line,
then the signed checkpoint verbatim (C2SP tlog-proof §Format).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from generator.tlog.checkpoint import (
    MAX_TREE_SIZE,
    SignedCheckpoint,
    open_checkpoint,
    parse_checkpoint,
)
from generator.tlog.errors import MalformedError
from generator.tlog.merkle import HASH_SIZE, leaf_hash, verify_inclusion
from generator.tlog.note import MAX_NOTE_SIZE, Verifier, parse_note
from generator.tlog.reader import LogReader

PROOF_HEADER = "c2sp.org/tlog-proof@v1"

MAX_PROOF_HASHES = 63
"""Longest inclusion proof in a tree of at most 2^63 - 1 entries."""

MAX_EXTRA_SIZE = 1 << 16
"""Largest ``extra`` data accepted, in bytes."""

MAX_PROOF_SIZE = MAX_NOTE_SIZE + 4 * MAX_EXTRA_SIZE
"""Largest proof file accepted, in bytes (a checkpoint note plus a generous header)."""


@dataclass(frozen=True)
class TlogProof:
    """A parsed proof: nothing in it is verified yet (see :func:`verify_proof`)."""

    index: int
    hashes: tuple[bytes, ...]
    checkpoint: bytes  # the signed checkpoint note, verbatim
    extra: bytes | None = None


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _unb64(text: str, what: str) -> bytes:
    try:
        data = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise MalformedError(f"tlog-proof: {what} is not base64") from None
    if _b64(data) != text:
        raise MalformedError(f"tlog-proof: {what} is not canonical base64")
    return data


def format_proof(proof: TlogProof) -> bytes:
    """The proof file (C2SP tlog-proof §Format)."""
    lines = [PROOF_HEADER]
    if proof.extra is not None:
        lines.append(f"extra {_b64(proof.extra)}")
    lines.append(f"index {proof.index}")
    lines.extend(_b64(h) for h in proof.hashes)
    return ("".join(line + "\n" for line in lines) + "\n").encode() + proof.checkpoint


def parse_proof(data: bytes) -> TlogProof:
    """Parse a proof file strictly: every field canonical, sizes bounded (C2SP tlog-proof).

    The checkpoint must be a well-formed signed checkpoint; it is not verified here.
    """
    if len(data) > MAX_PROOF_SIZE:
        raise MalformedError(f"tlog-proof: larger than {MAX_PROOF_SIZE:,} bytes")
    split = data.find(b"\n\n")
    if split < 0:
        raise MalformedError("tlog-proof: no blank line before the checkpoint")
    try:
        header = data[:split].decode("ascii")
    except UnicodeDecodeError:
        raise MalformedError("tlog-proof: header lines are not ASCII") from None
    checkpoint = data[split + 2 :]
    lines = header.split("\n")
    if lines[0] != PROOF_HEADER:
        raise MalformedError(f"tlog-proof: first line is not {PROOF_HEADER}")
    at, extra = 1, None
    if at < len(lines) and lines[at].startswith("extra "):
        extra = _unb64(lines[at][len("extra ") :], "extra data")
        if not extra or len(extra) > MAX_EXTRA_SIZE:
            raise MalformedError(f"tlog-proof: extra data must be 1 to {MAX_EXTRA_SIZE} bytes")
        at += 1
    if at == len(lines) or not lines[at].startswith("index "):
        raise MalformedError("tlog-proof: no index line")
    index_text = lines[at][len("index ") :]
    if (
        not index_text.isdigit()
        or (index_text != "0" and index_text[0] == "0")
        or len(index_text) > len(str(MAX_TREE_SIZE))
        or int(index_text) >= MAX_TREE_SIZE
    ):
        raise MalformedError(f"tlog-proof: bad index {index_text[:40]!r}")
    hash_lines = lines[at + 1 :]
    if len(hash_lines) > MAX_PROOF_HASHES:
        raise MalformedError(f"tlog-proof: more than {MAX_PROOF_HASHES} proof hashes")
    hashes = tuple(_unb64(line, f"proof hash {i}") for i, line in enumerate(hash_lines))
    for i, h in enumerate(hashes):
        if len(h) != HASH_SIZE:
            raise MalformedError(f"tlog-proof: proof hash {i} is {len(h)} bytes, want 32")
    parse_checkpoint(parse_note(checkpoint).text)
    return TlogProof(int(index_text), hashes, checkpoint, extra)


def make_proof(
    reader: LogReader,
    index: int,
    checkpoint: bytes | SignedCheckpoint | None = None,
    *,
    extra: bytes | None = None,
) -> bytes:
    """A proof that entry ``index`` is in the log, against ``checkpoint`` (default: latest).

    ``checkpoint`` is a signed checkpoint of this log no larger than the latest, as
    bytes (its signature is verified) or already opened with the reader's key; the
    proof is verified before it is returned, so a checkpoint the log has forked from
    raises :class:`~generator.tlog.errors.InvalidProof`.
    """
    if checkpoint is None:
        signed = reader.latest
    elif isinstance(checkpoint, SignedCheckpoint):
        signed = checkpoint
    else:
        signed = reader.open_checkpoint(checkpoint)
    tree = signed.checkpoint
    hashes = reader.inclusion_proof(index, tree.size)
    leaf = reader.leaf_hashes(index, index + 1)[0]
    verify_inclusion(leaf, index, tree.size, hashes, tree.root_hash)
    return format_proof(TlogProof(index, tuple(hashes), signed.raw, extra))


def verify_proof(
    data: bytes,
    verifier: Verifier,
    *,
    entry: bytes | None = None,
    leaf: bytes | None = None,
    origin: str | None = None,
) -> tuple[int, SignedCheckpoint]:
    """Check that proof ``data`` proves ``entry`` (or leaf hash ``leaf``) is in the log.

    (1) parse strictly; (2) the checkpoint must verify with ``verifier`` and carry
    ``origin`` (default: the key name); (3) the inclusion proof must lead from the
    leaf hash at the index to the checkpoint root (RFC 9162 §2.1.3.2). Returns the
    index and the verified checkpoint; raises on any failure.
    """
    if entry is not None:
        if leaf is not None:
            raise TypeError("give an entry or its leaf hash, not both")
        leaf = leaf_hash(entry)
    elif leaf is None:
        raise TypeError("give an entry or its leaf hash")
    proof = parse_proof(data)  # (1)
    signed = open_checkpoint(  # (2)
        proof.checkpoint, verifier, origin=verifier.name if origin is None else origin
    )
    tree = signed.checkpoint
    verify_inclusion(leaf, proof.index, tree.size, proof.hashes, tree.root_hash)  # (3)
    return proof.index, signed
