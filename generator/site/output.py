"""Writing the site: only what changed, remembered in a small cache beside the pages.

Each output has a key (a digest of everything its bytes depend on). The cache
file ``OUT/.smki-site-cache.json`` remembers the key and size of every file the
site stage wrote, the facts of every parsed object and every issuer check, all
under a fingerprint of the code and templates that made them. A rebuild renders
only outputs whose key changed (or whose file is missing or resized), leaves
files whose new bytes are identical untouched, and removes files it wrote before
that are no longer part of the site. The cache is not part of the published site.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.files import atomic_write

CACHE_FILE = ".smki-site-cache.json"
_CACHE_FORMAT = "smki-site-cache/v1"


@dataclass
class SiteCache:
    """What the previous build left: output keys, object facts and issuer checks."""

    fingerprint: str
    outputs: dict[str, list[Any]] = field(default_factory=dict)  # path -> [key, size]
    facts: dict[str, Any] = field(default_factory=dict)
    issued: dict[str, bool] = field(default_factory=dict)

    @classmethod
    def load(cls, out: Path, fingerprint: str) -> SiteCache:
        """The cache in ``out`` if it was made by the same code and templates, else empty."""
        try:
            data = json.loads((out / CACHE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls(fingerprint)
        if (
            not isinstance(data, dict)
            or data.get("format") != _CACHE_FORMAT
            or data.get("fingerprint") != fingerprint
        ):
            return cls(fingerprint)
        outputs, facts, issued = data.get("outputs"), data.get("facts"), data.get("issued")
        if not (isinstance(outputs, dict) and isinstance(facts, dict) and isinstance(issued, dict)):
            return cls(fingerprint)
        return cls(
            fingerprint,
            {p: v for p, v in outputs.items() if _is_entry(v)},
            facts,
            {k: v for k, v in issued.items() if isinstance(v, bool)},
        )

    def save(self, out: Path, outputs: dict[str, list[Any]], *, facts_changed: bool) -> None:
        """Write the cache for the outputs of this build, unless nothing in it changed."""
        if not facts_changed and outputs == self.outputs and (out / CACHE_FILE).is_file():
            return
        data = {
            "format": _CACHE_FORMAT,
            "fingerprint": self.fingerprint,
            "outputs": outputs,
            "facts": self.facts,
            "issued": self.issued,
        }
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        atomic_write(out / CACHE_FILE, text.encode())


def _is_entry(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    )


@dataclass
class OutputWriter:
    """Writes outputs under ``out``, skipping what the cache says is up to date."""

    out: Path
    previous: dict[str, list[Any]]
    current: dict[str, list[Any]] = field(default_factory=dict)
    written: int = 0
    unchanged: int = 0
    skipped: int = 0
    removed: int = 0
    folders: set[str] = field(default_factory=set)

    def emit(self, path: str, key: str, make: Callable[[], bytes]) -> None:
        """Make and write the output at ``path`` unless its key and file are as before."""
        target = os.path.join(self.out, path)
        before = self.previous.get(path)
        try:
            size: int | None = os.stat(target).st_size
        except FileNotFoundError:
            size = None
        if before is not None and before == [key, size]:
            self.current[path] = before
            self.skipped += 1
            return
        data = make()
        self.current[path] = [key, len(data)]
        if size is None:  # a new file: no old bytes to keep whole
            folder = os.path.dirname(target)
            if folder not in self.folders:
                os.makedirs(folder, exist_ok=True)
                self.folders.add(folder)
            with open(target, "wb") as handle:
                handle.write(data)
        elif size == len(data) and Path(target).read_bytes() == data:
            self.unchanged += 1
            return
        else:
            atomic_write(Path(target), data)
        self.written += 1

    def remove_stale(self) -> None:
        """Delete files a previous build wrote that are no longer outputs."""
        for path in sorted(set(self.previous) - set(self.current)):
            target = self.out / path
            if target.is_file():
                target.unlink()
                self.removed += 1
                parent = target.parent
                while parent != self.out and not any(parent.iterdir()):
                    parent.rmdir()
                    parent = parent.parent
