"""What a verification concluded, and the exit codes of ``smki verify`` and ``smki audit``.

The one place the exit codes are defined: 0 all holds (and the file is current),
1 the question could not be asked, 3 not in the log, 4 superseded or withdrawn,
5 verification failed.
"""

from __future__ import annotations

import base64
import dataclasses
from dataclasses import dataclass
from enum import Enum
from typing import Any

from generator.errors import ContentError, GovernanceError
from generator.tlog.checkpoint import Checkpoint
from generator.tlog.errors import MalformedError, VerificationError

EXIT_OK = 0
"""Everything holds, and the file is a current version (offline: it is logged)."""
EXIT_ERROR = 1
"""Misuse or transport: the question could not be asked (bad option, unreachable site)."""
EXIT_NOT_IN_LOG = 3
"""The log has no entry for the file's SHA-256."""
EXIT_NOT_CURRENT = 4
"""The file is a logged version, but a later entry superseded or withdrew it."""
EXIT_FAILED = 5
"""Verification failed: a signature, proof, tile, entry, index or authorisation is wrong."""

def exit_code_for(error: BaseException) -> int:
    """The exit code of a failure: :data:`EXIT_FAILED` when data did not verify, else 1."""
    bad_data = (VerificationError, MalformedError, GovernanceError, ContentError)
    return EXIT_FAILED if isinstance(error, bad_data) else EXIT_ERROR


class Status(Enum):
    """What a verification concluded about a file."""

    CURRENT = "current"
    SUPERSEDED = "superseded"
    WITHDRAWN = "withdrawn"
    LOGGED = "logged"  # offline: included in the log; currency not checked
    NOT_IN_LOG = "not in log"


@dataclass(frozen=True)
class Authority:
    """What authorised a version: a lodgement, a PMA approval, or a PMA ratification."""

    kind: str  # "lodgement" | "approval" | "ratification"
    id: str
    index: int  # the note entry
    time: str  # when the note was logged
    signers: tuple[str, ...]  # keys of the policy in force whose signatures verify
    decision: str | None = None
    decision_ref: str | None = None
    decided: str | None = None
    lodged_by: str | None = None
    ratify_index: int | None = None


@dataclass(frozen=True)
class PolicyInForce:
    """The policy an authorisation was checked against, and the genesis it descends from."""

    version: int
    index: int
    sha256: str
    genesis_sha256: str


@dataclass(frozen=True)
class Version:
    """One logged version of an item that the file is, and what became of it."""

    item: str
    sha256: str
    index: int
    type: str  # "lodge" | "amend" | "violation"
    commit: str
    time: str
    status: Status
    size: int | None = None
    authorisation: int | None = None  # the entry's own authorisation field, if it has one
    authority: Authority | None = None  # None offline
    policy: PolicyInForce | None = None
    changed_by: int | None = None  # the later entry that superseded or withdrew it
    history: tuple[int, ...] = ()  # every entry touching the item, from the index


@dataclass(frozen=True)
class Verification:
    """The answer about one file, against one signed checkpoint."""

    sha256: str
    size: int
    checkpoint: Checkpoint
    versions: tuple[Version, ...]
    offline: bool = False

    @property
    def status(self) -> Status:
        """CURRENT if any match is current, else the first match's status, else NOT_IN_LOG."""
        statuses = [v.status for v in self.versions]
        if not statuses:
            return Status.NOT_IN_LOG
        return Status.CURRENT if Status.CURRENT in statuses else statuses[0]

    @property
    def exit_code(self) -> int:
        """0 current (or logged, offline), 3 not in the log, 4 superseded or withdrawn."""
        return {Status.NOT_IN_LOG: EXIT_NOT_IN_LOG, Status.SUPERSEDED: EXIT_NOT_CURRENT,
                Status.WITHDRAWN: EXIT_NOT_CURRENT}.get(self.status, EXIT_OK)

    def to_json(self) -> dict[str, Any]:
        """The machine-readable answer (``smki verify --json``; docs/relying-parties.md)."""
        tree = self.checkpoint
        return {
            "status": self.status.value,
            "exit_code": self.exit_code,
            "offline": self.offline,
            "file": {"sha256": self.sha256, "size": self.size},
            "checkpoint": {
                "origin": tree.origin,
                "size": tree.size,
                "root_hash": base64.b64encode(tree.root_hash).decode(),
            },
            "versions": [_version_json(v) for v in self.versions],
        }


def _version_json(version: Version) -> dict[str, Any]:
    out = dataclasses.asdict(version)
    out["status"] = version.status.value
    return out
