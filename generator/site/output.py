"""Writing the site: only what changed, remembered in a small cache beside the pages.

Each output has a key (a digest of everything its bytes depend on). The cache
file ``OUT/.smki-site-cache.json`` remembers the key and size of every file the
site stage wrote, the facts of every parsed object and every issuer check, all
under a fingerprint of the code and templates that made them. A rebuild renders
only outputs whose key changed (or whose file is missing or resized), leaves
files whose new bytes are identical untouched, and removes files it wrote before
that are no longer part of the site. The cache is not part of the published site.

Object facts and issuer checks only ever grow (an object never changes under its
digest), so they live in ``OUT/.smki-site-facts.jsonl``, one JSON line each after a
header line, and a build appends only what it learnt: the ~8 MB of rendered
documents of the benchmark site are not rewritten for one amended document. A
line that does not parse (a build killed mid-append) is ignored and the file is
rewritten whole.

The cache also remembers the plan's *units* (:class:`PlanMemo`): the outputs of
one item, of one block of log entries or of one note, under a signature of what
they are made from. A rebuild that finds a unit's signature unchanged takes its
outputs as they are without planning, keying or even looking at them, so its
cost follows what changed, not the size of the site; the files of such a unit
are trusted to be as written (delete the cache file to have every file checked).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.files import atomic_write

CACHE_FILE = ".smki-site-cache.json"
FACTS_FILE = ".smki-site-facts.jsonl"
_CACHE_FORMAT = "smki-site-cache/v2"
_FACTS_FORMAT = "smki-site-facts/v1"


@dataclass
class SiteCache:
    """What the previous build left: output keys, object facts and issuer checks."""

    fingerprint: str
    outputs: dict[str, list[Any]] = field(default_factory=dict)  # path -> [key, size]
    facts: dict[str, Any] = field(default_factory=dict)
    issued: dict[str, bool] = field(default_factory=dict)
    units: dict[str, list[Any]] = field(default_factory=dict)  # unit -> [signature, paths]

    rewrite_facts: bool = True  # the facts file must be written whole, not appended to

    @classmethod
    def load(cls, out: Path, fingerprint: str) -> SiteCache:
        """The cache in ``out`` if it was made by the same code and templates, else empty."""
        cache = cls(fingerprint)
        cache._load_facts(out)
        try:
            data = json.loads((out / CACHE_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cache
        if (
            not isinstance(data, dict)
            or data.get("format") != _CACHE_FORMAT
            or data.get("fingerprint") != fingerprint
        ):
            return cache
        outputs, units = data.get("outputs"), data.get("units")
        if isinstance(outputs, dict) and isinstance(units, dict):
            cache.outputs = {p: v for p, v in outputs.items() if _is_entry(v)}
            cache.units = {u: v for u, v in units.items() if _is_unit(v)}
        return cache

    def _load_facts(self, out: Path) -> None:
        try:
            text = (out / FACTS_FILE).read_text(encoding="utf-8")
        except (OSError, ValueError):
            return
        lines = text.split("\n")
        if lines[-1] or _json_line(lines[0]) != {
            "format": _FACTS_FORMAT,
            "fingerprint": self.fingerprint,
        }:
            return  # not ours, or cut short: start again
        self.rewrite_facts = False
        body = lines[1:-1]
        records = _json_line("[" + ",".join(body) + "]")  # one parse of the whole file
        if not isinstance(records, list) or len(records) != len(body):
            records = [_json_line(line) for line in body]  # a damaged line: line by line
        for record in records:
            if not (isinstance(record, list) and len(record) == 3 and isinstance(record[1], str)):
                self.rewrite_facts = True
            elif record[0] == "facts":
                self.facts[record[1]] = record[2]
            elif record[0] == "issued" and isinstance(record[2], bool):
                self.issued[record[1]] = record[2]
            else:
                self.rewrite_facts = True

    def save(
        self,
        out: Path,
        outputs: dict[str, list[Any]],
        units: dict[str, list[Any]],
        *,
        new_facts: list[str],
        new_issued: list[str],
    ) -> None:
        """Write the cache of this build: outputs and units if they changed, and the
        facts and issuer checks learnt (``new_facts``, ``new_issued``: their keys)."""
        self._save_facts(out, new_facts, new_issued)
        if outputs == self.outputs and units == self.units and (out / CACHE_FILE).is_file():
            return
        data = {
            "format": _CACHE_FORMAT,
            "fingerprint": self.fingerprint,
            "outputs": outputs,
            "units": units,
        }
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        atomic_write(out / CACHE_FILE, text.encode())

    def _save_facts(self, out: Path, new_facts: list[str], new_issued: list[str]) -> None:
        if self.rewrite_facts:
            new_facts, new_issued = sorted(self.facts), sorted(self.issued)
        lines = [
            *(_dumps(["facts", sha, self.facts[sha]]) for sha in new_facts),
            *(_dumps(["issued", key, self.issued[key]]) for key in new_issued),
        ]
        if self.rewrite_facts:
            header = _dumps({"format": _FACTS_FORMAT, "fingerprint": self.fingerprint})
            atomic_write(out / FACTS_FILE, "".join(f"{x}\n" for x in [header, *lines]).encode())
            self.rewrite_facts = False
        elif lines:
            with open(out / FACTS_FILE, "a", encoding="utf-8") as handle:
                handle.write("".join(f"{x}\n" for x in lines))


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _json_line(line: str) -> Any:
    try:
        return json.loads(line)
    except ValueError:
        return None


def _is_entry(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], int)
    )


def _is_unit(value: Any) -> bool:
    return (
        isinstance(value, list)
        and len(value) == 2
        and isinstance(value[0], str)
        and isinstance(value[1], list)
        and all(isinstance(p, str) for p in value[1])
    )


@dataclass
class PlanMemo:
    """The previous build's plan units, and which of them this build reuses.

    A unit (``item:<path>``, ``entries:<n>``, ``note:<kind>:<id>``) is reused when
    its signature — a description of everything its outputs are made from, under
    ``key`` (code, templates, origin, base URL and log key) — is the one recorded,
    and every output it had is still in the previous build's outputs.
    """

    key: str
    previous: dict[str, list[Any]] = field(default_factory=dict)  # unit -> [signature, paths]
    outputs: dict[str, list[Any]] = field(default_factory=dict)  # previous: path -> [key, size]
    units: dict[str, list[Any]] = field(default_factory=dict)  # this build's units
    reused: dict[str, list[Any]] = field(default_factory=dict)  # path -> [key, size]

    def signature(self, description: str) -> str:
        """The digest recorded for a unit described by ``description``."""
        return hashlib.sha256(f"{self.key}\0{description}".encode()).hexdigest()

    def reuse(self, unit: str, signature: str) -> list[str] | None:
        """The paths of ``unit`` if the previous build's can be taken as they are, else None."""
        before = self.previous.get(unit)
        if before is None or before[0] != signature:
            return None
        paths: list[str] = before[1]
        try:
            carried = {path: self.outputs[path] for path in paths}
        except KeyError:
            return None
        self.reused.update(carried)
        self.units[unit] = before
        return paths

    def record(self, unit: str, signature: str, paths: list[str]) -> None:
        """Remember the outputs this build planned for ``unit``."""
        self.units[unit] = [signature, paths]


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
