"""smki's one error hierarchy, split by cause.

The root and the log-data branch live in :mod:`generator.tlog.errors` (the tlog
layer imports nothing from the rest of the package); the repository, build and
publishing branches are added here.
"""

from __future__ import annotations

from generator.tlog.errors import (
    Error,
    ForkDetected,
    InvalidProof,
    InvalidSignature,
    MalformedError,
    NotFound,
    RollbackDetected,
    TileMismatch,
    TransportError,
    VerificationError,
)

__all__ = [
    "ContentError",
    "Error",
    "ForkDetected",
    "GovernanceError",
    "HistoryError",
    "InvalidProof",
    "InvalidSignature",
    "MalformedError",
    "NotFound",
    "PublishError",
    "RollbackDetected",
    "TileMismatch",
    "TransportError",
    "UnauthorisedChange",
    "UsageError",
    "VerificationError",
]


class ContentError(Error):
    """A file in the content repository is malformed (bad TOML, bad path, too big …)."""


class GovernanceError(Error):
    """The content history breaks a governance rule (DESIGN §5)."""


class UnauthorisedChange(GovernanceError):
    """A change to the repository that no valid authorisation covers (SEC L5.6A)."""


class HistoryError(Error):
    """The git history cannot be read as needed (shallow clone, no such revision …)."""


class PublishError(Error):
    """Publishing was refused: history rewrite, lock held, inconsistent checkpoint."""


class UsageError(Error, RuntimeError):
    """The tool was called in a way that cannot work (misuse, not bad data)."""
