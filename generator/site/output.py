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
rewritten whole. An object's facts are decoded when first asked for
(:class:`LazyJson`): a rebuild that changes one document reads the file but
decodes only what the pages it makes again show.

The site model's walk of the log is kept in ``OUT/.smki-site-model.json``
(:func:`~generator.site.model.collect_model`): a rebuild walks only the entries
logged after it (it is rewritten once those are many).

The cache also remembers the plan's *units* (:class:`PlanMemo`): the outputs of
one item, of one family's listing, of one block of log entries or of one note,
under a signature of what they are made from. A rebuild that finds a unit's
signature unchanged takes its outputs as they are without planning, keying or
even looking at them, so its cost follows what changed, not the size of the
site; the files of such a unit are trusted to be as written (delete the cache
file to have every file checked).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from generator.files import atomic_write

CACHE_FILE = ".smki-site-cache.json"
FACTS_FILE = ".smki-site-facts.jsonl"
UNITS_FILE = ".smki-site-units.jsonl"
MODEL_FILE = ".smki-site-model.json"
_CACHE_FORMAT = "smki-site-cache/v3"
_FACTS_FORMAT = "smki-site-facts/v1"
_UNITS_FORMAT = "smki-site-units/v1"
_MODEL_FORMAT = "smki-site-model/v1"

Outputs = dict[str, list[Any]]
"""Output path -> [key, size]."""


@dataclass
class SiteCache:
    """What the previous build left: output keys, plan units, object facts, issuer checks."""

    fingerprint: str
    facts: LazyJson = field(default_factory=lambda: LazyJson())
    issued: dict[str, bool] = field(default_factory=dict)
    units: dict[str, list[Any]] = field(default_factory=dict)  # unit -> [signature, Outputs]
    site_wide: Outputs = field(default_factory=dict)  # the outputs of no unit
    rewrite_facts: bool = True  # each journal must be written whole, not appended to
    rewrite_units: bool = True
    unit_lines: int = 0
    model: dict[str, Any] | None = None  # the site model's kept state (model.collect_model)

    @classmethod
    def load(cls, out: Path, fingerprint: str) -> SiteCache:
        """The cache in ``out`` if it was made by the same code and templates, else empty."""
        cache = cls(fingerprint)
        model = _json_file(out / MODEL_FILE)
        if isinstance(model, dict) and _has_header(model, cache._header(_MODEL_FORMAT)):
            cache.model = model.get("state") if isinstance(model.get("state"), dict) else None
        cache.rewrite_facts = _read_facts(out / FACTS_FILE, cache._header(_FACTS_FORMAT),
                                          cache.facts, cache.issued)  # fmt: skip
        data = _json_file(out / CACHE_FILE)
        if not isinstance(data, dict) or not _has_header(data, cache._header(_CACHE_FORMAT)):
            return cache
        outputs = data.get("outputs")
        if isinstance(outputs, dict):
            cache.site_wide = {p: v for p, v in outputs.items() if _is_entry(v)}
        units, cache.rewrite_units = _read_journal(out / UNITS_FILE, cache._header(_UNITS_FORMAT))
        cache.unit_lines = len(units)
        for record in units:  # a later line replaces an earlier one; [unit, null, null] ends it
            if not (isinstance(record, list) and len(record) == 3 and isinstance(record[0], str)):
                cache.rewrite_units = True
            elif record[1] is None:
                cache.units.pop(record[0], None)
            elif isinstance(record[1], str) and _are_entries(record[2]):
                cache.units[record[0]] = [record[1], record[2]]
            else:
                cache.rewrite_units = True
        return cache

    def outputs(self, besides: Mapping[str, Any] = {}) -> Outputs:
        """The previous build's outputs (path -> [key, size]), but for those of the units
        in ``besides`` (units this build reuses: it neither looks at nor removes them)."""
        outputs = dict(self.site_wide)
        for name, (_, unit_outputs) in self.units.items():
            if name not in besides:
                outputs.update(unit_outputs)
        return outputs

    def _header(self, format: str) -> dict[str, str]:
        return {"format": format, "fingerprint": self.fingerprint}

    def save(
        self,
        out: Path,
        outputs: Outputs,
        units: dict[str, list[Any]],
        *,
        new_facts: list[str],
        new_issued: list[str],
        model: Mapping[str, Any] | None,
    ) -> None:
        """Write what this build changed: the outputs of no unit, the units planned
        again or gone (appended to their journal), the facts and issuer checks learnt
        (``new_facts``, ``new_issued``: their keys, appended to theirs) and the site
        model's state (``model``) if there is one to keep and the log grew."""
        if model is not None and (self.model is None
                                  or self.model.get("leaves") != model.get("leaves")):  # fmt: skip
            data = {**self._header(_MODEL_FORMAT), "state": model}
            atomic_write(out / MODEL_FILE, _dumps(data).encode())
        facts = [["facts", sha, self.facts.get(sha)] for sha in new_facts]
        facts += [["issued", key, self.issued[key]] for key in new_issued]
        if self.rewrite_facts:
            facts = [*(["facts", k, v] for k, v in sorted(self.facts.items())),
                     *(["issued", k, v] for k, v in sorted(self.issued.items()))]  # fmt: skip
        _write_journal(out / FACTS_FILE, self._header(_FACTS_FORMAT), facts,
                       whole=self.rewrite_facts)  # fmt: skip
        self.rewrite_facts = False

        whole: dict[str, list[Any]] = {}
        changed: list[list[Any]] = []
        in_units: set[str] = set()  # outputs of units planned this build
        for name, (signature, value) in units.items():
            if isinstance(value, dict):  # reused: its outputs as they were
                entry = value
            else:  # planned: its paths, keyed in ``outputs``
                entry = {p: outputs[p] for p in value}
                in_units.update(value)
            whole[name] = [signature, entry]
            if self.units.get(name) != whole[name]:
                changed.append([name, signature, entry])
        changed += [[name, None, None] for name in self.units if name not in units]
        if self.rewrite_units or self.unit_lines + len(changed) > 2 * len(whole) + 1024:
            records = [[name, *whole[name]] for name in sorted(whole)]
            _write_journal(out / UNITS_FILE, self._header(_UNITS_FORMAT), records, whole=True)
        else:
            _write_journal(out / UNITS_FILE, self._header(_UNITS_FORMAT), changed, whole=False)
        # ``outputs`` are those this build planned (reused units' are in ``units`` only)
        site_wide = {p: v for p, v in outputs.items() if p not in in_units}
        if site_wide != self.site_wide or not (out / CACHE_FILE).is_file():
            data = {**self._header(_CACHE_FORMAT), "outputs": site_wide}
            atomic_write(out / CACHE_FILE, _dumps(data).encode())

    @staticmethod
    def paths(out: Path) -> list[str]:
        """Every output the cache in ``out`` lists, sorted (whatever made it)."""
        data = json.loads((out / CACHE_FILE).read_text(encoding="utf-8"))
        fingerprint = data["fingerprint"]
        return sorted(SiteCache.load(out, fingerprint).outputs())


def _json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _has_header(data: dict[str, Any], header: dict[str, str]) -> bool:
    return all(data.get(k) == v for k, v in header.items())


def _journal_body(path: Path, header: dict[str, str]) -> str | None:
    """The lines of a journal after its header line; None if it is missing or has
    another header."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, ValueError):
        return None
    head, newline, body = text.partition("\n")
    return body if newline and _json_line(head) == header else None


def _read_journal(path: Path, header: dict[str, str]) -> tuple[list[Any], bool]:
    """The records of a journal (a header line, then one JSON value a line), and whether
    it must be rewritten whole: missing, another header, or a line that does not parse
    (a build killed mid-append) — its records are then those that do."""
    body = _journal_body(path, header)
    if body is None:
        return [], True
    count = body.count("\n")
    if body.endswith("\n") or not body:  # one parse of the whole file, no copy per line
        records = _json_line("[" + body[:-1].replace("\n", ",") + "]")
        if isinstance(records, list) and len(records) == count:
            return records, False
    parsed = [_json_line(line) for line in body.split("\n")]  # a damaged line: line by line
    return [r for r in parsed if r is not None], True


_FACTS_LINE = '["facts","'
_SHA_END = len(_FACTS_LINE) + 64
_ISSUED_LINE = '["issued","'
_ISSUED_ENDS = ('",true]', '",false]')


def _read_facts(path: Path, header: dict[str, str], facts: LazyJson,
                issued: dict[str, bool]) -> bool:  # fmt: skip
    """Read the facts journal into ``facts`` (undecoded) and ``issued``; return whether
    it must be rewritten whole (see :func:`_read_journal`).

    Lines are split, not parsed, as this module writes them: ``["facts","<sha256>",{...}]``
    (the value is decoded when first asked for) and ``["issued","<key>",true|false]``.
    Any other line has the journal rewritten.
    """
    body = _journal_body(path, header)
    if body is None:
        return True
    rewrite = not body.endswith("\n") and bool(body)
    for line in body.split("\n"):
        if line.startswith(_FACTS_LINE) and line[_SHA_END : _SHA_END + 2] == '",' and (
            line.endswith("}]")
        ):
            facts.add_text(line[len(_FACTS_LINE) : _SHA_END], line[_SHA_END + 2 : -1])
            continue
        if line.startswith(_ISSUED_LINE) and line.endswith(_ISSUED_ENDS):
            key, _, verdict = line[len(_ISSUED_LINE) : -1].rpartition('",')
            if '"' not in key and "\\" not in key:
                issued[key] = verdict == "true"
                continue
        if line:
            rewrite = True
    return rewrite


class LazyJson:
    """JSON values by key, kept as the text read from a journal until first asked for.

    A text that does not decode (a damaged line) reads as missing: the build makes
    the value again, and the journal gains a line for it.
    """

    def __init__(self) -> None:
        self._texts: dict[str, str] = {}
        self._values: dict[str, Any] = {}

    def add_text(self, key: str, text: str) -> None:
        """Record the JSON ``text`` of ``key`` (replacing any value it had)."""
        self._values.pop(key, None)
        self._texts[key] = text

    def get(self, key: str) -> Any:
        if key in self._values:
            return self._values[key]
        text = self._texts.pop(key, None)
        if text is None:
            return None
        value = self._values[key] = _json_line(text)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        self._texts.pop(key, None)
        self._values[key] = value

    def __len__(self) -> int:
        return len(self._texts.keys() | self._values.keys())

    def items(self) -> list[tuple[str, Any]]:
        """Every key and its decoded value (those that do not decode left out)."""
        for key in list(self._texts):
            self.get(key)
        return [(k, v) for k, v in self._values.items() if v is not None]


def _write_journal(path: Path, header: dict[str, str], records: list[Any], *, whole: bool) -> None:
    text = "".join(f"{_dumps(r)}\n" for r in records)
    if whole:
        atomic_write(path, f"{_dumps(header)}\n{text}".encode())
    elif text:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(text)


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


def _are_entries(value: Any) -> bool:
    """A unit's outputs: a path -> [key, size] map. (Its entries are only ever compared
    with a new [key, size], so a damaged one just has its file made again.)"""
    return isinstance(value, dict)


def output_key(*parts: str) -> str:
    """The SHA-256 (hex) of ``parts`` joined by NUL: how output keys, unit signatures
    and epochs are made from their descriptions."""
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


@dataclass
class PlanMemo:
    """The previous build's plan units, and which of them this build reuses.

    A unit (``item:<path>``, ``family:<family>``, ``entries:<n>``, ``note:<kind>:<id>``)
    is reused when its signature — a description of everything its outputs are made
    from, under ``key`` (code, templates, origin, base URL and log key) — is the one
    recorded.
    """

    key: str
    previous: dict[str, list[Any]] = field(default_factory=dict)  # unit -> [signature, Outputs]
    units: dict[str, list[Any]] = field(default_factory=dict)  # this build's units
    reused: dict[str, Outputs] = field(default_factory=dict)  # unit -> its outputs, as they were

    def signature(self, description: str) -> str:
        """The digest recorded for a unit described by ``description``."""
        return output_key(self.key, description)

    def reuse(self, unit: str, signature: str) -> bool:
        """Whether the previous build's outputs of ``unit`` can be taken as they are (then
        they are in :attr:`reused`)."""
        before = self.previous.get(unit)
        if before is None or before[0] != signature:
            return False
        self.reused[unit] = before[1]
        self.units[unit] = before
        return True

    @property
    def reused_files(self) -> int:
        """How many outputs the reused units hold."""
        return sum(map(len, self.reused.values()))

    def record(self, unit: str, signature: str, paths: list[str]) -> None:
        """Remember the outputs this build planned for ``unit`` (their keys come later)."""
        self.units[unit] = [signature, paths]


_NEW_FILE = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0)


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
    folders: set[str] = field(default_factory=set)  # known to exist
    made: set[str] = field(default_factory=set)  # made by this writer: only its files in them

    def emit(self, path: str, key: str, make: Callable[[], bytes]) -> None:
        """Make and write the output at ``path`` unless its key and file are as before."""
        target = os.path.join(self.out, path)
        before = self.previous.get(path)
        folder = os.path.dirname(target)
        size: int | None = None
        # In a folder this writer made (or one not made yet in such a folder) nothing is
        # there to look at: each path is written once.
        if folder not in self.made and (
            folder in self.folders or os.path.dirname(folder) not in self.made
        ):  # fmt: skip
            with contextlib.suppress(FileNotFoundError):
                size = os.stat(target).st_size
        if before is not None and before == [key, size]:
            self.current[path] = before
            self.skipped += 1
            return
        data = make()
        self.current[path] = [key, len(data)]
        if size is None:  # a new file: no old bytes to keep whole
            if folder not in self.folders:
                self._folder(folder)
            fd = os.open(target, _NEW_FILE, 0o644)  # os.open: no buffered file object
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
            finally:
                os.close(fd)
        elif size == len(data) and Path(target).read_bytes() == data:
            self.unchanged += 1
            return
        else:
            atomic_write(Path(target), data)
        self.written += 1

    def _folder(self, folder: str) -> None:
        """Make ``folder`` (and its parents) unless this writer already has."""
        parent = os.path.dirname(folder)
        if parent not in self.folders and not os.path.isdir(parent):
            self._folder(parent)
        try:
            os.mkdir(folder)
            self.made.add(folder)
        except FileExistsError:
            if not os.path.isdir(folder):
                raise
        self.folders.add(folder)
        self.folders.add(parent)

    def remove_stale(self) -> None:
        """Delete files a previous build wrote that are no longer outputs."""
        current = self.current
        for path in sorted(p for p in self.previous if p not in current):
            target = self.out / path
            if target.is_file():
                target.unlink()
                self.removed += 1
                parent = target.parent
                while parent != self.out and not any(parent.iterdir()):
                    parent.rmdir()
                    parent = parent.parent
