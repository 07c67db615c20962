"""Errors raised by the tlog layer: the root of smki's one error hierarchy.

Split by whose fault it is (python-tuf style): malformed input, data from a log
that does not verify, transport failures. Every message is one line a user can
act on; the CLI prints ``str(error)`` and exits non-zero.
"""

from __future__ import annotations


class Error(Exception):
    """Root of every error smki raises on purpose."""

    def diagnostics(self) -> str:
        """The text the CLI prints: one line saying what is wrong."""
        return str(self)


class MalformedError(Error, ValueError):
    """Input that does not parse: a note, checkpoint, key, tile, bundle or proof."""


class VerificationError(Error):
    """Data from a log (or a note) that is well formed but does not verify."""


class InvalidSignature(VerificationError):
    """A signature from a known key fails, or no known key signed."""


class InvalidProof(VerificationError):
    """An inclusion or consistency proof does not verify."""


class TileMismatch(VerificationError):
    """A stored tile or entry bundle differs from what the entries imply."""


class RollbackDetected(VerificationError):
    """A log shows a smaller tree than one already trusted."""


class ForkDetected(VerificationError):
    """A log shows a tree inconsistent with one already trusted."""


class TransportError(Error):
    """Reading from a store failed (I/O, HTTP status, size or time limit)."""


class NotFound(TransportError):
    """The store has no such file."""
