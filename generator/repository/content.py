"""The content repository layout (contract) and the rules every path must meet.

A content root holds ``policy.note``, ``items/**`` (the repository items),
``approvals/<id>.note`` and ``lodgements/<id>.note`` (plus an optional
``lodgements/<id>.manifest`` for large lodgements). Nothing else may sit in
those three folders. Other files of the content root (a README, CI workflows,
``.gitignore``) are not repository information: they are neither governed,
logged nor published.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

POLICY_PATH = "policy.note"
ITEMS_DIR = "items/"
APPROVALS_DIR = "approvals/"
LODGEMENTS_DIR = "lodgements/"
GOVERNED_DIRS = (ITEMS_DIR, APPROVALS_DIR, LODGEMENTS_DIR)
MANIFEST_SUFFIX = ".manifest"

MAX_PATH_LENGTH = 240
MAX_ITEM_SIZE = 64 << 20
"""Largest item accepted, in bytes (64 MiB): a clear limit, not a silent truncation."""

REGULAR_MODE = "100644"

FAMILIES = (
    "documents",
    "certificates/ca",
    "certificates/organisation",
    "certificates/device",
    "crls",
)
"""Item families: the folder under ``items/`` an item's path starts with."""

_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_NOTE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


class PathKind(Enum):
    """What a path in the content root is."""

    POLICY = "policy"
    ITEM = "item"
    APPROVAL = "approval"
    LODGEMENT = "lodgement"
    MANIFEST = "manifest"
    UNKNOWN = "unknown"


def path_problem(path: str) -> str | None:
    """Say why ``path`` cannot be a content path, or None if its form is fine.

    Segments are ASCII letters, digits, ``.``, ``_`` and ``-``, never starting with
    a dot (no ``..``, no hidden files, no absolute paths, no backslashes).
    """
    if not path or len(path) > MAX_PATH_LENGTH:
        return f"path length must be 1–{MAX_PATH_LENGTH} characters"
    for segment in path.split("/"):
        if not _SEGMENT.fullmatch(segment):
            return f"path segment {segment!r} is not allowed (letters, digits, . _ - only)"
    return None


def classify(path: str) -> PathKind:
    """The kind of a content path (by its place in the layout)."""
    if path == POLICY_PATH:
        return PathKind.POLICY
    if path.startswith(ITEMS_DIR) and family_of(path) is not None:
        return PathKind.ITEM
    for prefix, suffix, kind in (
        (APPROVALS_DIR, ".note", PathKind.APPROVAL),
        (LODGEMENTS_DIR, ".note", PathKind.LODGEMENT),
        (LODGEMENTS_DIR, MANIFEST_SUFFIX, PathKind.MANIFEST),
    ):
        name = path[len(prefix) :]
        if (
            path.startswith(prefix)
            and name.endswith(suffix)
            and "/" not in name
            and _NOTE_ID.fullmatch(name[: -len(suffix)])
        ):
            return kind
    return PathKind.UNKNOWN


def family_of(path: str) -> str | None:
    """The item family of an ``items/…`` path, or None."""
    rest = path[len(ITEMS_DIR) :] if path.startswith(ITEMS_DIR) else ""
    for family in FAMILIES:
        if rest.startswith(family + "/") and len(rest) > len(family) + 1:
            return family
    return None


def note_path(kind: PathKind, note_id: str) -> str:
    """Where the note of ``kind`` with ``note_id`` lives."""
    folder = {PathKind.APPROVAL: APPROVALS_DIR, PathKind.LODGEMENT: LODGEMENTS_DIR}[kind]
    return f"{folder}{note_id}.note"


def is_valid_note_id(note_id: str) -> bool:
    """Report whether ``note_id`` may name an approval or lodgement."""
    return bool(_NOTE_ID.fullmatch(note_id))


@lru_cache(maxsize=1024)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:[^/]+/)*")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(parts))


def glob_match(pattern: str, path: str) -> bool:
    """Match ``path`` against a glob where ``*`` stays in one segment and ``**`` spans many."""
    return _glob_regex(pattern).fullmatch(path) is not None


def matches_any(patterns: tuple[str, ...], path: str) -> bool:
    """Report whether any of ``patterns`` matches ``path``."""
    return any(glob_match(p, path) for p in patterns)


@dataclass(frozen=True)
class ItemVersion:
    """One version of an item: its path and exact bytes, by SHA-256."""

    item: str
    sha256: str
    size: int
