"""Writing files so that no reader ever sees half of one, and keys so none is exposed."""

from __future__ import annotations

import os
from pathlib import Path


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` through a temporary file and a rename.

    Never half a file, and never writing into the old file: a staged site shares
    its unchanged files with the published one through hard links.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def write_private_file(path: Path, data: str) -> None:
    """Create ``path`` with mode 0600 and write ``data``; never overwrite a key."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(data)
